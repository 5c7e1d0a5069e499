"""What the importer says about files as people really produce them: GBK CSVs, unquoted codes, knock-on errors.

Each test generates its own district (other names, codes and sizes than the sample) and breaks one thing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.registry_files.generate import DistrictSpec, generate
from shared.registry_files.load import check_directory, load_directory
from shared.registry_files.validate import RegistryFileError, RegistryProblem

SPEC = DistrictSpec(
    streets=2, communities=4, grids=7, micro_grids=14, seed=77, centre=(112.55, 37.87),
    district_code="140105", district_name="小店区",
)  # fmt: skip


@pytest.fixture
def district(tmp_path: Path) -> Path:
    return generate(tmp_path / "xiaodian", SPEC)


def only(problems: tuple[RegistryProblem, ...]) -> RegistryProblem:
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def test_a_gbk_csv_says_to_save_it_as_utf8_and_names_the_file(district: Path) -> None:
    csv = district / "buildings.csv"
    csv.write_bytes(csv.read_text(encoding="utf-8").encode("gbk"))  # what Chinese Excel saves by default
    problem = only(check_directory(district))
    assert problem.file == "buildings.csv" and problem.record == "-"
    assert "buildings.csv is not UTF-8" in problem.message
    assert "Save buildings.csv as UTF-8" in problem.message and "CSV UTF-8" in problem.message
    assert "GBK" in problem.message and "line 2" in problem.message  # the header is ASCII; line 2 has 小店区's roads
    with pytest.raises(RegistryFileError) as caught:
        load_directory(district)
    assert "buildings.csv is not UTF-8" in str(caught.value)


@pytest.mark.parametrize("name", ["units.geojson", "departments.yaml", "catalog.yaml"])
def test_any_file_that_is_not_utf8_is_one_problem_not_a_cascade(district: Path, name: str) -> None:
    path = district / name
    path.write_bytes(path.read_text(encoding="utf-8").encode("gb18030"))
    problem = only(check_directory(district))  # no "unknown unit" or "unknown department" for every reference
    assert (
        problem.file == name
        and f"{name} is not UTF-8" in problem.message
        and f"Save {name} as UTF-8" in problem.message
    )


def test_an_unquoted_numeric_code_in_yaml_must_be_text(district: Path) -> None:
    path = district / "departments.yaml"
    text = path.read_text(encoding="utf-8")
    assert "code: justice\n" in text
    path.write_text(text.replace("code: justice\n", "code: 610101\n", 1), encoding="utf-8")
    catalog = district / "catalog.yaml"  # the catalog quotes the code, as it should: those references are fine
    catalog.write_text(catalog.read_text(encoding="utf-8").replace("justice", "'610101'"), encoding="utf-8")
    problem = only(check_directory(district))  # and not reported again for each matter type naming it
    assert (problem.file, problem.record, problem.field) == ("departments.yaml", "610101", "code")
    assert (
        problem.message.startswith("must be text, not the number 610101") and "quote it ('610101')" in problem.message
    )


def test_a_numeric_unit_code_is_named_and_its_references_are_not_reported_again(district: Path) -> None:
    path = district / "units.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    street = next(f for f in doc["features"] if f["properties"]["level"] == "street")
    code = street["properties"]["code"]
    street["properties"]["code"] = int(code)  # a GIS export that wrote the code as a number
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    problem = only(check_directory(district))  # its communities' parent and the branches covering it: not again
    assert (problem.file, problem.record, problem.field) == ("units.geojson", code, "code")
    assert f"must be text, not the number {int(code)}" in problem.message


def test_a_numeric_code_in_a_list_names_the_entry(district: Path) -> None:
    path = district / "departments.yaml"
    text = path.read_text(encoding="utf-8")
    street = f"{SPEC.district_code}001"
    quoted = f"covers: ['{street}'"
    assert quoted in text
    path.write_text(text.replace(quoted, f"covers: [{street}", 1), encoding="utf-8")
    problem = only(check_directory(district))
    assert problem.file == "departments.yaml" and problem.field == "covers[0]"
    assert f"must be text, not the number {street}" in problem.message


def test_a_code_a_spreadsheet_turned_into_a_number_is_refused_clearly(district: Path) -> None:
    csv = district / "buildings.csv"
    lines = csv.read_text(encoding="utf-8").splitlines()
    cells = lines[1].split(",")
    cells[2] = "1.40105E+17"  # the micro-grid code as Excel shows an 18-digit number
    lines[1] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problem = only(check_directory(district))
    assert (problem.file, problem.record, problem.field) == ("buildings.csv", cells[0], "micro_grid")
    assert (
        "is a number as a spreadsheet writes it" in problem.message and "format the column as text" in problem.message
    )


def test_a_rejected_department_is_not_reported_again_by_the_catalog(district: Path) -> None:
    path = district / "departments.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("- code: gas\n")
    name_line = text.index("  name:", start)
    end = text.index("\n", name_line)
    path.write_text(text[:name_line] + "  name: ''" + text[end:], encoding="utf-8")  # gas has no name now
    problem = only(check_directory(district))  # gas_leak's lead_department: gas is not "unknown"
    assert (problem.file, problem.record, problem.field) == ("departments.yaml", "gas", "name")
