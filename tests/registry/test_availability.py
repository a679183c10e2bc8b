"""The availability parser: slot codes in words and bits, checked by properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.registry.availability import ALL_SLOTS_MASK, SLOTS, InvalidSlot, describe, from_mask, to_mask

slot = st.sampled_from(SLOTS)


@given(st.lists(slot))
def test_round_trip_keeps_every_slot_once_in_week_order(slots):
    mask = to_mask(slots)
    assert from_mask(mask) == [s for s in SLOTS if s in set(slots)]
    assert to_mask(from_mask(mask)) == mask


@given(st.integers(min_value=0, max_value=ALL_SLOTS_MASK))
def test_every_mask_is_21_bits_and_described_in_words(mask):
    assert to_mask(from_mask(mask)) == mask
    words = describe(mask)
    assert words and "-" not in words  # never a code like mon-am


@given(st.lists(slot), st.sampled_from(["", " ", "  "]))
def test_case_and_spaces_do_not_matter(slots, pad):
    assert to_mask([pad + s.upper() + pad for s in slots]) == to_mask(slots)


@given(st.text(max_size=30).filter(lambda t: t.strip().lower() not in SLOTS))
def test_anything_else_is_refused_with_a_message(text):
    with pytest.raises(InvalidSlot) as problem:
        to_mask([text])
    assert str(problem.value)


@pytest.mark.parametrize("mask", [-1, ALL_SLOTS_MASK + 1])
def test_out_of_range_masks_are_refused(mask):
    with pytest.raises(InvalidSlot):
        from_mask(mask)


def test_descriptions_read_naturally():
    assert describe(to_mask(["tue-am"])) == "Tuesday mornings"
    assert describe(to_mask(["mon-am", "mon-pm", "mon-eve"])) == "all day Monday"
    assert describe(to_mask(["tue-am", "sat-pm"])) == "Tuesday mornings and Saturday afternoons"
    assert describe(0) == "no times chosen yet"
    assert describe(ALL_SLOTS_MASK) == "any time"
