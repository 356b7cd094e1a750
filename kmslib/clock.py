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
        ArgumentTypeError, InvalidInputError: ``start`` is not a timezone-aware ``datetime``.
    """

    __slots__ = ("_lock", "_now")

    def __init__(self, start: datetime = CLASSROOM_START) -> None:
        if not isinstance(start, datetime):
            raise ArgumentTypeError(f"start must be a datetime, not {type(start).__name__}")
        if start.utcoffset() is None:
            raise InvalidInputError("start must be a timezone-aware datetime")
        self._lock = threading.Lock()
        self._now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        """The time it shows now."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta`` (never back) and return the new time.

        Raises:
            ArgumentTypeError: ``delta`` is not a ``timedelta``.
            InvalidInputError: ``delta`` is negative.
        """
        if not isinstance(delta, timedelta):
            raise ArgumentTypeError(f"delta must be a timedelta, not {type(delta).__name__}")
        if delta < timedelta(0):
            raise InvalidInputError("a classroom clock only moves forward")
        with self._lock:
            self._now += delta
            return self._now

    def __repr__(self) -> str:
        return f"ClassroomClock({self._now.isoformat(timespec='seconds')!r})"


def classroom_clock(start: datetime = CLASSROOM_START) -> ClassroomClock:
    """A new :class:`ClassroomClock` showing ``start`` (by default 2026-01-01 09:00 UTC)."""
    return ClassroomClock(start)


def utc_now() -> datetime:
    """The system clock, in UTC."""
    return datetime.now(UTC)


def checked_clock(clock: Clock) -> Clock:
    """``clock``, checked at every call: it must give a timezone-aware datetime (returned in UTC).

    A closure over the clock alone, so that whoever holds it (the read-only audit log) holds no
    way back to the custodian.
    """

    def now() -> datetime:
        value = clock()
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise InvalidInputError("the clock must return a timezone-aware datetime")
        return value.astimezone(UTC)

    return now
