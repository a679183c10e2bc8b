"""The object-level check for matches: a match belongs to the two people whose offer and help
request it joins. Anyone else (and a match that does not exist) gets the same 404, and the
refused attempt is recorded in the audit trail."""

from dataclasses import dataclass

from fastapi import Request
from sqlmodel import Session

from app.accounts.dependencies import Actor
from app.accounts.models import Role
from app.core.errors import FieldError, InvalidInput, NotFound
from app.core.i18n import N_
from app.matching import service
from app.matching.models import Match, MatchSide
from app.privacy.audit import AuditAction, AuditOutcome
from app.registry import service as registry
from app.registry.dependencies import audit, is_self, may_act_for


@dataclass
class MatchAccess:
    match: Match
    side: MatchSide  # the side the actor acts for
    sides: service.Sides

    @property
    def subject(self):
        return self.sides.person(self.side)


def load_match(
    request: Request, db: Session, actor: Actor, match_id: int, action: AuditAction = AuditAction.viewed,
    on_behalf_of: MatchSide | None = None,
) -> MatchAccess:  # fmt: skip
    """The match and the side the actor acts for: their own, or (a linker) the side of a person on
    their caseload; `on_behalf_of` chooses when they may act for both, and must be one they may."""
    match = db.get(Match, match_id)
    if match is None:
        raise NotFound()
    sides = service.sides_of(db, match)
    allowed = [side for side in MatchSide if may_act_for(request, db, actor, sides.person(side).id)]
    if not allowed:
        audit(request, actor, sides.request_person, action, AuditOutcome.refused)
        raise NotFound()
    if on_behalf_of is not None and on_behalf_of not in allowed:
        audit(request, actor, sides.person(on_behalf_of), action, AuditOutcome.refused)
        raise InvalidInput(FieldError("on_behalf_of", N_("You can only answer for a person on your caseload")))
    side = on_behalf_of or allowed[0]
    person = sides.person(side)
    if not is_self(actor, person):
        audit(request, actor, person, action, AuditOutcome.allowed)
    return MatchAccess(match, side, sides)


def broker_of(actor: Actor) -> int | None:
    """A linker acting on a match is named as its broker (if nobody was before)."""
    return actor.account_id if actor.role is Role.linker else None


def side_for_pair(request: Request, db: Session, actor: Actor, *, offer_id: int, request_id: int) -> MatchSide:
    """Which side of a pair the actor asks for: their offer's, or their help request's. A pair
    with neither (or an item that does not exist) is 404, like any id that is not theirs."""
    offer = registry.find_item(db, kind=registry.OFFER, item_id=offer_id)
    help_request = registry.find_item(db, kind=registry.REQUEST, item_id=request_id)
    if offer is not None and help_request is not None:
        if may_act_for(request, db, actor, offer.person_id):
            return MatchSide.offer
        if may_act_for(request, db, actor, help_request.person_id):
            return MatchSide.request
    raise NotFound()
