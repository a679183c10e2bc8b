"""UK postcodes: check the format and write them one way ("ab101ab" becomes "AB10 1AB").

Pure functions, no I/O. This checks the *shape* of a postcode (the outward code A9, A99, A9A,
AA9, AA99 or AA9A, then an inward code 9AA; plus the special "GIR 0AA"), not whether it exists:
existence is a lookup in the imported ONS Postcode Directory (`postcode_location`).
"""

from __future__ import annotations

import re

__all__ = [
    "CANONICAL_POSTCODE_RE",
    "MAX_INPUT_LENGTH",
    "InvalidPostcode",
    "is_valid_postcode",
    "normalise_postcode",
]

# Longer input than this is refused before any other work: the longest postcode is 8 characters,
# and this leaves room for generous spacing around it.
MAX_INPUT_LENGTH = 32

_OUTWARD = r"(?:[A-Z][0-9]|[A-Z][0-9]{2}|[A-Z][0-9][A-Z]|[A-Z]{2}[0-9]|[A-Z]{2}[0-9]{2}|[A-Z]{2}[0-9][A-Z])"
_INWARD = r"[0-9][A-Z]{2}"

# The compacted form (no spaces, upper case); the inward code is always the last three characters.
_COMPACT_RE = re.compile(rf"(?:{_OUTWARD}{_INWARD}|GIR0AA)", re.ASCII)

#: What `normalise_postcode` returns always matches this: outward code, one space, inward code.
CANONICAL_POSTCODE_RE = re.compile(rf"(?:{_OUTWARD} {_INWARD}|GIR 0AA)", re.ASCII)

_WHITESPACE_RE = re.compile(r"\s+")

MESSAGE = "Enter a real postcode, like AB10 1AB"


class InvalidPostcode(ValueError):
    """The text is not a UK postcode. The message is written for the person who typed it."""

    def __init__(self, message: str = MESSAGE):
        super().__init__(message)
        self.message = message


def normalise_postcode(raw: str) -> str:
    """Return the canonical form of a UK postcode ("AB10 1AB"), ignoring case and spaces.

    Raises `InvalidPostcode` for anything that is not a postcode, including non-text input.
    """
    if not isinstance(raw, str) or len(raw) > MAX_INPUT_LENGTH:
        raise InvalidPostcode()
    compact = _WHITESPACE_RE.sub("", raw)
    # ASCII only, before upper-casing: "ſ".upper() is "S", and that must not sneak through.
    if not compact.isascii() or not 5 <= len(compact) <= 7:
        raise InvalidPostcode()
    compact = compact.upper()
    if _COMPACT_RE.fullmatch(compact) is None:
        raise InvalidPostcode()
    return f"{compact[:-3]} {compact[-3:]}"


def is_valid_postcode(raw: str) -> bool:
    try:
        normalise_postcode(raw)
    except InvalidPostcode:
        return False
    return True
