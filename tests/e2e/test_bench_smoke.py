"""bench.end_to_end runs, with a tiny parameter set, on the real broker and database, and prints its tables.

The figures are not judged (the machine may be busy); that every case got through both paths is.
"""

from __future__ import annotations

import re
import subprocess
import sys

from shared.settings import PROJECT_ROOT, LocalInfraSettings

BASE_PORT = 18355  # services 18355-18358, receiver 18359 (a full run of the bench uses 18350-18354)


def _row(output: str, label: str) -> list[str]:
    line = next((line for line in output.splitlines() if line.startswith(label)), None)
    assert line is not None, f"no row {label!r} in:\n{output}"
    return re.split(r"\s{2,}", line.strip())


def test_end_to_end_bench_prints_its_tables(local_infra: LocalInfraSettings) -> None:
    argv = [sys.executable, "-m", "bench.end_to_end", "--quick", "--rates", "5", "--seconds", "2"]
    argv += ["--messages", "300", "--rows", "200", "--base-port", str(BASE_PORT)]
    done = subprocess.run(argv, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=170, check=False)
    output = done.stdout
    assert done.returncode == 0, f"{output}\n{done.stderr[-4000:]}"

    for title in (
        "end to end, per offered rate",
        "sustained (highest offered rate held",
        "raw capacity, same broker and database, same run",
        "each service process",
    ):
        assert title in output, output
    for path in ("HTTP", "Kafka"):
        cells = _row(output, f"{path} at 5/s for 2 s")
        cases, missing = cells[1], cells[6]
        assert cases == "10", cells  # 5/s for 2 s, none shed or refused
        assert missing == "0", cells  # every case reached its assignment event and its webhook
    for service in ("intake", "dispatch", "escalation", "notify"):
        cells = _row(output, f"{service} (pid ")
        assert float(cells[-1].replace(",", "")) > 10, cells  # a peak RSS in MiB was read from /proc
    assert re.search(r"postgres INSERT, one row per committed transaction\s+[\d,]+\s+200", output), output
    assert re.search(r"kafka consume, one consumer\s+[\d,]+\s+330", output), output
