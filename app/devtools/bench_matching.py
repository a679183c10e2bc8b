"""`marketplace bench matching`: suggestion latency, whole-borough allocation, and exactness checks."""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from sqlalchemy import select

from app.core.config import get_settings
from app.core.db import make_engine, make_session_factory
from app.devtools.bench_pages import percentile
from app.devtools.demo import ensure_borough
from app.matching import engine, index, loader, service
from app.matching.allocation import allocate_edges, dense_optimum, greedy_edges
from app.matching.engine import Candidate, Context, SideTable, key_spaces
from app.registry.models import HelpRequest, ItemStatus
from app.registry.service import OFFER, REQUEST


def _suggest_timings(db, settings, request_ids: list[int]) -> list[float]:
    timings = []
    for request_id in request_ids:
        started = time.perf_counter()
        service.suggestions_for_request(db, settings, request_id=request_id, limit=10)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


@contextmanager
def writes_in_background(factory, writes_per_second: float, seed: int) -> Iterator[list[int]]:
    """Another person using the site: an offer paused, then reopened, `writes_per_second` times a
    second through the service, each write its own committed transaction. Yields a one-item list
    that counts the writes; the borough is left as it was found."""
    from app.registry import service as registry
    from app.registry.models import Offer

    stop = threading.Event()
    written = [0]
    failure: list[BaseException] = []

    def writer() -> None:
        try:
            write()
        except BaseException as error:  # noqa: BLE001 - re-raised in the benchmark's own thread
            failure.append(error)

    def write() -> None:
        rng = random.Random(seed)
        with factory() as db:
            # Only offers matching uses: the owner's consent lets them go live again when reopened.
            in_matching = registry.in_matching_clause(registry.OFFER)
            ids = db.execute(select(Offer.id).where(in_matching).order_by(Offer.id)).scalars().all()
            db.rollback()
            paused: list[int] = []
            while not stop.wait(1 / writes_per_second):
                if paused and (len(paused) > 20 or rng.random() < 0.5):
                    item, action = db.get(Offer, paused.pop(0)), "reopen"
                else:
                    item, action = db.get(Offer, rng.choice(ids)), "pause"
                    if item.status is not ItemStatus.active:
                        db.rollback()
                        continue
                    paused.append(item.id)
                registry.change_status(db, kind=registry.OFFER, item=item, action=action)
                db.commit()
                written[0] += 1
            for offer_id in paused:
                registry.change_status(db, kind=registry.OFFER, item=db.get(Offer, offer_id), action="reopen")
            db.commit()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        yield written
    finally:
        stop.set()
        thread.join(timeout=60)
        if failure:  # a writer that stopped early would make the "under writes" figures a lie
            raise failure[0]


def _suggest_timings_under_writes(factory, settings, request_ids: list[int], writes_per_second: float, seed: int) -> tuple[list[float], int]:
    """The same suggestion calls while another thread writes through the service. Each call
    starts a fresh transaction, as each request does."""
    timings = []
    with writes_in_background(factory, writes_per_second, seed) as written, factory() as db:
        for request_id in request_ids:
            db.rollback()  # a new request, a new transaction: it sees what was committed
            started = time.perf_counter()
            service.suggestions_for_request(db, settings, request_id=request_id, limit=10)
            timings.append((time.perf_counter() - started) * 1000)
            time.sleep(0.005)
    return timings, written[0]


def _scan_all_pairs(ix: index.MatchIndex, request_row: int, weights, context, k: int) -> list[tuple[int, int]]:
    """Brute force: every offer scored against the request, one pair at a time, no index."""
    request = ix.requests.sides[request_row]
    found = []
    for offer in ix.offers.sides:
        score = engine.reference_score(offer, request, weights, context)
        if score is not None:
            found.append((score, -offer.id))
    return sorted(found, reverse=True)[:k]


def _exact_check(ix: index.MatchIndex, weights, context, size: int, rng: random.Random) -> dict[str, Any]:
    """Allocation against a dense exact solver on an instance both can solve: every feasible pair of
    `size` requests and `size` offers from one part of the borough."""
    offers = sorted(rng.sample(ix.offers.sides, min(size, len(ix.offers.sides))), key=lambda s: s.id)
    requests = sorted(rng.sample(ix.requests.sides, min(size, len(ix.requests.sides))), key=lambda s: s.id)
    spaces = key_spaces(offers, requests)
    o_table, r_table = SideTable(offers, spaces), SideTable(requests, spaces)
    graph = engine.candidate_graph(o_table, r_table, weights, context, per_request=0)
    capacity = np.maximum(0, o_table.capacity - o_table.used)
    chosen = allocate_edges(graph.offer_rows, graph.request_rows, graph.scores, capacity)
    ours = int(graph.scores[chosen].sum())
    candidates = [
        Candidate(int(o_table.ids[o]), int(r_table.ids[r]), int(s), {}, None, frozenset(), 0, True)
        for o, r, s in zip(graph.offer_rows.tolist(), graph.request_rows.tolist(), graph.scores.tolist(), strict=True)
    ]
    dense = dense_optimum(candidates, {int(o_table.ids[i]): int(capacity[i]) for i in range(len(o_table))})
    return {"n": size, "pairs": len(candidates), "ratio_to_dense_optimum": round(ours / dense, 6) if dense else 1.0}


