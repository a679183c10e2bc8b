"""The four ONS personal wellbeing questions ("ONS4"), their bands, and when to ask them. Pure.

The questions and bands are the Office for National Statistics' own (Personal well-being user
guidance), so that a council can set its figures beside the national ones. Each is answered on a
scale from 0 ("not at all") to 10 ("completely").
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from app.core.errors import FieldError, InvalidInput
from app.core.i18n import N_
from app.core.validation import Plain, parse
from app.matching.models import MatchStatus, WellbeingStage

MEASURES = ("life_satisfaction", "worthwhile", "happiness", "anxiety")
QUESTIONS = {
    "life_satisfaction": N_("Overall, how satisfied are you with your life nowadays?"),
    "worthwhile": N_(
        "Overall, to what extent do you feel that the things you do in your life are worthwhile?"
    ),
    "happiness": N_("Overall, how happy did you feel yesterday?"),
    "anxiety": N_("Overall, how anxious did you feel yesterday?"),
}
MEASURE_NAMES = {
    "life_satisfaction": N_("Life satisfaction"),
    "worthwhile": N_("Feeling that what you do is worthwhile"),
    "happiness": N_("Happiness"),
    "anxiety": N_("Anxiety"),
}
LOWEST, HIGHEST = 0, 10
MISSING = {
    "life_satisfaction": N_(
        "Choose a number from 0 to 10 for how satisfied you are with your life"
    ),
    "worthwhile": N_("Choose a number from 0 to 10 for how worthwhile the things you do feel"),
    "happiness": N_("Choose a number from 0 to 10 for how happy you felt yesterday"),
    "anxiety": N_("Choose a number from 0 to 10 for how anxious you felt yesterday"),
}


# The ONS thresholds: (band, lowest score in it). For anxiety a lower score is better.
_POSITIVE_BANDS = (("low", 0), ("medium", 5), ("high", 7), ("very_high", 9))
_ANXIETY_BANDS = (("very_low", 0), ("low", 2), ("medium", 4), ("high", 6))
BAND_NAMES = {
    "very_low": N_("Very low"),
    "low": N_("Low"),
    "medium": N_("Medium"),
    "high": N_("High"),
    "very_high": N_("Very high"),
}
BETTER_WHEN_LOWER = frozenset({"anxiety"})
# Where a match's "before" can still be asked: the match is under way, not yet completed.
_BEFORE_STATUSES = (MatchStatus.proposed, MatchStatus.accepted, MatchStatus.active)


def bands(measure: str) -> tuple[str, ...]:
    table = _ANXIETY_BANDS if measure == "anxiety" else _POSITIVE_BANDS
    return tuple(name for name, _lowest in table)


def band_ranges(measure: str) -> tuple[str, ...]:
    """Each band's scores, as the ONS writes them ("0–4", "5–6", ... "9–10")."""
    table = _ANXIETY_BANDS if measure == "anxiety" else _POSITIVE_BANDS
    tops = [lowest - 1 for _name, lowest in table[1:]] + [HIGHEST]
    return tuple(f"{lowest}–{top}" for (_name, lowest), top in zip(table, tops, strict=True))


def band(measure: str, score: int) -> str:
    if not LOWEST <= score <= HIGHEST:
        raise ValueError("a wellbeing score is from 0 to 10")
    table = _ANXIETY_BANDS if measure == "anxiety" else _POSITIVE_BANDS
    return [name for name, lowest in table if score >= lowest][-1]


def stage_due(
    *,
    match_status: MatchStatus,
    has_starting_point: bool,
    has_completed_match: bool,
    answered_after_this_match: bool,
) -> WellbeingStage | None:
    """Which answers a person may give on this match page now, if any.

    "Before" is their starting point, asked once, while their first match is under way; "after"
    is asked once for each completed match. Both are optional, and asked only on the match page."""
    if match_status is MatchStatus.completed:
        return None if answered_after_this_match else WellbeingStage.after
    if match_status in _BEFORE_STATUSES and not has_starting_point and not has_completed_match:
        return WellbeingStage.before
    return None


class WellbeingAnswers(BaseModel):
    """The four answers, each a whole number from 0 to 10 (all four, or none: ONS4 is a set)."""

    model_config = ConfigDict(extra="forbid")

    life_satisfaction: int
    worthwhile: int
    happiness: int
    anxiety: int

    @field_validator(*MEASURES, mode="before")
    @classmethod
    def _score(cls, value: object, info: ValidationInfo) -> int:
        text = "" if value is None else str(value).strip()
        if not (text.isascii() and text.isdigit()) or not LOWEST <= int(text) <= HIGHEST:
            raise Plain(MISSING[info.field_name])
        return int(text)


def parse_form(form) -> tuple[WellbeingStage, WellbeingAnswers]:
    """The stage and the four answers from the form (the citizen's page and a linker's)."""
    stage = form.get("stage")
    if stage not in WellbeingStage._value2member_map_:
        raise InvalidInput(FieldError("stage", N_("These questions have been answered already")))
    answers = parse(WellbeingAnswers, {measure: form.get(measure) for measure in MEASURES})
    return WellbeingStage(stage), answers


def form_context(
    stage: WellbeingStage, *, form_action: str, back_url: str, form=None, errors=None,
    side: str | None = None, for_person: str | None = None,
) -> dict:  # fmt: skip
    """What `matching/wellbeing.html` needs: the citizen's own page, or a linker asking for a
    person on their caseload (`side`, `for_person`)."""
    return {
        "stage": stage.value, "form_action": form_action, "back_url": back_url, "form": form or {},
        "errors": errors or [], "measures": MEASURES, "questions": QUESTIONS, "side": side,
        "for_person": for_person,
    }  # fmt: skip
