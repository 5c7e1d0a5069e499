"""What counting statements costs (griddispatch_db_statements_total, shared/db/statements.py): N trivial statements
on one connection without counting, with it, and with asyncpg's query logger instead (a logger that does nothing),
rounds interleaved in a random order; the median round's wall time and this process's CPU per statement.

    python -m bench.db_statements            # 2,000 statements a round, 9 rounds each way (about 10 s)
    python -m bench.dispatch --profile       # prints the same line first

Runs on the PostgreSQL of `griddispatch infra up` (started here, and stopped afterwards, only if it was not
running), in its `postgres` database; it creates nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from typing import Any

import asyncpg

from bench.common import infrastructure, machine
from griddispatch.infra import postgres as local_postgres
from shared.db.statements import CountingConnection, note


class _Logged(asyncpg.Connection):  # type: ignore[misc]
    """The alternative not taken: asyncpg's query logger, with a logger that does nothing."""

    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_query_logger(_nothing)


def _nothing(record: Any) -> None:
    pass


WAYS: dict[str, type[asyncpg.Connection]] = {
    "without": asyncpg.Connection,
    "counted": CountingConnection,
    "query logger": _Logged,
}


async def _round(url: str, cls: type[asyncpg.Connection], n: int) -> tuple[float, float]:
    """(wall, CPU) seconds per statement over n `SELECT 1` on a fresh connection."""
    conn = await asyncpg.connect(url, connection_class=cls)
    try:
        for _ in range(50):  # prepared, the loop warm
            await conn.fetchval("SELECT 1")
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            await conn.fetchval("SELECT 1")
        return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n
    finally:
        await conn.close()


def callback_seconds(n: int = 200_000) -> float:
    """Counting alone, per statement: the kind found by the statement's text, its count incremented."""
    started = time.perf_counter()
    for _ in range(n):
        note("SELECT 1")
    return (time.perf_counter() - started) / n


async def overhead(url: str, n: int = 2000, rounds: int = 9) -> list[str]:
    """The line to print: the median round each way (this machine is shared: single rounds wander)."""
    results: dict[str, list[tuple[float, float]]] = {way: [] for way in WAYS}
    rnd = random.Random(1)
    for _ in range(rounds):
        for way in rnd.sample(list(WAYS), len(WAYS)):
            results[way].append(await _round(url, WAYS[way], n))
    wall = {way: statistics.median(w for w, _ in r) * 1e6 for way, r in results.items()}
    cpu = {way: statistics.median(c for _, c in r) * 1e6 for way, r in results.items()}

    def vs(way: str) -> str:
        more_wall, more_cpu = wall[way] - wall["without"], cpu[way] - cpu["without"]
        return f"{wall[way]:.1f} us ({more_wall:+.1f}), CPU {cpu[way]:.1f} us ({more_cpu:+.1f})"

    return [
        f"statement counting, `SELECT 1` on one connection, median of {rounds} interleaved rounds of {n:,}, wall and "
        f"this process's CPU per statement: without {wall['without']:.1f} us, CPU {cpu['without']:.1f} us; "
        f"counted {vs('counted')}; asyncpg's query logger instead {vs('query logger')}; "
        f"the counting alone {callback_seconds() * 1e6:.2f} us"
    ]


async def main(n: int, rounds: int) -> int:
    async with infrastructure() as local:
        print(machine(("asyncpg", "prometheus-client")))
        for line in await overhead(local_postgres.url_of(local, "postgres"), n, rounds):
            print(line)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--statements", type=int, default=2000, help="statements a round")
    parser.add_argument("--rounds", type=int, default=9, help="rounds each way")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.statements, args.rounds)))
