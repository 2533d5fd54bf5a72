"""Report periods as people read them (issue 18): dates are whole days in the clinic's time
zone and include both ends; date-times are exact instants, `to` exclusive."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callpay.domain.errors import InvalidInput
from callpay.domain.period import report_period
from clinic_admin.handler import lambda_handler
from tests.support.events import LambdaContext, clinician_claims, http_event, reply
from tests.unit.conftest import World
from tests.unit.test_request_payment_api import create

ADMIN = clinician_claims(sub="admin-1", role="team_admin")
SYDNEY = "Australia/Sydney"  # UTC+11 in December (daylight saving)


def paid_at(world: World, *moments: str) -> dict[str, str]:
    """A payment request made at each instant (UTC); instant -> request id."""
    made = {}
    for index, moment in enumerate(moments):
        world.clock.now = datetime.fromisoformat(moment)
        status, body = create(call_id=f"call-{index}")
        assert status == 201, body
        made[moment] = body["id"]
    return made


def report(**query: str) -> tuple[int, Any]:
    event = http_event("GET", "/clinics/clinic-1/payments", claims=ADMIN)
    event["queryStringParameters"] = query
    return reply(lambda_handler(event, LambdaContext()))


def reported(**query: str) -> list[str]:
    status, body = report(**query)
    assert status == 200, body
    return [p["id"] for p in body["payments"]]


@pytest.fixture
def in_sydney(world: World) -> World:
    clinic = world.store.clinics["clinic-1"]
    world.store.clinics["clinic-1"] = clinic.model_copy(update={"time_zone": SYDNEY})
    return world


def test_from_and_to_the_same_date_is_that_whole_day_in_the_clinics_time_zone(
    in_sydney: World,
) -> None:
    made = paid_at(
        in_sydney,
        "2026-11-30T12:59:59+00:00",  # 30 Nov 23:59:59 in Sydney
        "2026-11-30T13:00:00+00:00",  # 1 Dec 00:00 in Sydney
        "2026-12-01T12:59:59+00:00",  # 1 Dec 23:59:59
        "2026-12-01T13:00:00+00:00",  # 2 Dec 00:00
    )
    ids = list(made.values())
    assert reported(**{"from": "2026-12-01", "to": "2026-12-01"}) == ids[1:3]


def test_a_range_of_dates_includes_both_days(in_sydney: World) -> None:
    """Regression: from=2026-11-30&to=2026-12-01 left out every payment of 1 December."""
    made = paid_at(
        in_sydney,
        "2026-11-29T12:59:59+00:00",  # 29 Nov in Sydney
        "2026-11-29T13:00:00+00:00",  # 30 Nov 00:00
        "2026-12-01T02:00:00+00:00",  # 1 Dec 13:00
        "2026-12-01T12:59:59+00:00",  # 1 Dec 23:59:59
        "2026-12-01T13:00:00+00:00",  # 2 Dec
    )
    ids = list(made.values())
    assert reported(**{"from": "2026-11-30", "to": "2026-12-01"}) == ids[1:4]


def test_to_today_includes_todays_payments(world: World) -> None:
    made = paid_at(world, "2026-12-01T08:00:00+00:00", "2026-12-01T09:30:00+00:00")
    world.clock.now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert reported(to="2026-12-01") == list(made.values())
    assert reported(**{"from": "2026-12-01"}) == list(made.values())  # until now


def test_date_times_are_exact_and_to_is_exclusive(in_sydney: World) -> None:
    made = paid_at(in_sydney, "2026-11-30T13:00:00+00:00", "2026-12-01T13:00:00+00:00")
    first, second = made.values()
    assert reported(**{"from": "2026-11-30T13:00:00Z", "to": "2026-12-01T13:00:00Z"}) == [first]
    # the same instants written in Sydney's offset, and naive (UTC)
    assert reported(**{"from": "2026-12-01T00:00+11:00", "to": "2026-12-02T00:00:01+11:00"}) == [
        first, second
    ]  # fmt: skip
    assert reported(**{"from": "2026-12-01T13:00:00", "to": "2026-12-01T13:00:01"}) == [second]


@pytest.mark.parametrize(
    "query",
    [{"from": "2026-12-02", "to": "2026-12-01"},
     {"from": "2026-12-01T10:00:00Z", "to": "2026-12-01T10:00:00Z"}],
)  # fmt: skip
def test_an_empty_or_backwards_period_is_422(world: World, query: dict[str, str]) -> None:
    status, body = report(**query)
    assert (status, body["error"]["code"]) == (422, "invalid_period")


def test_a_date_is_the_days_first_instant_even_where_midnight_does_not_exist() -> None:
    # Santiago moved its clocks from 00:00 to 01:00 on 2022-09-11: the day starts at 01:00.
    start, end = report_period(date(2022, 9, 11), date(2022, 9, 11), "America/Santiago", NOW)
    local = start.astimezone(ZoneInfo("America/Santiago"))
    assert (local.day, local.hour) == (11, 1)
    assert end - start == timedelta(hours=23)


NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_without_dates_the_report_covers_the_last_31_days() -> None:
    assert report_period(None, None, "UTC", NOW) == (NOW - timedelta(days=31), NOW)
    start, end = report_period(None, date(2026, 6, 30), "UTC", NOW)
    assert end == datetime(2026, 7, 1, tzinfo=UTC) and end - start == timedelta(days=31)


def test_the_latest_date_does_not_overflow() -> None:
    start, end = report_period(
        datetime(2100, 12, 31, 23, 59, 59, tzinfo=ZoneInfo("Etc/GMT+12")),
        date(2100, 12, 31),
        "Etc/GMT+12",
        NOW,
    )
    assert end.year == 2101 and start < end
    with pytest.raises(InvalidInput):
        report_period(date(2026, 1, 2), date(2026, 1, 1), "UTC", NOW)
