"""Report periods as people read them: a date is the whole day in the clinic's time zone.

`from=2026-12-01&to=2026-12-01` is that one day; `to=<today>` includes today. A date and
time is that instant (UTC when it names no offset), and a `to` instant is exclusive, so
consecutive periods never count a payment twice. Only years EARLIEST..LATEST are taken:
nothing of ours is older, and near year 1 or 9999 shifting by a time zone overflows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from callpay.domain.errors import InvalidInput

EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
DEFAULT_DAYS = 31

Moment = date | datetime


def report_period(
    start: Moment | None, end: Moment | None, time_zone: str, now: datetime
) -> tuple[datetime, datetime]:
    """The half-open period [start, end) in UTC. Without `to`: until now; without `from`:
    the DEFAULT_DAYS before the end."""
    zone = ZoneInfo(time_zone)
    upper = now if end is None else _instant(end, zone, whole_day=True)
    lower = upper - timedelta(days=DEFAULT_DAYS) if start is None else _instant(start, zone)
    if upper <= lower:
        raise InvalidInput("invalid_period", "'to' must not be before 'from'.")
    return lower, upper


def _instant(moment: Moment, zone: ZoneInfo, *, whole_day: bool = False) -> datetime:
    if isinstance(moment, datetime):
        return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC)
    day = moment + timedelta(days=1) if whole_day else moment
    # Where midnight does not exist (a DST change at 00:00), this is the day's first instant.
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)
