"""UK postcodes: the format is checked and written one way; anything else is refused politely."""

from __future__ import annotations

import time

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from app.registry.postcodes import (
    CANONICAL_POSTCODE_RE,
    MAX_INPUT_LENGTH,
    InvalidPostcode,
    is_valid_postcode,
    normalise_postcode,
)

LETTERS = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
DIGITS = st.sampled_from("0123456789")

# The outward-code shapes of the UK format: A = letter, 9 = digit.
OUTWARD_SHAPES = ("A9", "A99", "A9A", "AA9", "AA99", "AA9A")


def _from_shape(shape: str) -> st.SearchStrategy[str]:
    return st.tuples(*(LETTERS if c == "A" else DIGITS for c in shape)).map("".join)


outward_codes = st.sampled_from(OUTWARD_SHAPES).flatmap(_from_shape)
inward_codes = _from_shape("9AA")
canonical_postcodes = st.one_of(
    st.tuples(outward_codes, inward_codes).map(" ".join),
    st.just("GIR 0AA"),
)


@st.composite
def typed_postcodes(draw) -> tuple[str, str]:
    """(what someone might type, the canonical form): any case, any spacing."""
    canonical = draw(canonical_postcodes)
    compact = canonical.replace(" ", "")
    spaces = st.text(alphabet=" ", max_size=2)
    typed = draw(spaces)
    for character in compact:
        typed += draw(st.sampled_from([character.lower(), character.upper()])) + draw(spaces)
    return typed, canonical


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("ab101ab", "AB10 1AB"),
        (" Ab10  1ab ", "AB10 1AB"),
        ("AB10 1AB", "AB10 1AB"),
        ("sw1a1aa", "SW1A 1AA"),
        ("SW1A 1AA", "SW1A 1AA"),
        ("w1a 0ax", "W1A 0AX"),
        ("m11ae", "M1 1AE"),
        ("B1  1AA", "B1 1AA"),  # ONSPD's fixed-width `pcd` form
        ("cr26xh", "CR2 6XH"),
        ("dn55 1pt", "DN55 1PT"),
        ("EC1A1BB", "EC1A 1BB"),
        ("cf10\t1ep", "CF10 1EP"),
        ("gir0aa", "GIR 0AA"),
        ("GIR 0AA", "GIR 0AA"),
    ],
)
def test_real_postcodes_are_written_one_way(typed, canonical):
    assert normalise_postcode(typed) == canonical
    assert is_valid_postcode(typed)


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "AB10",
        "1AB",
        "AB10 1A",
        "AB10 1ABC",
        "A1AA",
        "AAA1 1AA",
        "AB1A1 1AA",
        "1B10 1AB",
        "AB10 AAB",
        "AB10 11B",
        "SW1A-1AA",
        "SW1A_1AA",
        "AB10 1AB extra",
        "<script>",
        "GIR 0AB",
        "ＡＢ10 1ＡＢ",  # full-width letters
        "ſW1A 1AA",  # "ſ".upper() is "S": refused all the same
        "AB10 1AB\x00",
        "A" * 10_000,
    ],
)
def test_anything_else_is_refused_with_a_plain_message(typed):
    with pytest.raises(InvalidPostcode) as refused:
        normalise_postcode(typed)
    assert str(refused.value) == "Enter a real postcode, like AB10 1AB"
    assert isinstance(refused.value, ValueError)
    assert not is_valid_postcode(typed)


@pytest.mark.parametrize("value", [None, 12345, b"AB10 1AB", ["AB10 1AB"]])
def test_non_text_is_refused_the_same_way(value):
    with pytest.raises(InvalidPostcode):
        normalise_postcode(value)


def test_overlong_input_is_refused_quickly():
    huge = " " * 5_000_000 + "AB10 1AB"
    started = time.perf_counter()
    with pytest.raises(InvalidPostcode):
        normalise_postcode(huge)
    assert time.perf_counter() - started < 0.01
    assert not is_valid_postcode("AB10 1AB" + " " * MAX_INPUT_LENGTH)


@given(typed_postcodes())
@example(("ab101ab", "AB10 1AB"))
@example((" gIr0aA ", "GIR 0AA"))
def test_every_valid_postcode_in_any_case_and_spacing_normalises_to_its_canonical_form(pair):
    typed, canonical = pair
    assert normalise_postcode(typed) == canonical
    assert normalise_postcode(canonical) == canonical


@given(canonical_postcodes)
def test_normalising_is_idempotent(postcode):
    once = normalise_postcode(postcode.lower())
    assert normalise_postcode(once) == once
    assert normalise_postcode(once.replace(" ", "")) == once


def _check_any_text(text: str) -> None:
    try:
        result = normalise_postcode(text)
    except InvalidPostcode:
        return
    assert CANONICAL_POSTCODE_RE.fullmatch(result)
    outward, inward = result.split(" ")
    assert result.count(" ") == 1 and len(inward) == 3 and 2 <= len(outward) <= 4
    assert result == result.upper() and result.isascii()
    assert normalise_postcode(result) == result


@given(st.text(max_size=60))
def test_random_text_only_ever_raises_invalid_postcode(text):
    _check_any_text(text)


@given(st.text(alphabet="abcgirxyzABXYZ0123456789 \t", max_size=12))
def test_postcode_like_text_is_either_refused_or_canonical(text):
    # Near misses: the right alphabet, often the right length, frequently valid.
    _check_any_text(text)


@given(canonical_postcodes)
def test_canonical_output_has_one_space_before_a_three_character_inward_code(postcode):
    result = normalise_postcode(postcode.replace(" ", ""))
    assert CANONICAL_POSTCODE_RE.fullmatch(result)
    assert result[-4] == " " and result.count(" ") == 1
    assert result[-3].isdigit() and result[-2:].isalpha()
    assert len(result) <= 8  # fits postcode columns (VARCHAR(8))
