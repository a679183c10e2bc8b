"""The whole-area candidate graph by key blocks (`engine.candidate_graph`) against the reference
that scores every pair as a list (`engine.candidate_graph_by_pairs`), and the columnar path of
the allocation (tables from columns, explanations in bulk) against the per-object path.

The block graph must be the same graph, pair for pair and score for score, in the same order:
it is what the allocation solves, so the same graph means the same optimum and the same pairs.
"""

from __future__ import annotations

import dataclasses
import math
import os
from contextlib import contextmanager
from datetime import timedelta
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from app.core.db import utcnow
from app.matching import engine, loader, service
from app.matching.allocation import dense_optimum
from app.matching.models import OPEN_STATUSES, Answer, Match, MatchStatus
from app.registry import service as registry
from app.registry.service import OFFER, REQUEST
from app.matching.engine import (
    EITHER,
    IN_PERSON,
    MODE_CODES,
    REMOTE,
    Candidate,
    Context,
    Side,
    SideColumns,
    SideTable,
    Weights,
    candidate_graph,
    candidate_graph_by_pairs,
    explain,
    key_spaces,
    key_spaces_of,
)
from app.matching.service import allocate_tables, compute_allocation
from app.registry.availability import ALL_SLOTS_MASK
from tests.matching.conftest import HOME, TWO_KM, citizen, offer, request, withdraw_matching
from tests.matching.test_engine import CATEGORY, NAMES, PROPERTY, SKILLS, any_weights, weights_strategy, worlds


@contextmanager
def tiny_tiles():
    """Tiles of a few pairs, so that small worlds cross every tile boundary of the block path."""
    with (
        patch.object(engine, "_TILE_PAIRS", 3),
        patch.object(engine, "_GROUP_ROWS", 2),
        patch.object(engine, "_STRIPE_GROUPS", 2),
    ):
        yield


def tables(offers, requests):
    spaces = key_spaces(offers, requests)
    return SideTable(offers, spaces), SideTable(requests, spaces)


def assert_same_graph(offers, requests, weights, context, per_request):
    offer_table, request_table = tables(offers, requests)
    reference = candidate_graph_by_pairs(offer_table, request_table, weights, context, per_request)
    for workers in (1, 2):
        graph = candidate_graph(offer_table, request_table, weights, context, per_request, workers=workers)
        ours = list(zip(graph.request_rows.tolist(), graph.offer_rows.tolist(), graph.scores.tolist(), strict=True))
        theirs = list(zip(reference.request_rows.tolist(), reference.offer_rows.tolist(), reference.scores.tolist(), strict=True))
        assert len(set(ours)) == len(ours), "a pair appears twice"
        if per_request > 0:
            # The same pairs in the same order: by request, score descending, offer row.
            assert ours == theirs
        else:
            assert sorted(ours) == sorted(theirs)
            assert ours == sorted(ours, key=lambda t: (t[0], -t[2], t[1]))
        assert graph.scores.dtype == np.int64 and graph.offer_rows.dtype == np.int64


@PROPERTY
@given(st.one_of(worlds(), worlds(dense=True)), any_weights, st.sampled_from([0, 1, 2, 3, 25]))
def test_the_block_graph_is_the_reference_graph(world, weights, per_request):
    offers, requests, declined = world
    assert_same_graph(offers, requests, weights, Context(declined=declined), per_request)


@PROPERTY
@given(st.one_of(worlds(max_offers=14, max_requests=14), worlds(max_offers=14, max_requests=14, dense=True)), any_weights, st.sampled_from([0, 1, 2, 4]))
def test_the_block_graph_is_the_reference_graph_across_tile_boundaries(world, weights, per_request):
    offers, requests, declined = world
    with tiny_tiles():
        assert_same_graph(offers, requests, weights, Context(declined=declined), per_request)


