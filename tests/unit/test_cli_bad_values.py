"""Every command-line option that parses a value: a bad value is one line naming the option and the form
expected, exit status 2, no traceback; and nothing is started or connected before it is refused.

Run through griddispatch.console.run_cli, the path `griddispatch` itself takes (griddispatch.cli.main), and the
issue's own example also as a real subprocess.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from griddispatch.cli import app
from griddispatch.console import run_cli
from tests.cli import griddispatch

REPORT = {"title": "井盖丢失", "location": {"lon": 108.9352, "lat": 34.2721}}

# (arguments, the option named, a phrase of the expected form)
BAD_VALUES: list[tuple[list[str], str, str]] = [
    (["route", "{report}", "--now", "yesterday"], "--now", "ISO 8601 time with a time zone offset"),
    (["route", "{report}", "--now", "2026-02-30T10:00:00+08:00"], "--now", "day is out of range"),
    (["route", "{report}", "--now", "2026-11-22T09:00:00"], "--now", "no time zone offset"),
    (["route", "{report}", "--registry", "/no/such/registry"], "--registry", "does not exist"),
    (["serve", "intake", "--port", "99999"], "--port", "from 1 to 65535"),
    (["serve", "intake", "--port", "http"], "--port", "whole number"),
    (["serve", "notify", "--host", "999.1.1.1"], "--host", "IP address or a host name"),
    (["simulate", "--rate", "abc"], "--rate", "a number above 0"),
    (["simulate", "--rate", "0"], "--rate", "a number above 0"),
    (["simulate", "--rate", "nan"], "--rate", "finite number"),
    (["simulate", "--duration", "-1"], "--duration", "a number above 0"),
    (["simulate", "--mix", "hotline=lots"], "--mix", "SOURCE=SHARE"),
    (["simulate", "--mix", "pigeon=1"], "--mix", "unknown source 'pigeon'"),
    (["simulate", "--mix", "hotline"], "--mix", "not source=share"),
    (["simulate", "--via", "pigeon"], "--via", "http, kafka"),
    (["simulate", "--seed", "abc"], "--seed", "whole number"),
    (["simulate", "--url", "http://[bad"], "--url", "http(s) URL"),
    (["simulate", "--url", "ftp://intake"], "--url", "http(s) URL"),
    (["simulate", "--url", "http://127.0.0.1:99999"], "--url", "http(s) URL"),
    (["simulate", "--max-in-flight", "0"], "--max-in-flight", "at least 1"),
    (["simulate", "--wait", "-5"], "--wait", "at least 0"),
    (["simulate", "--registry", "/no/such/registry"], "--registry", "does not exist"),
    (["demo", "replay", "--speedup", "fast"], "--speedup", "a number above 0"),
    (["demo", "replay", "--hours", "25"], "--hours", "at most 24"),
    (["demo", "replay", "--hours", "0"], "--hours", "above 0"),
    (["demo", "replay", "--start-hour", "24"], "--start-hour", "below 24"),
    (["demo", "replay", "--scale", "0"], "--scale", "above 0"),
    (["demo", "replay", "--seed", "1.5"], "--seed", "whole number"),
    (["demo", "replay", "--tail-hours", "-1"], "--tail-hours", "at least 0"),
    (["demo", "replay", "--deadline-scale", "2"], "--deadline-scale", "at most 1"),
    (["demo", "replay", "--deadline-wait", "inf"], "--deadline-wait", "finite number"),
    (["demo", "replay", "--url", "intake"], "--url", "http(s) URL"),
    (["demo", "replay", "--dispatch-url", "localhost:8001"], "--dispatch-url", "http(s) URL"),
    (["demo", "summary", "--dispatch-url", "nowhere"], "--dispatch-url", "http(s) URL"),
    (["demo", "summary", "--url", "nowhere"], "--url", "http(s) URL"),
    (["clients", "create", "--name", "x", "--scope", "everything", "--unit", "*"], "--scope", "submit, read"),
    (["clients", "create", "--name", "x", "--scope", "read", "--unit", "lianhu"], "--unit", "unit:<code>"),
    (
        ["clients", "create", "--name", "x", "--scope", "read", "--unit", "*", "--rate-per-min", "0"],
        "--rate-per-min",
        "at least 1",
    ),
    (["contracts", "asyncapi", "--prefix", "a/b"], "--prefix", "letters, digits"),
    (["infra", "cluster", "start", "7"], "node", "less than or equal to 3"),
]


@pytest.fixture
def report(tmp_path: Path) -> str:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(REPORT, ensure_ascii=False), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(("args", "option", "expected"), BAD_VALUES, ids=[" ".join(a) for a, _, _ in BAD_VALUES])
def test_a_bad_value_is_one_line_naming_the_option_and_exit_2(
    args: list[str], option: str, expected: str, report: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli(app, [a.replace("{report}", report) for a in args])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    [line] = lines
    assert line.startswith("error: Invalid value for "), line
    assert f"'{option}'" in line and expected in line, line
    assert "Traceback" not in err and out == ""


def test_good_values_still_parse(report: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sample = Path(__file__).resolve().parents[2] / "data" / "sample-district"
    code = run_cli(app, ["route", report, "--registry", str(sample), "--now", "2026-11-24T10:00:00+08:00"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["level"]
    out_file = tmp_path / "asyncapi.yaml"
    assert run_cli(app, ["contracts", "asyncapi", "--prefix", "gd-test.1", "--out", str(out_file)]) == 0
    assert "gd-test.1.reports" in out_file.read_text(encoding="utf-8")


def test_the_issues_example_as_a_real_command(report: str) -> None:
    """`griddispatch route --now yesterday` ended in a Python traceback; now one line and exit status 2."""
    result = griddispatch(
        "route", report, "--now", "yesterday", env={"GRIDDISPATCH_DB_URL": "postgresql://x@127.0.0.1:9/x"}
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: Invalid value for '--now': 'yesterday' is not a time; expected an ISO 8601 time with a time zone "
        "offset, e.g. 2026-11-22T09:00:00+08:00 (see 'griddispatch route --help')"
    ]


def test_usage_errors_are_one_line_too(capsys: pytest.CaptureFixture[str]) -> None:
    for args, phrase in [
        (["simulate", "--no-such-option"], "No such option: --no-such-option"),
        (["route"], "Missing argument 'REPORT.json'"),
        (["infra", "cluster", "explode"], "No such command 'explode'"),
    ]:
        assert run_cli(app, args) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and phrase in err, err
