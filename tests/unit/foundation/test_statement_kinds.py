"""The `kind` label of griddispatch_db_statements_total: a statement's first keyword, as asyncpg sends it."""

from __future__ import annotations

import pytest

from shared.db.statements import KINDS, kind_of

RESET = "SELECT pg_advisory_unlock_all();\nCLOSE ALL;\nUNLISTEN *;\nRESET ALL;"  # asyncpg 0.32's, on PostgreSQL


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("SELECT 1", "select"),
        ("\n    select id FROM cases WHERE id = $1 FOR UPDATE", "select"),
        ("(SELECT 1) UNION (SELECT 2)", "select"),
        ("INSERT INTO outbox (topic) VALUES ($1)", "insert"),
        ("UPDATE cases SET state = $2 WHERE id = $1", "update"),
        ("DELETE FROM pending_actions WHERE case_id = $1", "delete"),
        ("WITH due AS (SELECT 1) UPDATE deadlines SET status = 'fired'", "with"),
        ("BEGIN;", "begin"),
        ("BEGIN ISOLATION LEVEL SERIALIZABLE;", "begin"),
        ("COMMIT;", "commit"),
        ("ROLLBACK;", "rollback"),
        ("SAVEPOINT _asyncpg_1;", "savepoint"),
        ("RELEASE SAVEPOINT _asyncpg_1;", "savepoint"),
        ("ROLLBACK TO _asyncpg_1;", "savepoint"),
        ("COPY cases FROM STDIN (FORMAT binary)", "copy"),
        (RESET, "reset"),
        ("CLOSE ALL;\nUNLISTEN *;\nRESET ALL;", "reset"),
        ("LISTEN registry_changed", "other"),
        ("SELECT set_config('jit', $1, false)", "select"),
        ("", "other"),
        ("   ", "other"),
    ],
)
def test_kind_is_the_first_keyword(query: str, kind: str) -> None:
    assert kind_of(query) == kind
    assert kind in KINDS  # a label the counter exports from the start
