"""A deterministic generator of plausible districts, written in the registry file format.

    python -m shared.registry_files.generate --out data/sample-district \\
        --streets 4 --communities 16 --grids 48 --micro-grids 240 --seed 20240730

The same arguments give byte-identical files. Units are nested rectangles that tile their parents exactly
(shared cut lines, coordinates rounded once), around a real-looking centre (Xi'an Lianhu by default).
Departments come from `sample_departments.yaml` (a template: branches are laid out per street) and the
matter catalog is `sample_catalog.yaml`, copied as is. Command centres are implied at street and
district level. 20,000 micro-grids take a few seconds.
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
import yaml

from shared.domain.model import Branch, Building, Department, Level, Person, Unit
from shared.registry_files import names, write
from shared.registry_files.tessellate import DIGITS, Rect, rect_around, split

HERE = Path(__file__).parent
DEPARTMENTS_TEMPLATE = HERE / "sample_departments.yaml"
CATALOG_TEMPLATE = HERE / "sample_catalog.yaml"
MAX_CHILDREN = 999  # codes give three digits per level


@dataclass(frozen=True, slots=True)
class DistrictSpec:
    """What to generate. Counts are totals for the whole district."""

    streets: int = 4
    communities: int = 16
    grids: int = 48
    micro_grids: int = 240
    buildings_per_micro_grid: int = 2
    seed: int = 20240730
    centre: tuple[float, float] = (108.93, 34.27)  # lon, lat: Lianhu district, Xi'an
    micro_grid_size_m: float = 150.0  # side of an average micro-grid (30-50 households)
    district_code: str = "610199"
    district_name: str = "丰庆区"

    def __post_init__(self) -> None:
        counts = [("streets", self.streets), ("communities", self.communities)]
        counts += [("grids", self.grids), ("micro_grids", self.micro_grids)]
        for (upper, n_upper), (lower, n_lower) in itertools.pairwise(counts):
            if n_lower < n_upper:
                raise ValueError(f"need at least as many {lower} as {upper} ({n_lower} < {n_upper})")
            if n_lower > n_upper * MAX_CHILDREN // 2:
                raise ValueError(f"too many {lower} per {upper.rstrip('s')} for three-digit codes")
        if self.streets < 1 or self.buildings_per_micro_grid < 0 or self.micro_grid_size_m <= 0:
            raise ValueError("need at least one street, no negative buildings and a positive micro-grid size")


@dataclass(frozen=True, slots=True)
class District:
    """A generated district as domain values, ready to write or to build a Registry from."""

    units: tuple[Unit, ...]
    departments: tuple[Department, ...]
    branches: tuple[Branch, ...]
    buildings: tuple[Building, ...]


@dataclass
class _Builder:
    spec: DistrictSpec
    rng: random.Random
    units: list[Unit] = field(default_factory=list)
    buildings: list[Building] = field(default_factory=list)
    roads: set[str] = field(default_factory=set)

    def add(self, code: str, name: str, level: Level, parent: str | None, rect: Rect, people: int) -> None:
        staff = tuple(self._person(code, i, level) for i in range(people))
        box = shapely.box(*rect)
        self.units.append(Unit(code=code, name=name, level=level, parent=parent, boundary=box, people=staff))

    def _person(self, unit_code: str, index: int, level: Level) -> Person:
        role = {
            Level.MICRO_GRID: "volunteer",
            Level.GRID: "grid_head" if index == 0 else "grid_worker",
        }.get(level, "duty_officer")
        phone = names.masked_phone(self.rng)
        return Person(id=f"{unit_code}-p{index + 1}", name=names.person_name(self.rng), role=role, phone=phone)

    def add_buildings(self, micro_code: str, rect: Rect, road: str, number: int) -> None:
        west, south, east, north = rect
        for b in range(1, self.spec.buildings_per_micro_grid + 1):
            # Keep points well inside, so they stay inside after rounding.
            lon = round(self.rng.uniform(west + 0.1 * (east - west), east - 0.1 * (east - west)), DIGITS)
            lat = round(self.rng.uniform(south + 0.1 * (north - south), north - 0.1 * (north - south)), DIGITS)
            self.buildings.append(
                Building(f"{micro_code}-{b:02d}", f"{road}{number}号院{b}号楼", micro_code, lon=lon, lat=lat)
            )


def allocate(total: int, parents: int, rng: random.Random, spread: float = 0.3) -> list[int]:
    """`total` children over `parents`, each at least one, varying by about ±`spread`."""
    weights = [rng.uniform(1 - spread, 1 + spread) for _ in range(parents)]
    spare = total - parents
    shares = [spare * w / sum(weights) for w in weights]
    counts = [1 + math.floor(s) for s in shares]
    by_fraction = sorted(range(parents), key=lambda i: (math.floor(shares[i]) - shares[i], i))
    for i in by_fraction[: total - sum(counts)]:
        counts[i] += 1
    return counts


def build_district(spec: DistrictSpec | None = None) -> District:
    """The district's units, departments, branches and buildings, as values."""
    spec = spec or DistrictSpec()
    rng = random.Random(spec.seed)
    b = _Builder(spec, rng)

    streets = allocate(spec.communities, spec.streets, rng)
    communities = allocate(spec.grids, spec.communities, rng)
    grids = allocate(spec.micro_grids, spec.grids, rng)
    # micro-grids under each street / community, to size their areas
    grid_iter = iter(grids)
    community_micro = [[next(grid_iter) for _ in range(n)] for n in communities]
    community_iter = iter(community_micro)
    street_tree = [[next(community_iter) for _ in range(n)] for n in streets]

    area = spec.micro_grids * spec.micro_grid_size_m**2
    width = math.sqrt(area * 1.25)
    district_rect = rect_around(*spec.centre, width, area / width)
    district = spec.district_code
    b.add(district, spec.district_name, Level.DISTRICT, None, district_rect, people=2)

    street_names = names.street_names(spec.streets, rng)
    cores = iter(names.community_cores(spec.communities, rng))
    street_rects = split(district_rect, [sum(map(sum, s)) for s in street_tree], rng)
    for si, (s_rect, s_tree) in enumerate(zip(street_rects, street_tree, strict=True), start=1):
        street = f"{district}{si:03d}"
        b.add(street, street_names[si - 1], Level.STREET, district, s_rect, people=2)
        community_rects = split(s_rect, [sum(c) for c in s_tree], rng)
        for ci, (c_rect, c_grids) in enumerate(zip(community_rects, s_tree, strict=True), start=1):
            _community(b, street, ci, c_rect, c_grids, next(cores))
    return District(
        units=tuple(b.units),
        departments=tuple(_departments(spec)),
        branches=tuple(_branches(spec, b.units)),
        buildings=tuple(b.buildings),
    )


