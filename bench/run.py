"""`make bench`: start the infrastructure if needed, run every benchmark, stop what was started."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from griddispatch.infra import stack
from griddispatch.infra.processes import Processes
from shared.settings import LocalInfraSettings

BENCHMARKS = [
    "bench.baseline",
    "bench.intake",
    "bench.dispatch",
    "bench.escalation",
    "bench.notify",
    "bench.end_to_end",
]
OPTIONAL = ["bench.routing"]  # present once the domain's routing benchmark lands


def main() -> int:
    local = LocalInfraSettings()
    processes = Processes(local.dir)
    started_here = [n for n in stack.INFRA if processes.running(n) is None]
    asyncio.run(stack.infra_up(local))
    failed = 0
    try:
        for module in BENCHMARKS + [m for m in OPTIONAL if _exists(m)]:
            print(f"\n$ python -m {module}", flush=True)
            failed |= subprocess.call([sys.executable, "-m", module])
    finally:
        if started_here:
            stack.infra_down(local)
    return failed


def _exists(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    sys.exit(main())
