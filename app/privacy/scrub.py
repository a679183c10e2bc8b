"""Take a person's name out of free text that stays after they are erased (what others wrote to
or about them). Pure: no I/O.

The whole name goes whatever its case. Each part of it goes where it is written as a name
(capitalised, or in capitals), so that "Will Rose" leaves "I will bring a rose" alone."""

from __future__ import annotations

import re
from dataclasses import dataclass

REPLACEMENT = "[a former member]"
SHORTEST_PART = 2


@dataclass(frozen=True)
class NamePattern:
    whole: re.Pattern[str]
    parts: re.Pattern[str] | None

    def sub(self, replacement: str, text: str) -> str:
        text = self.whole.sub(replacement, text)
        return self.parts.sub(replacement, text) if self.parts is not None else text


def _words(alternatives: list[str]) -> str:
    return r"(?<!\w)(?:" + "|".join(re.escape(word) for word in alternatives) + r")(?!\w)"


def name_pattern(name: str) -> NamePattern | None:
    name = " ".join(name.split())
    parts = [part for part in re.split(r"[\s,]+", name) if len(part) >= SHORTEST_PART]
    if not name or not parts:
        return None
    whole = re.compile(_words([name]), re.IGNORECASE)
    written_as_names = sorted({form for part in parts for form in (part[0].upper() + part[1:], part.upper())}, key=len, reverse=True)
    return NamePattern(whole, re.compile(_words(written_as_names)))


def name_parts(name: str) -> list[str]:
    """The parts worth looking for in the database (case-insensitively), longest first."""
    return sorted({part for part in re.split(r"[\s,]+", " ".join(name.split())) if len(part) >= SHORTEST_PART}, key=len, reverse=True)


def scrub(text: str | None, pattern: NamePattern | None) -> str | None:
    if text is None or pattern is None:
        return text
    return pattern.sub(REPLACEMENT, text)