@PROPERTY
@given(st.one_of(worlds(max_offers=12, max_requests=10), worlds(max_offers=12, max_requests=10, dense=True)), weights_strategy, st.integers(1, 4))
def test_the_allocation_on_the_block_graph_reaches_the_dense_optimum_of_the_reference_graph(world, weights, per_request):
    offers, requests, declined = world
    context = Context(declined=declined)
    offer_table, request_table = tables(offers, requests)
    reference = candidate_graph_by_pairs(offer_table, request_table, weights, context, per_request)
    places = {int(offer_table.ids[i]): max(0, int(offer_table.capacity[i] - offer_table.used[i])) for i in range(len(offers))}
    every = [
        Candidate(int(offer_table.ids[o]), int(request_table.ids[r]), int(s), {}, None, frozenset(), 0, True)
        for o, r, s in zip(reference.offer_rows.tolist(), reference.request_rows.tolist(), reference.scores.tolist(), strict=True)
    ]
    with tiny_tiles():
        result = compute_allocation(offers, requests, weights, context, per_request)
    assert int(result.pairs.scores.sum()) == dense_optimum(every, places)
    given_edges = {(c.offer_id, c.request_id, c.score) for c in every}
    assert all((c.offer_id, c.request_id, c.score) in given_edges for c in result.chosen)


