"""A clock that stands still until it is told to move: cryptoperiods, repeatable in a notebook.

``KeyCustodian(clock=classroom_clock())`` timestamps every key and audit entry with this clock, and
judges activation times and rotation policies (contract section 13) by it, so that a lesson can let
ninety days pass in one cell with ``clock.advance(timedelta(days=90))`` and see the same result on
every run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from kmslib.errors import ArgumentTypeError, InvalidInputError

__all__ = ["CLASSROOM_START", "ClassroomClock", "checked_clock", "classroom_clock", "utc_now"]

Clock = Callable[[], datetime]

#: Where a classroom clock starts unless told otherwise.
CLASSROOM_START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


class ClassroomClock:
    """A callable clock (timezone-aware UTC) that moves only when :meth:`advance` is called.

    Args:
        start: the first time it shows; timezone-aware.

    Raises:
        ArgumentTypeError, InvalidInputError: ``start`` is not a timezone-aware ``datetime``, or is outside
            the calendar in UTC.
    """

    __slots__ = ("_lock", "_now")

    def __init__(self, start: datetime = CLASSROOM_START) -> None:
        if not isinstance(start, datetime):
            raise ArgumentTypeError(f"start must be a datetime, not {type(start).__name__}")
        if start.utcoffset() is None:
            raise InvalidInputError("start must be a timezone-aware datetime")
        self._lock = threading.Lock()
        self._now = _utc(start, "start")

    def __call__(self) -> datetime:
        """The time it shows now."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta`` (never back) and return the new time.

        Raises:
            ArgumentTypeError: ``delta`` is not a ``timedelta``.
            InvalidInputError: ``delta`` is negative, or would take the clock past the calendar's last day.
        """
        if not isinstance(delta, timedelta):
            raise ArgumentTypeError(f"delta must be a timedelta, not {type(delta).__name__}")
        if delta < timedelta(0):
            raise InvalidInputError("a classroom clock only moves forward")
        with self._lock:
            if delta > _LAST - self._now:
                raise InvalidInputError(f"a classroom clock cannot leave the calendar (its last time is {_LAST})")
            self._now += delta
            return self._now

    def __repr__(self) -> str:
        return f"ClassroomClock({self._now.isoformat(timespec='seconds')!r})"


#: The last time a ``datetime`` can hold, in UTC.
_LAST = datetime.max.replace(tzinfo=UTC)


def _utc(value: datetime, what: str) -> datetime:
    """``value`` in UTC (timezone-aware).

    Raises:
        InvalidInputError: it is outside the calendar in UTC (``datetime.max`` west of UTC, for one).
    """
    offset = value.utcoffset()
    assert offset is not None
    if (offset < timedelta(0) and value.replace(tzinfo=None) > datetime.max + offset) or (
        offset > timedelta(0) and value.replace(tzinfo=None) < datetime.min + offset
    ):
        raise InvalidInputError(f"{what} is outside the calendar in UTC (years 1 to 9999)")
    return value.astimezone(UTC)


def classroom_clock(start: datetime = CLASSROOM_START) -> ClassroomClock:
    """A new :class:`ClassroomClock` showing ``start`` (by default 2026-01-01 09:00 UTC)."""
    return ClassroomClock(start)


def utc_now() -> datetime:
    """The system clock, in UTC."""
    return datetime.now(UTC)


def checked_clock(clock: Clock) -> Clock:
    """``clock``, checked at every call: a timezone-aware datetime within the calendar in UTC, returned in UTC.

    A closure over the clock alone, so that whoever holds it (the read-only audit log) holds no
    way back to the custodian.
    """

    def now() -> datetime:
        value = clock()
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise InvalidInputError("the clock must return a timezone-aware datetime")
        return _utc(value, "the clock's time")

    return now
