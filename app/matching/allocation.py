"""Whole-area allocation: choose pairs that maximise the total score under offer capacities.

Exact on the candidate graph it is given: a minimum-cost flow (OR-Tools) from requests through
offers (each with its capacity) to a sink, with a free "unmatched" arc for every request. A
sparse assignment (scipy's LAPJVsp) gives the same optimum about four times slower on the
borough, and a dense Hungarian solver checks both on instances it can handle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching
from ortools.graph.python import min_cost_flow

from app.matching.engine import SCORE_SCALE, Candidate

# Every real edge costs less than leaving the request unmatched, and no cost is zero
# (an explicit zero in a sparse matrix could be read as "no edge").
_UNMATCHED_COST = SCORE_SCALE + 1


def allocate_edges(offers: np.ndarray, requests: np.ndarray, scores: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Positions of the chosen edges, by minimum-cost flow (OR-Tools).

    `offers`/`requests` are small integer labels (rows); `capacity[o]` is how many requests offer o
    may serve; each request is served at most once. Every request may also flow straight to the
    sink at no gain, so leaving it unmatched is always allowed and the flow maximises the total.
    """
    offers = np.asarray(offers, np.int64)
    requests = np.asarray(requests, np.int64)
    scores = np.asarray(scores, np.int64)
    capacity = np.asarray(capacity, np.int64)
    if len(offers) == 0:
        return np.empty(0, np.int64)
    request_labels, request_node = np.unique(requests, return_inverse=True)
    n_requests, n_offers = len(request_labels), len(capacity)
    source, sink = 0, 1
    first_request, first_offer = 2, 2 + n_requests
    flow = min_cost_flow.SimpleMinCostFlow()
    request_nodes = first_request + np.arange(n_requests)
    tails = np.concatenate([np.full(n_requests, source), first_request + request_node, first_offer + np.arange(n_offers), request_nodes])
    heads = np.concatenate([request_nodes, first_offer + offers, np.full(n_offers, sink), np.full(n_requests, sink)])
    capacities = np.concatenate([np.ones(n_requests), np.ones(len(offers)), capacity, np.ones(n_requests)]).astype(np.int64)
    costs = np.concatenate([np.zeros(n_requests), -scores, np.zeros(n_offers), np.zeros(n_requests)]).astype(np.int64)
    arcs = flow.add_arcs_with_capacity_and_unit_cost(tails.astype(np.int32), heads.astype(np.int32), capacities, costs)
    supplies = np.zeros(first_offer + n_offers, np.int64)
    supplies[source], supplies[sink] = n_requests, -n_requests
    flow.set_nodes_supplies(np.arange(len(supplies), dtype=np.int32), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"allocation failed: min-cost flow status {status}")
    edge_arcs = np.asarray(arcs)[n_requests : n_requests + len(offers)]
    return np.flatnonzero(flow.flows(edge_arcs) > 0)


