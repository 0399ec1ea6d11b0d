"""Shapley attribution of a measured effect among subsystem groups (the players).

`effect` maps a coalition (the frozenset of groups switched on) to how much of the full
model's behaviour it reproduces; it is 0 for the empty coalition. With few players every
coalition is measured and the values are exact; with more, they are estimated from
random orders of the players (each order's marginal contributions average to the Shapley
value), seeded so a rerun draws the same orders.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from itertools import combinations
from math import factorial

Coalition = frozenset[str]
EXACT_MAX_PLAYERS = 6
DEFAULT_ORDERS = 32


def every_coalition(players: Sequence[str]) -> list[Coalition]:
    """All 2^n subsets of `players`, smallest first."""
    return [frozenset(c) for k in range(len(players) + 1) for c in combinations(players, k)]


def exact_shapley(players: Sequence[str], effect: Mapping[Coalition, float]) -> dict[str, float]:
    """phi_i = sum over S not holding i of |S|! (n-|S|-1)! / n! * (v(S + i) - v(S))."""
    n = len(players)
    values = {}
    for player in players:
        others = [p for p in players if p != player]
        total = 0.0
        for coalition in every_coalition(others):
            weight = factorial(len(coalition)) * factorial(n - len(coalition) - 1) / factorial(n)
            total += weight * (effect[coalition | {player}] - effect[coalition])
        values[player] = total
    return values


def exact_interactions(
    players: Sequence[str], effect: Mapping[Coalition, float]
) -> dict[tuple[str, str], float]:
    """The Shapley interaction index of every pair: how much more (or, negative, less)
    the two do together than apart, averaged over the coalitions of the others."""
    n = len(players)
    out = {}
    for a, b in combinations(players, 2):
        others = [p for p in players if p not in (a, b)]
        total = 0.0
        for coalition in every_coalition(others):
            s = len(coalition)
            weight = factorial(s) * factorial(n - s - 2) / factorial(n - 1)
            both = effect[coalition | {a, b}] - effect[coalition | {a}]
            total += weight * (both - effect[coalition | {b}] + effect[coalition])
        out[(a, b)] = total
    return out


def sample_orders(players: Sequence[str], count: int, seed: int) -> list[list[str]]:
    """`count` random orders of the players, the same for the same seed."""
    rng = random.Random(seed)
    return [rng.sample(list(players), len(players)) for _ in range(count)]


def order_coalitions(orders: Sequence[Sequence[str]]) -> list[Coalition]:
    """The coalitions the orders pass through (each order's growing prefixes)."""
    seen: dict[Coalition, None] = {}
    for order in orders:
        for k in range(len(order) + 1):
            seen.setdefault(frozenset(order[:k]))
    return list(seen)


def sampled_shapley(
    orders: Sequence[Sequence[str]], effect: Mapping[Coalition, float]
) -> dict[str, float]:
    """The mean marginal contribution of each player over `orders`."""
    totals = dict.fromkeys(orders[0], 0.0)
    for order in orders:
        for k, player in enumerate(order):
            before = frozenset(order[:k])
            totals[player] += effect[before | {player}] - effect[before]
    return {player: total / len(orders) for player, total in totals.items()}
