"""`python -m chaos [--scenarios kill9,broker,postgres,pause,sever,poison,cluster]`: the fault suite; 1 if any fails."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
from pathlib import Path

from chaos.load import LoadSettings
from chaos.scenarios import FAULTS, NAMES, ScenarioSettings, run_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--scenarios", default=",".join(FAULTS), help=f"comma-separated of {', '.join(NAMES)}")
    parser.add_argument("--processes", type=int, default=2, help="processes of each service")
    parser.add_argument("--rate", type=float, default=3.0, help="reports per second")
    parser.add_argument("--before", type=float, default=10.0, help="seconds of load before each fault")
    parser.add_argument("--during", type=float, default=8.0, help="seconds of load while the fault lasts")
    parser.add_argument("--after", type=float, default=10.0, help="seconds of load after the heal")
    parser.add_argument("--workdir", type=Path, default=None, help="logs and data (default: a temporary directory)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # the broker's own outages are the point here
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    settings = ScenarioSettings(
        processes=args.processes,
        before_s=args.before,
        during_s=args.during,
        after_s=args.after,
        load=LoadSettings(rate_per_s=args.rate),
    )
    with tempfile.TemporaryDirectory(prefix="griddispatch-chaos-") as tmp:
        workdir = args.workdir or Path(tmp)
        results = asyncio.run(run_all(names, workdir, settings))
    if args.json:
        from chaos.harness import describe

        args.json.write_text(json.dumps([describe(r) for r in results], ensure_ascii=False, indent=2))
    failed = [r.scenario for r in results if not r.ok]
    ran = len(results) - len(failed)
    print(f"chaos: {ran}/{len(names)} scenarios held the ledger", flush=True)  # noqa: T201
    return 1 if failed or len(results) < len(names) else 0


if __name__ == "__main__":
    sys.exit(main())
