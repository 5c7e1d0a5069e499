"""route() on a generated district gives the decisions and traces it gave before the speed work (issue 18 item 4).

The reference is a fingerprint (SHA-256) of every decision, trace included, for a seeded mix of reports (the
mix of bench.routing) over a generated district, taken at a3c9893, before the catalog's automaton, the cached
working days and the micro-grid cell index. Working-day deadlines are spread over the Spring Festival and
National Day of 2026 and a year outside chinese_calendar's data, so the cached day walks are exercised. A
change that means to change decisions updates the fingerprint here, saying why; the per-report digests let a
failure name the first report that differs.
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bench.routing import reports
from shared.domain.routing import route
from shared.registry_files.generate import DistrictSpec, generate
from shared.registry_files.load import load_directory

CST = timezone(timedelta(hours=8))
STARTS = tuple(
    datetime(y, m, d, h, mi, tzinfo=CST)
    for y, m, d, h, mi in (
        (2026, 3, 4, 10, 0),
        (2026, 2, 13, 16, 30),  # the Friday before the Spring Festival break
        (2026, 9, 30, 18, 5),  # the evening before National Day
        (2026, 10, 10, 8, 59),  # a make-up working Saturday
        (2099, 6, 1, 12, 0),  # outside chinese_calendar's years: weekdays assumed
    )
)
# Updated when wt-clock and wt-routing met (2026-12-02): the catalog's content hash now covers its extension limits
# (issue 16 item 4), so every decision's `catalog_version` changed; nothing else did (the first 40 decisions'
# reprs compared with catalog_version removed: 0 of 40 differ).
REFERENCE = "79281e60539d05f9356ebf8e826685ccd0f6f5b6a3fe644c0a5f3a29ae778e76"


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root: Path = tmp_path_factory.mktemp("reference-district")
    generate(root, DistrictSpec(streets=2, communities=20, grids=100, micro_grids=1000, seed=20261202))
    return load_directory(root)


def digests(district) -> list[str]:  # type: ignore[no-untyped-def]
    mix = reports(district.registry, district.catalog, 1500, random.Random(20261202))
    out = []
    for i, report in enumerate(mix):
        decision = route(report, district.registry, district.catalog, STARTS[i % len(STARTS)])
        out.append(hashlib.sha256(repr(decision).encode()).hexdigest())
    return out


def test_decisions_and_traces_are_those_of_the_reference(district) -> None:  # type: ignore[no-untyped-def]
    found = hashlib.sha256("".join(digests(district)).encode()).hexdigest()
    assert found == REFERENCE
