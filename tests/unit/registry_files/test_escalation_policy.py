"""The catalog's escalation policy (docs/registry-format.md#escalation-policy): the district default at the top of
catalog.yaml, a matter type's own overriding it field by field, and what a wrong value reports."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from shared.domain.model import DEFAULT_ESCALATION, EscalationPolicy, EscalationRule
from shared.registry_files import write as writer
from shared.registry_files.generate import DistrictSpec, generate
from shared.registry_files.load import load_directory
from tests.unit.registry_files.test_load_validate import MATTERS, make_dir, named, problems_in

SUPERVISE, TAKE_OVER = EscalationPolicy.SUPERVISE, EscalationPolicy.TAKE_OVER


def _catalog(tmp_path: Path, top: dict[str, Any] | None, **per_matter: Any) -> Path:
    make_dir(tmp_path)
    matters = copy.deepcopy(MATTERS)
    for m in matters:
        if m["code"] in per_matter:
            m["escalation"] = per_matter[m["code"]]
    doc: dict[str, Any] = {"matter_types": matters}
    if top is not None:
        doc = {"escalation": top, **doc}
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return tmp_path


def test_a_catalog_without_escalation_takes_over_as_before_and_keeps_its_version(tmp_path: Path) -> None:
    plain = load_directory(make_dir(tmp_path / "a"))
    assert plain.catalog.escalation == DEFAULT_ESCALATION and DEFAULT_ESCALATION.policy is TAKE_OVER
    assert all(plain.catalog.escalation_of(code) == DEFAULT_ESCALATION for code in plain.catalog.codes)
    stated = load_directory(_catalog(tmp_path / "b", {"policy": "take_over"}))
    assert stated.catalog.version == plain.catalog.version  # the default, written out, is no new content


def test_a_matter_type_overrides_the_district_default_field_by_field(tmp_path: Path) -> None:
    first, second = MATTERS[0]["code"], MATTERS[1]["code"]
    top = {"policy": "supervise", "take_over_after": 3, "reply_within_hours": 12}
    loaded = load_directory(_catalog(tmp_path, top, **{first: {"policy": "take_over"}}))
    catalog = loaded.catalog
    assert catalog.escalation == EscalationRule(SUPERVISE, 3, 12.0)
    assert catalog.escalation_of(first) == EscalationRule(TAKE_OVER, 3, 12.0)
    assert catalog.escalation_of(second) == catalog.escalation and catalog.escalation_of("nope") == catalog.escalation
    assert not catalog.escalation.takes_over(2) and catalog.escalation.takes_over(3)
    assert catalog.escalation_of(first).takes_over(1)


def test_wrong_escalation_values_are_reported_by_field(tmp_path: Path) -> None:
    first = MATTERS[0]["code"]
    directory = _catalog(tmp_path, {"policy": "shout"}, **{first: {"take_over_after": 1, "colour": "red"}})
    problems = problems_in(directory)
    assert "unknown value 'shout'" in named(problems, "catalog.yaml", "-", "escalation.policy").message
    assert "2 or more" in named(problems, "catalog.yaml", first, "escalation.take_over_after").message
    assert "unknown field" in named(problems, "catalog.yaml", first, "escalation.colour").message
    not_a_mapping = problems_in(_catalog(tmp_path / "x", None, **{first: "supervise"}))
    assert "must be a mapping" in named(not_a_mapping, "catalog.yaml", first, "escalation").message


def test_written_policies_load_back_identically(tmp_path: Path) -> None:
    first = MATTERS[0]["code"]
    loaded = load_directory(_catalog(tmp_path / "in", {"policy": "supervise"}, **{first: {"take_over_after": 4}}))
    out = tmp_path / "out"
    make_dir(out)
    writer.write_catalog(out / "catalog.yaml", loaded.catalog)
    again = load_directory(out)
    assert again.catalog.version == loaded.catalog.version
    assert again.catalog.escalation_of(first) == EscalationRule(SUPERVISE, 4)


def test_a_generated_district_carries_both_policies(tmp_path: Path) -> None:
    loaded = load_directory(generate(tmp_path / "d", DistrictSpec(streets=1, communities=1, grids=1, micro_grids=1)))
    policies = {loaded.catalog.escalation_of(code).policy for code in loaded.catalog.codes}
    assert policies == {SUPERVISE, TAKE_OVER}
    assert loaded.catalog.escalation_of("dog_nuisance") == EscalationRule(SUPERVISE, 3)
