"""Registry.locate_point's cell index finds the micro-grids a bare STRtree query with a Point finds."""

from __future__ import annotations

import random
from pathlib import Path

import shapely
from shapely import STRtree

from shared.domain.model import Level
from shared.registry_files.generate import DistrictSpec, generate
from shared.registry_files.load import load_directory


def test_the_cells_give_the_polygons_a_point_intersects_inside_outside_and_on_boundaries(tmp_path: Path) -> None:
    generate(tmp_path, DistrictSpec(streets=2, communities=10, grids=50, micro_grids=600, seed=7))
    registry = load_directory(tmp_path).registry
    micro = sorted(registry.units_at(Level.MICRO_GRID), key=lambda u: u.code)
    tree = STRtree([u.boundary for u in micro])
    x0, y0, x1, y1 = registry.roots[0].boundary.bounds
    rng = random.Random(7)
    points = [(rng.uniform(x0 - 0.01, x1 + 0.01), rng.uniform(y0 - 0.01, y1 + 0.01)) for _ in range(3000)]
    for u in micro:  # vertices and edge midpoints: shared boundaries, several micro-grids at once
        (ax, ay), (bx, by) = list(u.boundary.exterior.coords)[:2]
        points += [(ax, ay), ((ax + bx) / 2, (ay + by) / 2)]
    shared_boundary = 0
    for lon, lat in points:
        hits = [micro[int(i)] for i in tree.query(shapely.Point(lon, lat), predicate="intersects")]
        inside = [u for u in hits if shapely.contains_xy(u.boundary, lon, lat)]
        expected = min(inside or hits, key=lambda u: u.code) if hits else None
        assert registry.locate_point(lon, lat) == expected, (lon, lat)
        shared_boundary += len(hits) > 1
    assert shared_boundary > 500  # the boundary cases were exercised
