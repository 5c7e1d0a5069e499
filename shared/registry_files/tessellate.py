"""Exact tilings of a rectangle: children share cut lines, so they cover the parent with no gap or overlap."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence

Rect = tuple[float, float, float, float]  # west, south, east, north, in degrees

DIGITS = 6  # about 0.1 m; every cut is rounded once and then shared by both neighbours
METRES_PER_DEGREE = 111_320.0


def rect_around(lon: float, lat: float, width_m: float, height_m: float) -> Rect:
    """A rectangle of the given size in metres centred on a lon/lat point."""
    half_w = width_m / 2 / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
    half_h = height_m / 2 / METRES_PER_DEGREE
    return (
        round(lon - half_w, DIGITS),
        round(lat - half_h, DIGITS),
        round(lon + half_w, DIGITS),
        round(lat + half_h, DIGITS),
    )


def split(rect: Rect, weights: Sequence[float], rng: random.Random, jitter: float = 0.15) -> list[Rect]:
    """Tile `rect` with one cell per weight, areas roughly proportional to the weights.

    Cells are laid out in rows (north to south), each row cut into columns (west to east), in the order
    of `weights`; cut positions are jittered so the pattern does not look like graph paper.
    """
    if not weights:
        return []
    west, south, east, north = rect
    mid_lat = (south + north) / 2
    width_m = (east - west) * math.cos(math.radians(mid_lat))
    height_m = north - south
    k = len(weights)
    rows = max(1, min(k, round(math.sqrt(k * height_m / width_m))))
    jittered = [w * rng.uniform(1 - jitter, 1 + jitter) for w in weights]
    groups = _contiguous_groups(jittered, rows)
    row_cuts = _cuts(north, south, [sum(g) for g in groups])
    cells: list[Rect] = []
    for (top, bottom), group in zip(row_cuts, groups, strict=True):
        for left, right in _cuts(west, east, group):
            cells.append((left, bottom, right, top))
    return cells


def _contiguous_groups(weights: Sequence[float], groups: int) -> list[list[float]]:
    """Split the sequence into `groups` non-empty runs of roughly equal total weight."""
    total = sum(weights)
    out: list[list[float]] = []
    start = 0
    for g in range(groups):
        remaining_groups = groups - g
        if remaining_groups == 1:
            out.append(list(weights[start:]))
            break
        target = total * (g + 1) / groups
        end = start + 1
        running = sum(weights[:end])
        # Grow the run while that brings its end closer to the target and leaves one item per later run.
        while end < len(weights) - (remaining_groups - 1) and abs(running + weights[end] - target) < abs(
            running - target
        ):
            running += weights[end]
            end += 1
        out.append(list(weights[start:end]))
        start = end
    return out


def _cuts(first: float, last: float, weights: Sequence[float]) -> list[tuple[float, float]]:
    """Consecutive (from, to) intervals from `first` to `last` with lengths proportional to weights."""
    total = sum(weights)
    edges = [first]
    running = 0.0
    for w in weights[:-1]:
        running += w
        edges.append(round(first + (last - first) * running / total, DIGITS))
    edges.append(last)
    return list(itertools.pairwise(edges))