def allocate_edges_lapjvsp(offers: np.ndarray, requests: np.ndarray, scores: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """The same allocation by sparse assignment (scipy's LAPJVsp), each offer repeated once per
    place. Kept as a second exact method: on the borough it is about four times slower."""
    offers = np.asarray(offers, np.int64)
    requests = np.asarray(requests, np.int64)
    scores = np.asarray(scores, np.int64)
    usable = capacity[offers] > 0
    edge_ids = np.flatnonzero(usable)
    if len(edge_ids) == 0:
        return edge_ids
    offers, requests, scores = offers[edge_ids], requests[edge_ids], scores[edge_ids]
    # A sparse matrix adds up duplicate entries: keep only the best edge of each pair.
    order = np.lexsort((-scores, offers, requests))
    first = np.r_[True, (requests[order][1:] != requests[order][:-1]) | (offers[order][1:] != offers[order][:-1])]
    best_edges = np.sort(order[first])
    edge_ids, offers, requests, scores = edge_ids[best_edges], offers[best_edges], requests[best_edges], scores[best_edges]

    request_labels, row = np.unique(requests, return_inverse=True)
    offer_labels, offer_index = np.unique(offers, return_inverse=True)
    degree = np.bincount(offer_index, minlength=len(offer_labels))
    places = np.minimum(capacity[offer_labels], degree)  # never more places than possible takers
    first_column = np.concatenate(([0], np.cumsum(places)[:-1]))
    place_columns = int(places.sum())

    # Each edge is repeated once per place of its offer.
    copies = places[offer_index]
    edge_of_copy = np.repeat(np.arange(len(offers)), copies)
    copy_start = np.repeat(np.cumsum(copies) - copies, copies)
    column = first_column[offer_index][edge_of_copy] + (np.arange(len(edge_of_copy)) - copy_start)
    n_rows = len(request_labels)
    graph = csr_matrix(
        (
            np.concatenate([(_UNMATCHED_COST - scores[edge_of_copy]).astype(np.float64), np.full(n_rows, float(_UNMATCHED_COST))]),
            (np.concatenate([row[edge_of_copy], np.arange(n_rows)]), np.concatenate([column, place_columns + np.arange(n_rows)])),
        ),
        shape=(n_rows, place_columns + n_rows),
    )
    matched_rows, matched_columns = min_weight_full_bipartite_matching(graph)
    real = matched_columns < place_columns
    matched_rows, matched_columns = matched_rows[real], matched_columns[real]
    # Back from (row, column) to an edge: the best edge between that request and that offer.
    offer_of_column = np.repeat(np.arange(len(offer_labels)), places)
    wanted = {(int(r), int(offer_of_column[c])) for r, c in zip(matched_rows, matched_columns, strict=True)}
    best: dict[tuple[int, int], int] = {}
    for position, (r, o, s) in enumerate(zip(row.tolist(), offer_index.tolist(), scores.tolist(), strict=True)):
        key = (r, o)
        if key in wanted and (key not in best or s > scores[best[key]]):
            best[key] = position
    return np.sort(edge_ids[np.fromiter(best.values(), np.int64, len(best))])


def allocate(candidates: Iterable[Candidate], capacities: Mapping[int, int]) -> list[Candidate]:
    """An optimal set of pairs from candidates: each request at most once, offer j at most capacities[j] times."""
    edges = list(candidates)
    if not edges:
        return []
    offer_ids = sorted({c.offer_id for c in edges})
    label = {offer_id: i for i, offer_id in enumerate(offer_ids)}
    capacity = np.array([capacities.get(offer_id, 0) for offer_id in offer_ids], np.int64)
    chosen = allocate_edges(
        np.array([label[c.offer_id] for c in edges]),
        np.array([c.request_id for c in edges]),
        np.array([c.score for c in edges]),
        capacity,
    )
    return sorted((edges[i] for i in chosen.tolist()), key=lambda c: (c.request_id, c.offer_id))


def greedy(candidates: Iterable[Candidate], capacities: Mapping[int, int]) -> list[Candidate]:
    """The plain baseline: best pairs first, taken while both sides are free."""
    left = dict(capacities)
    served: set[int] = set()
    chosen = []
    for c in sorted(candidates, key=lambda c: (-c.score, c.request_id, c.offer_id)):
        if c.request_id not in served and left.get(c.offer_id, 0) > 0:
            chosen.append(c)
            served.add(c.request_id)
            left[c.offer_id] -= 1
    return chosen


def greedy_edges(offers: np.ndarray, requests: np.ndarray, scores: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """The greedy baseline on arrays (same rule as `greedy`)."""
    order = np.lexsort((offers, requests, -np.asarray(scores)))
    left = np.array(capacity, np.int64, copy=True)
    served: set[int] = set()
    chosen = []
    for position in order.tolist():
        r, o = int(requests[position]), int(offers[position])
        if r not in served and left[o] > 0:
            chosen.append(position)
            served.add(r)
            left[o] -= 1
    return np.asarray(chosen, np.int64)


def dense_optimum(candidates: Sequence[Candidate], capacities: Mapping[int, int]) -> int:
    """The optimal total by a dense exact solver (the Hungarian method), to check `allocate`."""
    request_ids = sorted({c.request_id for c in candidates})
    offer_ids = sorted({c.offer_id for c in candidates if capacities.get(c.offer_id, 0) > 0})
    if not request_ids or not offer_ids:
        return 0
    row_of = {rid: i for i, rid in enumerate(request_ids)}
    first_column: dict[int, int] = {}
    width = 0
    for offer_id in offer_ids:
        first_column[offer_id] = width
        width += min(capacities[offer_id], len(request_ids))
    matrix = np.zeros((len(request_ids), width), dtype=np.int64)
    for c in candidates:
        if c.offer_id not in first_column:
            continue
        start = first_column[c.offer_id]
        places = min(capacities[c.offer_id], len(request_ids))
        row = row_of[c.request_id]
        matrix[row, start : start + places] = np.maximum(matrix[row, start : start + places], c.score)
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    return int(matrix[rows, cols].sum())


def total_score(pairs: Iterable[Candidate]) -> int:
    return sum(c.score for c in pairs)