def bench_matching(
    *, people: int, seed: int, suggestions: int, brute_subset: int, exact_size: int, writes_per_second: float = 5.0
) -> dict[str, Any]:
    settings = get_settings()
    db_engine = make_engine(settings.database_url)
    factory = make_session_factory(db_engine)
    ensure_borough(factory, people, seed)
    rng = random.Random(seed)
    weights = service.weights_from(settings)
    result: dict[str, Any] = {"database": db_engine.dialect.name, "people": people}
    with factory() as db:
        index.forget()
        started = time.perf_counter()
        ix = index.get_index(db)
        result["index_build_seconds"] = round(time.perf_counter() - started, 2)
        # What one process (one uvicorn worker) holds once its index is built, at its peak.
        result["process_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        result["offers"] = len(ix.offers)
        result["requests"] = len(ix.requests)
        live = db.execute(
            select(HelpRequest.id).where(HelpRequest.status == ItemStatus.active).order_by(HelpRequest.id)
        ).scalars().all()
        sample = rng.sample(list(live), min(suggestions, len(live)))
        timings = _suggest_timings(db, settings, sample)
        result["suggest_p50_ms"] = round(statistics.median(timings), 2)
        result["suggest_p95_ms"] = round(percentile(timings, 0.95), 2)
        db.rollback()
        rebuilds_before = index.live_index(db).rebuilds
        busy, written = _suggest_timings_under_writes(factory, settings, sample, writes_per_second, seed)
        result["writes_per_second"] = writes_per_second
        result["writes_during_suggestions"] = written
        result["suggest_under_writes_p50_ms"] = round(statistics.median(busy), 2)
        result["suggest_under_writes_p95_ms"] = round(percentile(busy, 0.95), 2)
        result["index_rebuilds_under_writes"] = index.live_index(db).rebuilds - rebuilds_before

        # Whole-borough allocation, written as `suggested` matches, then rolled back so the
        # benchmark leaves the database as it found it.
        started = time.perf_counter()
        phases: dict[str, float] = {}
        run = service.run_allocation(db, settings, phases=phases)
        result["allocation_seconds"] = round(time.perf_counter() - started, 2)
        result["allocation_phases"] = phases
        result["allocation_pairs"] = run.new_suggestions
        result["allocation_total_score"] = run.total_score
        result["allocation_candidate_pairs"] = run.candidate_pairs
        db.rollback()
        index.forget()
        ix = index.get_index(db)
        context = Context(declined=ix.declined)

        # The same candidate graph, allocated greedily.
        graph = engine.candidate_graph(ix.offers, ix.requests, weights, context, settings.match_candidates_per_request)
        capacity = np.maximum(0, ix.offers.capacity - ix.offers.used)
        ours = allocate_edges(graph.offer_rows, graph.request_rows, graph.scores, capacity)
        plain = greedy_edges(graph.offer_rows, graph.request_rows, graph.scores, capacity)
        result["greedy_ratio"] = round(int(graph.scores[ours].sum()) / max(1, int(graph.scores[plain].sum())), 4)

        result["exact_check"] = _exact_check(ix, weights, context, exact_size, rng)

        # Brute force against the index, for the same suggestions. Without the index every call
        # must read every live offer from the database and score every pair; the in-memory
        # variant (a scan of an already-loaded copy) is reported too.
        subset = [i for i in sample[:brute_subset] if i in ix.requests.row_of]
        started = time.perf_counter()
        for request_id in subset:
            categories = loader.skill_maps(db).categories
            offer_sides = loader.load_sides(db, OFFER, [], categories)
            request_side = loader.load_sides(db, REQUEST, [HelpRequest.id == request_id], categories)[0]
            found = [
                (score, -offer.id)
                for offer in offer_sides
                if (score := engine.reference_score(offer, request_side, weights, context)) is not None
            ]
            sorted(found, reverse=True)[:10]
        brute_from_database = time.perf_counter() - started
        started = time.perf_counter()
        for request_id in subset:
            _scan_all_pairs(ix, ix.requests.row_of[request_id], weights, context, 10)
        brute_in_memory = time.perf_counter() - started
        started = time.perf_counter()
        for request_id in subset:
            service.suggestions_for_request(db, settings, request_id=request_id, limit=10)
        indexed = max(time.perf_counter() - started, 1e-9)
        result["bruteforce_speedup"] = round(brute_from_database / indexed, 1)
        result["bruteforce_in_memory_speedup"] = round(brute_in_memory / indexed, 1)
        result["bruteforce_subset"] = len(subset)
    db_engine.dispose()
    return result


def cli_bench_matching(args: argparse.Namespace) -> int:
    result = bench_matching(
        people=args.people, seed=args.seed, suggestions=args.suggestions, brute_subset=args.brute_subset,
        exact_size=args.exact_size, writes_per_second=args.writes_per_second,
    )
    print(json.dumps(result) if args.json else "\n".join(f"{k:>28}: {v}" for k, v in result.items()))
    return 0
