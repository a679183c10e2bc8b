"""The words for a match's states and a decline's reasons, shared by every page that shows a match
(the citizen's own and a linker's). Marked for translation; translated where they are shown."""

from app.core.i18n import N_
from app.matching.models import DeclineReason

DECLINE_REASONS = {
    DeclineReason.not_now: N_("It is not the right time"),
    DeclineReason.too_far: N_("It is too far"),
    DeclineReason.not_needed: N_("It is not what I need"),
    DeclineReason.other: N_("Another reason"),
}
STATUS_NAMES = {
    "suggested": N_("Suggested"),
    "proposed": N_("Waiting for an answer"),
    "accepted": N_("You both said yes"),
    "active": N_("Started"),
    "completed": N_("Completed"),
    "declined": N_("Declined"),
    "cancelled": N_("Cancelled"),
}
