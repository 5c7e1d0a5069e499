"""The district's own calendar file reaches dispatch's deadlines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.dispatch.runtime import district_policy
from shared.domain.calendar import deadline
from shared.domain.model import ClockKind
from shared.errors import ConfigurationError
from shared.settings import DistrictSettings


def test_a_local_holiday_pushes_a_working_day_deadline(tmp_path: Path) -> None:
    start = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Xi'an
    plain = district_policy(DistrictSettings())
    file = tmp_path / "local-days.yaml"
    file.write_text('district: "610199"\nholidays:\n  - {date: 2026-03-05, reason: 暴雨停工}\n', encoding="utf-8")
    local = district_policy(DistrictSettings(local_days_file=file))
    before = deadline(start, 1, ClockKind.WORKING_DAYS, plain.tz, plain.local_days, plain.office).due
    after = deadline(start, 1, ClockKind.WORKING_DAYS, local.tz, local.local_days, local.office).due
    assert (after - before).days == 1  # Thursday is off locally: the day's work ends on Friday


def test_an_unreadable_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="GRIDDISPATCH_DISTRICT_LOCAL_DAYS_FILE"):
        district_policy(DistrictSettings(local_days_file=tmp_path / "missing.yaml"))
