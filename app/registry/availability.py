"""Weekly availability: 21 slots (seven days by morning, afternoon and evening) as a bitmask.

People think in words ("Tuesday mornings"); code thinks in bits. Bit = day * 3 + part.
"""

from __future__ import annotations

from collections.abc import Iterable

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PARTS = ("am", "pm", "eve")
DAY_NAMES = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
PART_NAMES = {"am": "morning", "pm": "afternoon", "eve": "evening"}
SLOTS = tuple(f"{day}-{part}" for day in DAYS for part in PARTS)
SLOT_BITS = {slot: 1 << index for index, slot in enumerate(SLOTS)}
ALL_SLOTS_MASK = (1 << len(SLOTS)) - 1


class InvalidSlot(ValueError):
    pass


def to_mask(slots: Iterable[str]) -> int:
    """Slot codes to a bitmask; unknown codes are refused, duplicates are harmless."""
    mask = 0
    for raw in slots:
        slot = raw.strip().lower() if isinstance(raw, str) else raw
        if slot not in SLOT_BITS:
            raise InvalidSlot(f"'{str(raw)[:20]}' is not a time of the week we know, like mon-am or sat-eve")
        mask |= SLOT_BITS[slot]
    return mask


def from_mask(mask: int) -> list[str]:
    """A bitmask to slot codes, in week order."""
    if not 0 <= mask <= ALL_SLOTS_MASK:
        raise InvalidSlot("availability must be between 0 and 2^21 - 1")
    return [slot for slot in SLOTS if mask & SLOT_BITS[slot]]


def slot_label(slot: str) -> str:
    day, part = slot.split("-")
    return f"{DAY_NAMES[day]} {PART_NAMES[part]}"


def describe(mask: int) -> str:
    """In words: 'Tuesday mornings and Saturday afternoons'; 'any time'; 'no times chosen yet'."""
    slots = from_mask(mask)
    if not slots:
        return "no times chosen yet"
    if mask == ALL_SLOTS_MASK:
        return "any time"
    phrases = []
    for day in DAYS:
        parts = [part for part in PARTS if f"{day}-{part}" in slots]
        if len(parts) == 3:
            phrases.append(f"all day {DAY_NAMES[day]}")
        elif parts:
            phrases.append(f"{DAY_NAMES[day]} " + " and ".join(PART_NAMES[p] + "s" for p in parts))
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def grid_rows(mask: int) -> list[dict]:
    """Rows for the checkbox grid: one per day, each with its three slots."""
    chosen = set(from_mask(mask))
    return [
        {
            "day": day,
            "day_name": DAY_NAMES[day],
            "slots": [
                {"code": f"{day}-{part}", "label": PART_NAMES[part].capitalize(), "checked": f"{day}-{part}" in chosen}
                for part in PARTS
            ],
        }
        for day in DAYS
    ]
