"""Disclosure control, by example and by property (hypothesis): nothing published lies in 1-7,
everything published is a multiple of 5, and no hidden cell can be worked out from its lines."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.reports import disclosure as d

# Mostly small numbers, where the rules bite, with some large ones.
counts = st.one_of(st.integers(0, 12), st.integers(0, 400))


@st.composite
def tables(draw, *, max_rows=7, max_columns=5):
    rows = draw(st.integers(1, max_rows))
    columns = draw(st.integers(1, max_columns))
    cells = [[draw(counts) for _ in range(columns)] for _ in range(rows)]
    shape = draw(st.sampled_from(["two_way", "columns_only", "rows_only"]))
    return cells, shape


def _protect(cells, shape):
    rows, columns = len(cells), len(cells[0])
    row_totals = [sum(row) for row in cells] if shape in ("two_way", "rows_only") else None
    column_totals = (
        [sum(cells[i][j] for i in range(rows)) for j in range(columns)]
        if shape in ("two_way", "columns_only")
        else None
    )
    grand = sum(map(sum, cells))
    return (
        d.protect(cells, row_totals=row_totals, column_totals=column_totals, grand_total=grand),
        row_totals,
        column_totals,
        grand,
    )


def _published(result):
    values = [v for row in result.cells for v in row]
    values += result.row_totals or []
    values += result.column_totals or []
    values.append(result.grand_total)
    return values


def _hidden(result) -> set[tuple[int, int]]:
    rows = len(result.cells)
    columns = len(result.cells[0])
    hidden = {(i, j) for i in range(rows) for j in range(columns) if result.cells[i][j] is None}
    if result.row_totals is not None:
        hidden |= {(i, columns) for i in range(rows) if result.row_totals[i] is None}
    if result.column_totals is not None:
        hidden |= {(rows, j) for j in range(columns) if result.column_totals[j] is None}
    if result.grand_total is None:
        hidden.add((rows, columns))
    return hidden


@settings(max_examples=400, deadline=None)
@given(tables())
def test_nothing_published_lies_in_one_to_seven_and_every_count_is_a_multiple_of_five(table):
    cells, shape = table
    result, *_ = _protect(cells, shape)
    for value in _published(result):
        assert value is None or (value % 5 == 0 and not 1 <= value <= 7)


@settings(max_examples=400, deadline=None)
@given(tables())
def test_no_hidden_cell_can_be_worked_out_from_its_row_column_and_total(table):
    cells, shape = table
    result, row_totals, column_totals, _ = _protect(cells, shape)
    rows, columns = len(cells), len(cells[0])
    lines = d.lines_of(
        rows,
        columns,
        row_totals=row_totals is not None,
        column_totals=column_totals is not None,
        grand_total=True,
    )
    hidden = _hidden(result)
    for line in lines:
        assert sum(cell in hidden for cell in line) != 1, (
            "a line with one hidden cell gives it away"
        )
    assert d.recoverable(lines, hidden) == set()


@settings(max_examples=300, deadline=None)
@given(tables())
def test_zero_stays_zero_small_counts_are_hidden_and_the_rest_are_rounded_from_the_exact_figure(
    table,
):
    cells, shape = table
    result, _row_totals, _column_totals, grand = _protect(cells, shape)
    for i, row in enumerate(cells):
        for j, raw in enumerate(row):
            shown = result.cells[i][j]
            if raw == 0:
                assert shown == 0
            elif raw <= 7:
                assert shown is None
            elif shown is not None:
                assert shown == d.round_count(raw) and abs(shown - raw) <= 2
    if result.grand_total is not None:
        assert result.grand_total == d.round_count(
            grand
        )  # from the exact total, not the rounded rows


@settings(max_examples=200, deadline=None)
@given(st.lists(counts, min_size=1, max_size=30))
def test_a_column_with_its_total(values):
    shown, total, hidden = d.protect_column(values, sum(values))
    published = [*shown, total]
    assert all(v is None or (v % 5 == 0 and not 1 <= v <= 7) for v in published)
    assert sum(v is None for v in published) != 1
    assert hidden == sum(v is None for v in published)


def test_one_small_cell_takes_the_next_smallest_with_it():
    shown, total, hidden = d.protect_column([3, 20, 30, 0], 53)
    assert shown == [None, None, 30, 0]
    assert total == 55
    assert hidden == 2


def test_a_small_total_is_hidden_and_the_line_stays_safe():
    shown, total, _ = d.protect_column([2, 0, 3], 5)
    assert total is None
    assert shown == [None, 0, None]


def test_a_two_way_table_hides_a_rectangle_not_a_lone_cell():
    cells = [[3, 40], [50, 60]]
    result = d.protect(cells, row_totals=[43, 110], column_totals=[53, 100], grand_total=153)
    assert result.cells[0][0] is None
    hidden = _hidden(result)
    assert (
        d.recoverable(
            d.lines_of(2, 2, row_totals=True, column_totals=True, grand_total=True), hidden
        )
        == set()
    )


def test_rounding():
    assert [d.round_count(n) for n in (0, 8, 9, 10, 12, 13, 17, 18, 102)] == [
        0,
        10,
        10,
        10,
        10,
        15,
        15,
        20,
        100,
    ]
    assert d.publish_count(7) is None and d.publish_count(0) == 0 and d.publish_count(8) == 10
    with pytest.raises(ValueError):
        d.round_count(-1)


def test_also_suppress_hides_a_figure_that_stands_on_few_people():
    # 40 hours given by 2 matches: the hours are hidden even though 40 is not small.
    shown, _total, _ = d.protect_column([40, 300, 500], 840, also_suppress=[0])
    assert shown[0] is None and shown.count(None) == 2


def test_medians_and_averages_need_ten_people():
    assert d.median_or_none([1] * 9) is None
    assert d.median_or_none([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) == 5.5
    assert d.mean_or_none(list(range(9))) is None
    assert d.mean_or_none(list(range(10))) == 4.5


def test_small_wards_are_folded_into_other_wards():
    groups = d.ward_groups({"E05000001": 120, "E05000002": 9, "E05000003": 10, "E05000004": 0})
    assert groups == {
        "E05000001": "E05000001",
        "E05000002": d.OTHER_WARDS,
        "E05000003": "E05000003",
        "E05000004": d.OTHER_WARDS,
    }
