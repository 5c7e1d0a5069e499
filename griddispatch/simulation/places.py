"""Where simulated reports happen: points inside micro-grid polygons, and points a few metres from another."""

from __future__ import annotations

import math
import random

import shapely

from shared.domain.model import Unit

METRES_PER_DEGREE_LAT = 111_320.0


def point_in(unit: Unit, rng: random.Random, tries: int = 200) -> tuple[float, float]:
    """A point inside the unit's boundary, by rejection sampling on its bounding box."""
    if unit.boundary is None:
        raise ValueError(f"unit {unit.code} has no boundary to place a report in")
    min_x, min_y, max_x, max_y = unit.boundary.bounds
    for _ in range(tries):
        # rounded to 6 decimals (about 0.1 m) as a phone sends it, and checked after rounding
        lon, lat = round(rng.uniform(min_x, max_x), 6), round(rng.uniform(min_y, max_y), 6)
        if shapely.contains_xy(unit.boundary, lon, lat):
            return lon, lat
    # A sliver the box barely holds: its representative point is inside by construction.
    p = unit.boundary.representative_point()
    return round(p.x, 6), round(p.y, 6)


def offset(lon: float, lat: float, metres: float, rng: random.Random) -> tuple[float, float]:
    """A point about `metres` away from (lon, lat) in a random direction (equirectangular, fine below 1 km)."""
    bearing = rng.uniform(0, 2 * math.pi)
    d_lat = metres * math.cos(bearing) / METRES_PER_DEGREE_LAT
    d_lon = metres * math.sin(bearing) / (METRES_PER_DEGREE_LAT * math.cos(math.radians(lat)))
    return round(lon + d_lon, 6), round(lat + d_lat, 6)


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres between two (lon, lat) points."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))