def _community(b: _Builder, street: str, index: int, rect: Rect, grids: list[int], core: str) -> None:
    code = f"{street}{index:03d}"
    community = f"{core}社区"
    road = names.road_for(core, b.rng, b.roads)
    b.add(code, community, Level.COMMUNITY, street, rect, people=1)
    number = 0
    for gi, (g_rect, n_micro) in enumerate(zip(split(rect, grids, b.rng), grids, strict=True), start=1):
        grid = f"{code}{gi:03d}"
        b.add(grid, f"{community}第{gi}网格", Level.GRID, code, g_rect, people=2)
        for mi, m_rect in enumerate(split(g_rect, [1.0] * n_micro, b.rng), start=1):
            number += 1
            micro = f"{grid}{mi:03d}"
            b.add(micro, f"{community}邻里格{number}", Level.MICRO_GRID, grid, m_rect, people=1)
            b.add_buildings(micro, m_rect, road, number)


def _template() -> list[dict[str, Any]]:
    doc = yaml.safe_load(DEPARTMENTS_TEMPLATE.read_text(encoding="utf-8"))
    return list(doc["departments"])


def _departments(spec: DistrictSpec) -> list[Department]:
    return [
        Department(code=d["code"], name=d["name"].format(district=spec.district_name), name_en=d["name_en"])
        for d in _template()
    ]


def _branches(spec: DistrictSpec, units: Sequence[Unit]) -> list[Branch]:
    streets = [u for u in units if u.level is Level.STREET]
    out: list[Branch] = []
    for d in _template():
        rule = d.get("branch")
        if not rule:
            continue
        per = int(rule.get("streets_per_branch", 1))
        for i in range(0, len(streets), per):
            covered = streets[i : i + per]
            first = covered[0]
            name = rule["name"].format(district=spec.district_name, street=first.name.removesuffix("街道"))
            out.append(Branch(f"{d['code']}-{first.code}", d["code"], name, tuple(u.code for u in covered)))
    return out


def write_district(district: District, out: Path, catalog_text: str | None = None) -> None:
    """Write the four registry files into `out` (created if missing)."""
    out.mkdir(parents=True, exist_ok=True)
    write.write_units(out / "units.geojson", district.units)
    write.write_departments(out / "departments.yaml", district.departments, district.branches)
    write.write_buildings(out / "buildings.csv", district.buildings)
    text = catalog_text if catalog_text is not None else CATALOG_TEMPLATE.read_text(encoding="utf-8")
    (out / "catalog.yaml").write_text(text, encoding="utf-8")


def generate(out: str | Path, spec: DistrictSpec | None = None) -> Path:
    """Generate a district into the directory `out` and return its path."""
    path = Path(out)
    write_district(build_district(spec), path)
    return path


def _parse_args(argv: Sequence[str] | None) -> tuple[Path, DistrictSpec]:
    d = DistrictSpec()
    p = argparse.ArgumentParser(prog="python -m shared.registry_files.generate", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True, help="directory to write the registry files into")
    p.add_argument("--streets", type=int, default=d.streets)
    p.add_argument("--communities", type=int, default=d.communities)
    p.add_argument("--grids", type=int, default=d.grids)
    p.add_argument("--micro-grids", type=int, default=d.micro_grids)
    p.add_argument("--buildings-per-micro-grid", type=int, default=d.buildings_per_micro_grid)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--centre", default=f"{d.centre[0]},{d.centre[1]}", help="lon,lat of the district centre")
    p.add_argument("--micro-grid-size-m", type=float, default=d.micro_grid_size_m)
    p.add_argument("--district-code", default=d.district_code)
    p.add_argument("--district-name", default=d.district_name)
    a = p.parse_args(argv)
    lon, lat = (float(v) for v in a.centre.split(","))
    try:
        spec = DistrictSpec(
            streets=a.streets,
            communities=a.communities,
            grids=a.grids,
            micro_grids=a.micro_grids,
            buildings_per_micro_grid=a.buildings_per_micro_grid,
            seed=a.seed,
            centre=(lon, lat),
            micro_grid_size_m=a.micro_grid_size_m,
            district_code=a.district_code,
            district_name=a.district_name,
        )
    except ValueError as exc:
        p.error(str(exc))
    return a.out, spec


def main(argv: Sequence[str] | None = None) -> int:
    out, spec = _parse_args(argv)
    district = build_district(spec)
    write_district(district, out)
    sys.stdout.write(
        f"wrote {out}: {len(district.units)} units ({spec.micro_grids} micro-grids), "
        f"{len(district.departments)} departments, {len(district.branches)} branches, "
        f"{len(district.buildings)} buildings\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
