"""Writing domain values in the registry file format (the inverse of `parse.py`)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import shapely.geometry
import yaml

from shared.domain.catalog import MatterCatalog
from shared.domain.model import (
    DEFAULT_ESCALATION,
    DEFAULT_EXTENSION,
    Branch,
    Building,
    Department,
    MatterType,
    Person,
    Unit,
)
from shared.registry_files import escalation, extension


def _people(people: Iterable[Person]) -> list[dict[str, Any]]:
    return [{"id": p.id, "name": p.name, "role": p.role, "phone": p.phone} for p in people]


def unit_feature(u: Unit) -> dict[str, Any]:
    props: dict[str, Any] = {"code": u.code, "name": u.name, "level": u.level.value, "parent": u.parent}
    if u.people:
        props["people"] = _people(u.people)
    geometry = shapely.geometry.mapping(u.boundary) if u.boundary is not None else None
    return {"type": "Feature", "properties": props, "geometry": geometry}


def write_units(path: Path, units: Iterable[Unit]) -> None:
    """A GeoJSON FeatureCollection, one feature per line so that diffs stay readable."""
    lines = [json.dumps(unit_feature(u), ensure_ascii=False, separators=(",", ":")) for u in units]
    body = ",\n".join(lines)
    path.write_text(f'{{"type":"FeatureCollection","features":[\n{body}\n]}}\n', encoding="utf-8")


def write_departments(path: Path, departments: Sequence[Department], branches: Sequence[Branch]) -> None:
    docs = []
    for d in departments:
        entry: dict[str, Any] = {"code": d.code, "name": d.name, "name_en": d.name_en}
        if d.people:
            entry["people"] = _people(d.people)
        own = [_branch(b) for b in branches if b.department == d.code]
        if own:
            entry["branches"] = own
        docs.append(entry)
    _dump_yaml(path, {"departments": docs})


def _branch(b: Branch) -> dict[str, Any]:
    entry: dict[str, Any] = {"code": b.code, "name": b.name, "covers": list(b.covers)}
    if b.people:
        entry["people"] = _people(b.people)
    return entry


def write_catalog(path: Path, matters: Iterable[MatterType]) -> None:
    docs = [
        {
            "code": m.code,
            "name": m.name,
            "name_en": m.name_en,
            "keywords": list(m.keywords),
            "level": m.level.value,
            "lead_department": m.lead_department,
            "assisting_departments": list(m.assisting_departments),
            "accept_within_hours": m.accept_within_hours,
            "resolve_within": m.resolve_within,
            "clock": m.clock.value,
            "returnable_by": [lv.value for lv in m.returnable_by],
            "safety": m.safety,
            "warn_at": list(m.warn_at),
            **({"escalation": escalation.as_document(m.escalation)} if m.escalation is not None else {}),
            **({"extension": extension.as_document(m.extension)} if m.extension is not None else {}),
        }
        for m in matters
    ]
    default = matters.escalation if isinstance(matters, MatterCatalog) else DEFAULT_ESCALATION
    top = {"escalation": escalation.as_document(default)} if default != DEFAULT_ESCALATION else {}
    limits = matters.extension if isinstance(matters, MatterCatalog) else DEFAULT_EXTENSION
    if limits != DEFAULT_EXTENSION:
        top["extension"] = extension.as_document(limits)
    _dump_yaml(path, {**top, "matter_types": docs})


def write_buildings(path: Path, buildings: Iterable[Building]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["code", "address", "micro_grid", "lon", "lat"])
        for b in buildings:
            out.writerow([b.code, b.address, b.micro_grid, _num(b.lon), _num(b.lat)])


def _num(value: float | None) -> str:
    return "" if value is None else repr(value)


def _dump_yaml(path: Path, doc: dict[str, Any]) -> None:
    # default_flow_style=None keeps short scalar lists inline ([a, b]) and everything else in blocks.
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, default_flow_style=None, width=120)
    path.write_text(text, encoding="utf-8")
