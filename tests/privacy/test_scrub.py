"""Taking a name out of text others wrote: the whole name in any case, each part only where it
is written as a name."""

from app.privacy.scrub import REPLACEMENT as R
from app.privacy.scrub import name_pattern, scrub


def test_the_whole_name_goes_in_any_case_and_each_part_where_it_is_a_name():
    pattern = name_pattern("Will Rose")
    assert scrub("Thanks Will, I will bring a rose", pattern) == f"Thanks {R}, I will bring a rose"
    assert scrub("will rose said ROSE", pattern) == f"{R} said {R}"
    assert scrub("Rosemary and Willow", pattern) == "Rosemary and Willow"  # whole words only


def test_nothing_to_take_out():
    assert scrub(None, name_pattern("Ann")) is None
    assert name_pattern("   ") is None and scrub("text", None) == "text"
