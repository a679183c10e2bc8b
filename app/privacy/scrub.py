"""Take a person's name out of free text that stays after they are erased (what others wrote to
or about them). Pure: no I/O."""

from __future__ import annotations

import re

REPLACEMENT = "[a former member]"
# Parts shorter than this are too likely to be ordinary words ("Al", "Jo" would still go whole).
SHORTEST_PART = 2


def name_pattern(name: str) -> re.Pattern[str] | None:
    """Whole words of the name: the full name first, then each part (first name, surname)."""
    parts = [part for part in re.split(r"[\s,]+", name.strip()) if len(part) >= SHORTEST_PART]
    if not parts:
        return None
    wanted = sorted({name.strip(), *parts}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(word) for word in wanted) + r")(?!\w)", re.IGNORECASE)


def scrub(text: str | None, pattern: re.Pattern[str] | None) -> str | None:
    if text is None or pattern is None:
        return text
    return pattern.sub(REPLACEMENT, text)
