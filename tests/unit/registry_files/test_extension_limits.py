"""The catalog's extension limits (docs/registry-format.md#extension-limits): the district default at the top of
catalog.yaml, a matter type's own overriding it field by field, and what a wrong value reports."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from shared.domain.model import DEFAULT_EXTENSION, ExtensionRule
from shared.registry_files import write as writer
from shared.registry_files.load import load_directory
from tests.unit.registry_files.test_load_validate import MATTERS, make_dir, named, problems_in


def _catalog(tmp_path: Path, top: dict[str, Any] | None, **per_matter: Any) -> Path:
    make_dir(tmp_path)
    matters = copy.deepcopy(MATTERS)
    for m in matters:
        if m["code"] in per_matter:
            m["extension"] = per_matter[m["code"]]
    doc: dict[str, Any] = {"matter_types": matters}
    if top is not None:
        doc = {"extension": top, **doc}
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return tmp_path


def test_a_catalog_without_limits_allows_one_extension_of_five_working_days_and_keeps_its_version(
    tmp_path: Path,
) -> None:
    plain = load_directory(make_dir(tmp_path / "a"))
    assert plain.catalog.extension == DEFAULT_EXTENSION == ExtensionRule(1, 5.0)
    stated = load_directory(_catalog(tmp_path / "b", {"max_count": 1}))
    assert stated.catalog.version == plain.catalog.version  # the default, written out, is no new content


def test_a_matter_type_overrides_the_district_default_field_by_field(tmp_path: Path) -> None:
    first, second = MATTERS[0]["code"], MATTERS[1]["code"]
    loaded = load_directory(_catalog(tmp_path, {"max_count": 3, "max_working_days": 2}, **{first: {"max_count": 0}}))
    catalog = loaded.catalog
    assert catalog.extension == ExtensionRule(3, 2.0)
    assert catalog.extension_of(first) == ExtensionRule(0, 2.0)
    assert catalog.extension_of(second) == catalog.extension == catalog.extension_of(None)


def test_wrong_limits_are_reported_by_field(tmp_path: Path) -> None:
    first = MATTERS[0]["code"]
    directory = _catalog(tmp_path, {"max_count": -1}, **{first: {"max_working_days": "many", "days": 1}})
    problems = problems_in(directory)
    assert "0 or more" in named(problems, "catalog.yaml", "-", "extension.max_count").message
    assert "number" in named(problems, "catalog.yaml", first, "extension.max_working_days").message
    assert "unknown field" in named(problems, "catalog.yaml", first, "extension.days").message
    not_a_mapping = problems_in(_catalog(tmp_path / "x", None, **{first: 2}))
    assert "must be a mapping" in named(not_a_mapping, "catalog.yaml", first, "extension").message


def test_written_limits_load_back_identically(tmp_path: Path) -> None:
    first = MATTERS[0]["code"]
    loaded = load_directory(_catalog(tmp_path / "in", {"max_count": 2}, **{first: {"max_working_days": 8}}))
    out = tmp_path / "out"
    make_dir(out)
    writer.write_catalog(out / "catalog.yaml", loaded.catalog)
    again = load_directory(out)
    assert again.catalog.version == loaded.catalog.version
    assert again.catalog.extension_of(first) == ExtensionRule(2, 8.0)