def random_borough(seed: int, n_offers: int, n_requests: int, *, spread_lat: float, spread_lon: float, centre=(52.95, -1.15)):
    """A larger world than Hypothesis draws, made with numpy: many pairs per key, groups of
    requests, the travel-limit classes, some sides without a place, people on both sides,
    a few declined pairs."""
    rng = np.random.default_rng(seed)
    skills = sorted(SKILLS)

    def sides(n: int, first_id: int) -> list[Side]:
        out = []
        for k in range(n):
            chosen = frozenset(rng.choice(skills, size=int(rng.integers(1, 4)), replace=False).tolist())
            located = rng.random() > 0.03
            capacity = int(rng.integers(1, 4))
            out.append(
                Side(
                    id=first_id + k,
                    person_id=int(rng.integers(1, n // 3 + 2)),
                    skills=chosen,
                    categories=frozenset(CATEGORY[s] for s in chosen),
                    mode=str(rng.choice([IN_PERSON, IN_PERSON, REMOTE, EITHER, EITHER])),
                    latitude=float(centre[0] + rng.uniform(-spread_lat, spread_lat)) if located else None,
                    longitude=float(centre[1] + rng.uniform(-spread_lon, spread_lon)) if located else None,
                    max_distance_km=float(rng.choice([0.0, 0.5, 1, 2, 3, 5, 8, 10, 15, 40])),
                    slots=int(rng.integers(1, ALL_SLOTS_MASK + 1)) & int(rng.integers(1, ALL_SLOTS_MASK + 1)),
                    active=bool(rng.random() > 0.05),
                    consents=bool(rng.random() > 0.05),
                    capacity=capacity,
                    used=int(rng.integers(0, capacity + 1)) if rng.random() < 0.3 else 0,
                )
            )
        return out

    offers, requests = sides(n_offers, 1), sides(n_requests, 10_001)
    declined = frozenset((int(rng.integers(1, n_offers + 1)), int(rng.integers(10_001, 10_001 + n_requests))) for _ in range(40))
    return offers, requests, declined


@pytest.mark.parametrize(
    ("seed", "centre", "spread_lat", "spread_lon"),
    [
        (1, (52.95, -1.15), 0.05, 0.09),  # a town: most pairs are near enough to meet
        (2, (52.95, -1.15), 0.2, 0.35),  # a county
        (3, (62.0, 10.0), 27.0, 80.0),  # half a hemisphere: longitudes far apart, latitudes near a pole
    ],
)
@pytest.mark.parametrize(
    "weights",
    [Weights(), Weights(category=0.4), Weights(skills=0.3, distance=0.4, time=0.2, fresh=0.3, remote_distance_part=0.8)],
)
def test_the_block_graph_is_the_reference_graph_on_larger_worlds(seed, centre, spread_lat, spread_lon, weights):
    offers, requests, declined = random_borough(seed, 700, 600, spread_lat=spread_lat, spread_lon=spread_lon, centre=centre)
    context = Context(declined=declined, now=0.0)
    for per_request in (25, 3, 0):
        assert_same_graph(offers, requests, weights, context, per_request)
    with tiny_tiles():
        assert_same_graph(offers, requests, weights, context, 5)


def test_the_block_graph_is_the_reference_graph_when_sides_have_expired():
    offers, requests, declined = random_borough(4, 300, 300, spread_lat=0.05, spread_lon=0.09)
    rng = np.random.default_rng(4)
    offers = [dataclasses.replace(s, expires=float(rng.choice([5.0, 50.0, math.inf]))) for s in offers]
    requests = [dataclasses.replace(s, expires=float(rng.choice([5.0, 50.0, math.inf]))) for s in requests]
    assert_same_graph(offers, requests, Weights(), Context(declined=declined, now=10.0), 25)


def test_a_graph_with_nothing_to_pair_is_empty():
    lonely = Side(1, 1, frozenset({1}), REMOTE, None, None, 0.0, 1)
    other = Side(2, 2, frozenset({2}), REMOTE, None, None, 0.0, 1)
    for offers, requests in (([], []), ([lonely], []), ([], [lonely]), ([lonely], [other])):
        offer_table, request_table = tables(offers, requests)
        graph = candidate_graph(offer_table, request_table, Weights(), Context(), 25)
        assert len(graph.scores) == len(graph.offer_rows) == len(graph.request_rows) == 0


# --- tables from columns, explanations in bulk ------------------------------------------------


def columns_of(sides: list[Side]) -> SideColumns:
    """What the loader reads for these sides (they must be live), as columns."""
    pairs = [(row, skill) for row, s in enumerate(sides) for skill in sorted(s.skills)]
    return SideColumns(
        ids=np.array([s.id for s in sides], np.int64),
        person_ids=np.array([s.person_id for s in sides], np.int64),
        mode=np.array([MODE_CODES[s.mode] for s in sides], np.int8),
        lat=np.array([s.latitude for s in sides], np.float64),
        lon=np.array([s.longitude for s in sides], np.float64),
        max_km=np.array([s.max_distance_km for s in sides], np.float64),
        slots=np.array([s.slots for s in sides], np.int64),
        capacity=np.array([s.capacity for s in sides], np.int64),
        used=np.array([s.used for s in sides], np.int64),
        expires=np.array([s.expires for s in sides], np.float64),
        skill_rows=np.array([p[0] for p in pairs], np.int64),
        skill_ids=np.array([p[1] for p in pairs], np.int64),
    )


def assert_same_table(ours: SideTable, theirs: SideTable) -> None:
    for name in (
        "ids", "person_ids", "mode", "lat", "lon", "max_km", "slots", "skill_count", "category_count",
        "capacity", "used", "eligible", "expires", "skill_words", "category_words",
    ):  # fmt: skip
        a, b = getattr(ours, name), getattr(theirs, name)
        assert a.dtype == b.dtype, name
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
    assert ours.row_of == theirs.row_of
    for index in ("by_skill", "by_category"):
        a, b = getattr(ours, index), getattr(theirs, index)
        assert a.keys() == b.keys(), index
        assert all(np.array_equal(a[k], b[k]) for k in a), index
    assert ours.skill_space.bit == theirs.skill_space.bit
    assert ours.category_space.bit == theirs.category_space.bit
    assert ours.sides == theirs.sides
    assert len(ours) == len(theirs)


@PROPERTY
@given(st.one_of(worlds(), worlds(dense=True)))
def test_a_table_from_columns_is_the_table_from_sides(world):
    offers, requests, _declined = world
    offers = [dataclasses.replace(s, active=True, consents=True) for s in offers]
    requests = [dataclasses.replace(s, active=True, consents=True) for s in requests]
    spaces = key_spaces(offers, requests)
    offer_columns, request_columns = columns_of(offers), columns_of(requests)
    column_spaces = key_spaces_of(offer_columns, request_columns, categories=CATEGORY)
    assert column_spaces[0].bit == spaces[0].bit and column_spaces[1].bit == spaces[1].bit
    assert_same_table(SideTable.from_columns(offer_columns, column_spaces, CATEGORY), SideTable(offers, spaces))
    assert_same_table(SideTable.from_columns(request_columns, column_spaces, CATEGORY), SideTable(requests, spaces))


@PROPERTY
@given(st.one_of(worlds(), worlds(dense=True)), weights_strategy)
def test_explanations_in_bulk_are_the_explanations_one_by_one(world, weights):
    offers, requests, declined = world
    context = Context(declined=declined)
    offer_table, request_table = tables(offers, requests)
    graph = candidate_graph(offer_table, request_table, weights, context, 0)
    scored = engine.score_chosen_pairs(offer_table, graph.offer_rows, request_table, graph.request_rows, weights, context)
    one_by_one = [explain(c, NAMES) for c in engine.candidates(scored, np.arange(len(scored.scores)), offer_table, request_table)]
    assert engine.explain_pairs(scored, offer_table, request_table, NAMES) == one_by_one
    # A skill without a name is still explained.
    assert engine.explain_pairs(scored, offer_table, request_table, {}) == [
        explain(c, {}) for c in engine.candidates(scored, np.arange(len(scored.scores)), offer_table, request_table)
    ]


@PROPERTY
@given(worlds(max_offers=10, max_requests=10), weights_strategy, st.sampled_from([0, 2, 25]))
def test_the_allocation_from_columns_is_the_allocation_from_sides(world, weights, per_request):
    offers, requests, declined = world
    offers = [dataclasses.replace(s, active=True, consents=True) for s in offers]
    requests = [dataclasses.replace(s, active=True, consents=True) for s in requests]
    context = Context(declined=declined)
    from_sides = compute_allocation(offers, requests, weights, context, per_request)
    offer_columns, request_columns = columns_of(offers), columns_of(requests)
    spaces = key_spaces_of(offer_columns, request_columns, categories=CATEGORY)
    from_columns = allocate_tables(
        SideTable.from_columns(offer_columns, spaces, CATEGORY), SideTable.from_columns(request_columns, spaces, CATEGORY),
        weights, context, per_request,
    )  # fmt: skip
    assert from_columns.candidate_pairs == from_sides.candidate_pairs
    assert from_columns.chosen == from_sides.chosen


# --- on a real database: the loader's columns and the matches as written ------------------------


def test_the_loaders_columns_are_the_loaders_sides(db, settings, garden):
    # Items of every kind the loader must read or leave out: remote, with capacity, expiring,
    # paused, a person without matching consent, and one whose request holds an open match.
    helper = citizen(db, settings, "Morgan Llewellyn", TWO_KM)
    offer(db, helper, mode="remote", capacity=3, skills=["it_help", "smartphone_help"], availability=["mon-pm"])
    later = offer(db, helper, mode="either", max_distance_km=8, availability=["sun-eve", "tue-am"])
    later.expires_at = utcnow() + timedelta(days=3)
    db.add(later)
    paused = offer(db, helper, availability=["wed-pm"])
    registry.change_status(db, kind=OFFER, item=paused, action="pause")
    quiet = citizen(db, settings, "Quiet Person", TWO_KM)
    offer(db, quiet)
    request(db, quiet)
    withdraw_matching(db, settings, quiet)
    asker = citizen(db, settings, "Nia Hughes", TWO_KM)
    request(db, asker, mode="remote", skills=["it_help"], availability=["mon-pm", "fri-am"])
    db.commit()
    assert service.run_allocation(db, settings).new_suggestions > 0
    db.commit()

    categories = loader.skill_maps(db).categories
    has_open = select(Match.request_id).where(Match.status.in_(OPEN_STATUSES))
    for kind, conditions in ((OFFER, []), (REQUEST, []), (REQUEST, [REQUEST.model.id.not_in(has_open)])):
        sides = loader.load_sides(db, kind, conditions, categories)
        columns = loader.load_columns(db, kind, conditions)
        assert len(columns) == len(sides)
        spaces = key_spaces(sides)
        assert_same_table(SideTable.from_columns(columns, spaces, categories), SideTable(sides, spaces))
    assert len(loader.load_columns(db, OFFER, [])) == 5  # Bryn's, Gwen's, Ffion's and Morgan's two live ones


def test_a_run_writes_what_the_per_object_path_would_write(db, settings, garden):
    for k, postcode in enumerate([HOME, TWO_KM, HOME, TWO_KM]):
        who = citizen(db, settings, f"Neighbour {k}", postcode)
        request(db, who, mode=("remote", "either", "in_person", "either")[k], skills=["gardening", "it_help"][: 1 + k % 2],
                availability=["tue-am", "wed-pm", "mon-pm"][: 1 + k % 3])  # fmt: skip
        offer(db, who, mode=("either", "remote", "either", "in_person")[k], skills=["it_help", "gardening"][: 1 + (k + 1) % 2],
              availability=["tue-am", "mon-pm"], capacity=1 + k % 2)  # fmt: skip
    names, categories = loader.skill_maps(db).names, loader.skill_maps(db).categories
    expected = service.compute_allocation(
        loader.load_sides(db, OFFER, [], categories), loader.load_sides(db, REQUEST, [], categories),
        service.weights_from(settings), engine.Context(declined=loader.declined_pairs(db), now=utcnow().timestamp()),
        settings.match_candidates_per_request,
    )  # fmt: skip
    before = utcnow()
    run = service.run_allocation(db, settings)
    db.commit()
    db.expire_all()
    rows = list(db.execute(select(Match).where(Match.run_id == run.id).order_by(Match.id)).scalars())
    assert len(rows) == len(expected.chosen) == run.new_suggestions > 3
    for m, c in zip(rows, expected.chosen, strict=True):
        assert (m.offer_id, m.request_id, m.score) == (c.offer_id, c.request_id, c.score)
        assert m.breakdown == dict(c.parts)
        assert m.explanation == explain(c, names)
        assert m.distance_km == engine.round_distance(c.distance_km)
        assert m.status is MatchStatus.suggested and m.offer_answer is Answer.pending and m.request_answer is Answer.pending
        assert m.version == 1 and m.brokered_by_account_id is None and m.minutes_given is None and m.outcome is None
        assert m.created_at == m.updated_at and before <= m.created_at <= utcnow()
        assert m.created_at.tzinfo is not None
    assert run.total_score == sum(c.score for c in expected.chosen)


def test_a_forked_half_gives_the_same_graph_and_a_failed_one_is_done_again_here():
    offers, requests, declined = random_borough(5, 500, 400, spread_lat=0.05, spread_lon=0.09)
    context = Context(declined=declined)
    offer_table, request_table = tables(offers, requests)
    reference = candidate_graph_by_pairs(offer_table, request_table, Weights(), context, 25)
    parent = os.getpid()
    real_block = engine._block
    keys_here: list[int] = []

    def counted(columns, key, per_request):
        if os.getpid() == parent:
            keys_here.append(key)
        return real_block(columns, key, per_request)

    def failing_in_the_child(columns, key, per_request):
        if os.getpid() != parent:
            raise RuntimeError("the child fails")
        return counted(columns, key, per_request)

    n_keys = len(set(request_table.by_skill) & set(offer_table.by_skill))
    for block, computed_here in ((counted, lambda n: 0 < n < n_keys), (failing_in_the_child, lambda n: n == n_keys)):
        keys_here.clear()
        with patch.object(engine, "_FORK_PAIRS", 0), patch.object(engine, "_block", block):
            graph = candidate_graph(offer_table, request_table, Weights(), context, 25, workers=2)
        assert computed_here(len(keys_here)), len(keys_here)
        assert graph.offer_rows.tolist() == reference.offer_rows.tolist()
        assert graph.request_rows.tolist() == reference.request_rows.tolist()
        assert graph.scores.tolist() == reference.scores.tolist()
