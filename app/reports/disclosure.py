"""Disclosure control: the one gate every published figure goes through. Pure: no I/O, no clock.

The rules (DESIGN.md, "Reports"), applied to counts of people or of things people did:
- 0 stays 0 (an empty cell tells nobody anything);
- 1 to 7 are suppressed (published as `None`: `null` in JSON, `[c]` on pages and in CSV);
- everything else is rounded to the nearest 5; totals come from the unrounded data, then are
  rounded the same way;
- where a line (a row or a column, with its total) has exactly one suppressed cell, one more is
  suppressed (the next smallest), so that subtraction from the total cannot reveal it; and, because
  two per line is not always enough in a two-way table (a cell can still be the only unknown of a
  chain of lines), suppression goes on until no suppressed cell is fixed by the lines' sums;
- medians and averages only from 10 or more people; never a minimum or a maximum;
- a ward with fewer than 10 registered people is folded into "other wards".

A table here is a grid of raw counts with, optionally, a total for each row, a total for each
column and a grand total. A line with a total is an equation an outsider could use (its cells add up
to the total, or, for counts of distinct people over months, at least bound it); a line without a
total relates nothing, so secondary suppression looks only at lines that have one.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from app.core.i18n import N_

SUPPRESS_FROM, SUPPRESS_TO = 1, 7
ROUND_TO = 5
MIN_PEOPLE_FOR_AVERAGE = 10
MIN_PEOPLE_PER_WARD = 10
OTHER_WARDS = "other"
RULE = N_(
    "Counts from 1 to 7 are not shown ([c]); other counts are rounded to the nearest 5, and totals "
    "are rounded from the exact figures, so rows may not add up to the total exactly. Where one "
    "figure in a row or column is not shown, another is hidden too, so that it cannot be worked out "
    "from the total. Medians and averages are shown only where at least 10 people stand behind them. "
    'Wards with fewer than 10 registered people are counted together as "other wards".'
)

Cell = tuple[int, int]


def is_too_small(count: int) -> bool:
    return SUPPRESS_FROM <= count <= SUPPRESS_TO


def round_count(count: int) -> int:
    """To the nearest 5, halves up (a whole number; 0 stays 0)."""
    if count < 0:
        raise ValueError("a count cannot be negative")
    return (count + ROUND_TO // 2) // ROUND_TO * ROUND_TO


def publish_count(count: int) -> int | None:
    """A lone count with nothing to subtract it from (a headline figure)."""
    return None if is_too_small(count) else round_count(count)


def median_or_none(values: Sequence[float], *, places: int = 1) -> float | None:
    """The median, only when at least 10 people stand behind it."""
    if len(values) < MIN_PEOPLE_FOR_AVERAGE:
        return None
    return round(float(statistics.median(values)), places)


def mean_or_none(values: Sequence[float], *, places: int = 1) -> float | None:
    if len(values) < MIN_PEOPLE_FOR_AVERAGE:
        return None
    return round(float(statistics.fmean(values)), places)


def ward_groups(registered_by_ward: Mapping[str, int]) -> dict[str, str]:
    """Ward code -> the ward it is reported as: itself, or "other wards" when fewer than 10 people
    are registered there."""
    return {
        ward: (ward if count >= MIN_PEOPLE_PER_WARD else OTHER_WARDS)
        for ward, count in registered_by_ward.items()
    }


@dataclass(frozen=True)
class Protected:
    """A table after disclosure control: every cell an int (a multiple of 5, or 0) or None."""

    cells: list[list[int | None]]
    row_totals: list[int | None] | None
    column_totals: list[int | None] | None
    grand_total: int | None
    suppressed_cells: int  # primary and secondary, totals included


@dataclass
class _Grid:
    """The table with its margins as one (rows+1) x (columns+1) grid; None where a total is absent."""

    values: dict[Cell, int]
    lines: list[list[Cell]]  # each line's cells, its total last
    totals: set[Cell]

    @classmethod
    def build(cls, cells, row_totals, column_totals, grand_total) -> _Grid:
        rows = len(cells)
        columns = len(cells[0]) if rows else 0
        values: dict[Cell, int] = {
            (i, j): int(cells[i][j]) for i in range(rows) for j in range(columns)
        }
        lines: list[list[Cell]] = []
        totals: set[Cell] = set()
        if row_totals is not None:
            for i in range(rows):
                values[(i, columns)] = int(row_totals[i])
                totals.add((i, columns))
                lines.append([(i, j) for j in range(columns)] + [(i, columns)])
        if column_totals is not None:
            for j in range(columns):
                values[(rows, j)] = int(column_totals[j])
                totals.add((rows, j))
                lines.append([(i, j) for i in range(rows)] + [(rows, j)])
        if grand_total is not None:
            values[(rows, columns)] = int(grand_total)
            totals.add((rows, columns))
            if column_totals is not None:
                lines.append([(rows, j) for j in range(columns)] + [(rows, columns)])
            if row_totals is not None:
                lines.append([(i, columns) for i in range(rows)] + [(rows, columns)])
        return cls(values, lines, totals)


def protect(
    cells: Sequence[Sequence[int]],
    *,
    row_totals: Sequence[int] | None = None,
    column_totals: Sequence[int] | None = None,
    grand_total: int | None = None,
    also_suppress: Iterable[Cell] = (),
) -> Protected:
    """Apply the rules to a table of raw counts. `also_suppress` adds primary suppressions the
    counts themselves do not show (hours given by fewer than 8 matches, say); a cell there is given
    as (row, column), and a total as (row, len(columns)) or (len(rows), column)."""
    for value in [*(v for row in cells for v in row), *(row_totals or ()), *(column_totals or ())]:
        if value < 0:
            raise ValueError("a count cannot be negative")
    grid = _Grid.build(cells, row_totals, column_totals, grand_total)
    suppressed = {cell for cell, value in grid.values.items() if is_too_small(value)}
    suppressed |= {cell for cell in also_suppress if grid.values.get(cell, 0) > 0}
    while True:
        if _two_in_every_line(grid, suppressed):
            continue
        fixed = _first_fixed(grid, suppressed)
        if fixed is None:
            break
        own_lines = [line for line in grid.lines if fixed in line]
        hidden_lines = [line for line in grid.lines if any(cell in suppressed for cell in line)]
        if not (
            _hide_one_more(grid, suppressed, own_lines)
            or _hide_one_more(grid, suppressed, hidden_lines)
        ):
            break  # every other cell is 0 or hidden already: nothing more can be hidden

    rows = len(cells)
    columns = len(cells[0]) if rows else 0

    def out(cell: Cell) -> int | None:
        return None if cell in suppressed else round_count(grid.values[cell])

    return Protected(
        cells=[[out((i, j)) for j in range(columns)] for i in range(rows)],
        row_totals=None if row_totals is None else [out((i, columns)) for i in range(rows)],
        column_totals=None if column_totals is None else [out((rows, j)) for j in range(columns)],
        grand_total=None if grand_total is None else out((rows, columns)),
        suppressed_cells=len(suppressed),
    )


def protect_column(
    values: Sequence[int], total: int, *, also_suppress: Iterable[int] = ()
) -> tuple[list[int | None], int | None, int]:
    """A one-way table (one figure per row, and its total): (rows, total, suppressed cells)."""
    extra = [(index, 0) for index in also_suppress]
    result = protect([[v] for v in values], column_totals=[total], also_suppress=extra)
    return [row[0] for row in result.cells], result.column_totals[0], result.suppressed_cells


def _candidates(grid: _Grid, suppressed: set[Cell], line: list[Cell]) -> list[Cell]:
    # Zero is published as zero, so hiding one would hide nothing; totals are hidden last.
    return sorted(
        (cell for cell in line if cell not in suppressed and grid.values[cell] > 0),
        key=lambda cell: (cell in grid.totals, grid.values[cell], cell),
    )


def _hide_one_more(grid: _Grid, suppressed: set[Cell], lines: list[list[Cell]]) -> bool:
    options = [cell for line in lines for cell in _candidates(grid, suppressed, line)[:1]]
    if not options:
        return False
    suppressed.add(min(options, key=lambda cell: (cell in grid.totals, grid.values[cell], cell)))
    return True


def _two_in_every_line(grid: _Grid, suppressed: set[Cell]) -> bool:
    """Hide one more cell in the first line that has exactly one hidden; True if it did."""
    for line in grid.lines:
        if sum(cell in suppressed for cell in line) == 1 and _hide_one_more(
            grid, suppressed, [line]
        ):
            return True
    return False


def recoverable(grid_lines: list[list[Cell]], suppressed: set[Cell]) -> set[Cell]:
    """The hidden cells that the lines' sums fix exactly, whatever the others are.

    Each line is an equation over its hidden cells (interior cells +1, its total -1; the published
    cells are known). A hidden cell is fixed exactly when its unit vector lies in the row space of
    those equations, which a rank comparison tells."""
    unknowns = sorted(suppressed)
    if not unknowns:
        return set()
    index = {cell: k for k, cell in enumerate(unknowns)}
    equations = []
    for line in grid_lines:
        row = np.zeros(len(unknowns))
        for position, cell in enumerate(line):
            if cell in index:
                row[index[cell]] = -1.0 if position == len(line) - 1 else 1.0
        if row.any():
            equations.append(row)
    if not equations:
        return set()
    matrix = np.array(equations)
    rank = np.linalg.matrix_rank(matrix)
    fixed = set()
    for cell, k in index.items():
        unit = np.zeros(len(unknowns))
        unit[k] = 1.0
        if np.linalg.matrix_rank(np.vstack([matrix, unit])) == rank:
            fixed.add(cell)
    return fixed


def _first_fixed(grid: _Grid, suppressed: set[Cell]) -> Cell | None:
    fixed = recoverable(grid.lines, suppressed)
    return min(fixed) if fixed else None


def lines_of(
    rows: int,
    columns: int,
    *,
    row_totals: bool,
    column_totals: bool,
    grand_total: bool,
) -> list[list[Cell]]:
    """The lines of a table of this shape (for checking a published table from outside)."""
    grid = _Grid.build(
        [[0] * columns for _ in range(rows)],
        [0] * rows if row_totals else None,
        [0] * columns if column_totals else None,
        0 if grand_total else None,
    )
    return grid.lines
