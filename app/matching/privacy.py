"""Matching's part in the privacy rights: a person's matches (the other side anonymised), the
messages they wrote and their wellbeing answers, in an export; at erasure, open matches end (the
other person is told neutrally), the person's messages, reasons and wellbeing answers go, and
their name is taken out of what the other side wrote. The matches themselves stay: they are the
other person's history too, and reports count them and the hours given."""

from __future__ import annotations

from sqlalchemy import delete, exists, or_, update
from sqlmodel import Session

from app.core.plugins import DataSubject
from app.matching import service
from app.matching.models import OPEN_STATUSES, Match, MatchMessage, WellbeingAnswer
from app.matching.wellbeing import MEASURES
from app.privacy.scrub import name_pattern, scrub
from app.registry.models import HelpRequest, Offer, Person

REMOVED_MESSAGE = "This message was removed when its writer left the service."


def export(db: Session, subject: DataSubject, settings=None) -> dict:
    found = service.matches_of_person(db, person_id=subject.person_id)
    matches, messages = [], []
    for match, side in found:
        mine = match.offer_id if side.value == "offer" else match.request_id
        matches.append(
            {
                "id": match.id,
                "my_side": side.value,
                "my_item_id": mine,
                "other_person": "another member",
                "status": match.status.value,
                "explanation": match.explanation,
                "created_at": match.created_at,
                "proposed_at": match.proposed_at,
                "accepted_at": match.accepted_at,
                "completed_at": match.completed_at,
                "minutes_given": match.minutes_given,
                "my_answer": (match.offer_answer if side.value == "offer" else match.request_answer).value,
                "decline_reason": match.decline_reason.value if match.decline_reason and match.ended_by == side else None,
                "decline_note": match.decline_note if match.ended_by == side else None,
                "cancel_reason": match.cancel_reason if match.ended_by == side else None,
                "outcome": match.outcome if match.ended_by == side else None,
            }
        )
        for message in service.messages_of(db, match_id=match.id):
            if message.sender_side == side:
                messages.append({"match_id": match.id, "sent_at": message.created_at, "body": message.body})
    # Wellbeing answers go with the match they were given on (the export's keys are a contract).
    by_match = {entry["id"]: entry for entry in matches}
    for entry in matches:
        entry["my_wellbeing_answers"] = []
    for answer in service.wellbeing_answers_of(db, person_id=subject.person_id):
        if answer.match_id in by_match:
            by_match[answer.match_id]["my_wellbeing_answers"].append(
                {
                    "stage": answer.stage.value,
                    **{measure: getattr(answer, measure) for measure in MEASURES},
                    "answered_at": answer.answered_at,
                }
            )
    return {"matches": matches, "messages": messages}


def erase(db: Session, subject: DataSubject, settings=None, *, mailer=None) -> None:
    # Who wrote the reasons and outcome, read before cancelling (a cancel by the service names nobody).
    written_by = {match.id: match.ended_by for match, _side in service.matches_of_person(db, person_id=subject.person_id)}
    service.cancel_matches_of_person(db, subject.person_id, mailer=mailer)
    pattern = name_pattern(db.get(Person, subject.person_id).name)
    for match, side in service.matches_of_person(db, person_id=subject.person_id):
        db.execute(
            update(MatchMessage)
            .where(MatchMessage.match_id == match.id, MatchMessage.sender_side == side)
            .values(body=REMOVED_MESSAGE, sender_account_id=None)
        )
        for message in service.messages_of(db, match_id=match.id):
            cleaned = scrub(message.body, pattern)
            if cleaned != message.body:
                message.body = cleaned
                db.add(message)
        if written_by.get(match.id) == side:  # what they wrote when they ended or completed it
            match.decline_note = None
            match.cancel_reason = None
            match.outcome = None
        match.outcome = scrub(match.outcome, pattern)
        match.explanation = scrub(match.explanation, pattern)
        db.add(match)
    # Their wellbeing answers are theirs alone: they go (reports lose one person from each figure).
    db.execute(delete(WellbeingAnswer).where(WellbeingAnswer.person_id == subject.person_id))
    db.flush()


def open_match_rule(person_id_column, cutoff):
    """Retention: someone with a match still open is still taking part, however long ago.
    One level of EXISTS per side, so that each correlates with the person being asked about."""
    return or_(
        exists().where(Match.offer_id == Offer.id, Offer.person_id == person_id_column, Match.status.in_(OPEN_STATUSES)),
        exists().where(
            Match.request_id == HelpRequest.id, HelpRequest.person_id == person_id_column, Match.status.in_(OPEN_STATUSES)
        ),
    )
