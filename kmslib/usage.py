"""How many AES-GCM encryptions a key version has made, against the limit for random nonces.

Every encryption under an AES-GCM key version with a fresh 96-bit random nonce is one
*invocation* of the authenticated encryption function, and NIST SP 800-38D, section 8.3, caps a key
at 2^32 of them, so that two random nonces stay unlikely to repeat (at 2^32 nonces of 96 bits the
birthday bound is already 2^64 / 2^97 = 2^-33). A repeated nonce gives away the XOR of two plaintexts
and the key that forges tags (Joux, "Authentication failures in NIST version of GCM", comments to
NIST, 2006). A key-encryption key (KEK)
makes one invocation per data key it wraps, so giving each message its own data key keeps the data
keys far from the limit, not the KEK. So every GCM version of kmslib counts its encryptions
(text tokens, data keys, envelopes, rewraps; decryptions are not counted) and refuses at the limit
with a :class:`~kmslib.errors.KeyStateError`; rotating the key gives a new version with a fresh
count, and the exhausted version still decrypts.

- The count is taken before the cryptography, under a lock of the version's own (the encryption
  hot path takes no custodian lock), so threads together never pass the limit; an encryption that
  fails afterwards has still used its count (conservative).
- ``KeyCustodian(gcm_invocation_limit=...)`` (and the same on ``KeyCustodian.open``) lowers the limit,
  for tests and for policies stricter than NIST's.
- AES-CBC versions are not counted. SP 800-38A sets no such count for CBC: its bound with random
  IVs is a birthday bound in 128-bit *blocks*, which weakens as their number nears 2^64 (Bellare,
  Desai, Jokipii and Rogaway, FOCS 1997), not a count of messages; CBC's real weakness here is the padding oracle
  (see :mod:`kmslib.aes`).
- A stored custodian keeps counts across restarts without a disk write per encryption. A new
  version is saved with a first *reservation* of :data:`RESERVATION_BLOCK` encryptions; before a
  version's count passes its reservation, a new one (the count plus ``RESERVATION_BLOCK``, never
  above the limit) is committed durably to the store, under the store's MAC: one write per
  ``RESERVATION_BLOCK`` encryptions. On opening, each version's count starts at its reservation. A crash, even
  ``kill -9``, can therefore make a version skip up to ``RESERVATION_BLOCK`` encryptions, never
  count fewer than were made. If a reservation cannot be written, the version refuses to encrypt
  (:class:`~kmslib.errors.StoreError`) until the store is opened again.

Contract section 13's rotation policy (:mod:`kmslib.states`) lowers a version's limit to its
``max_uses``, and counts the encryptions of AES-CBC and RSA versions and the signatures of signing
versions the same way (from when the policy is set); at the limit, a policy with ``rotate_every``
rotates the key instead of refusing. Under a ``max_uses`` policy a reservation covers
:func:`policy_block` uses (a 64th of the limit, at least 1 and at most ``RESERVATION_BLOCK``), so a
crash skips at most that many of them, and setting the policy saves a reservation that fits it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from kmslib.errors import ArgumentTypeError, InvalidInputError, KeyStateError, KMSError, StoreError

__all__ = [
    "GCM_INVOCATION_LIMIT",
    "RESERVATION_BLOCK",
    "UsageCounter",
    "checked_limit",
    "first_reservation",
    "policy_block",
]

#: NIST SP 800-38D, section 8.3: at most 2^32 invocations of a key with random 96-bit nonces.
GCM_INVOCATION_LIMIT = 2**32
#: How many encryptions one durable reservation in a store covers (a crash may skip this many at most).
RESERVATION_BLOCK = 2**16

Reserve = Callable[[int], None]


def checked_limit(value: object) -> int:
    """``gcm_invocation_limit`` checked: ``None`` gives NIST's limit, else a positive ``int`` at most that.

    Raises:
        ArgumentTypeError: not an ``int`` (``bool`` included).
        InvalidInputError: below 1 or above 2^32.
    """
    if value is None:
        return GCM_INVOCATION_LIMIT
    if type(value) is not int:
        raise ArgumentTypeError(f"gcm_invocation_limit must be an int, not {type(value).__name__}")
    if not 1 <= value <= GCM_INVOCATION_LIMIT:
        raise InvalidInputError(f"gcm_invocation_limit must be from 1 to 2**32 (NIST SP 800-38D), not {value}")
    return value


def policy_block(limit: int) -> int:
    """How many uses one reservation covers under a ``max_uses`` policy of ``limit``: a 64th, from 1 to the block."""
    return max(1, min(RESERVATION_BLOCK, limit // 64))


def first_reservation(limit: int) -> int:
    """A new version's first reservation, saved in the same transaction as the version itself."""
    return min(RESERVATION_BLOCK, limit)


class UsageCounter:
    """One key version's count of encryptions, its limit, and (in a store) its durable reservation.

    Args:
        limit: the most encryptions the version may make.
        start: the count so far (a store's reservation for the version; 0 for a new one).
        reserve: writes a new reservation durably (a store's); ``None`` in memory, where nothing is kept.
        reserved: the reservation already saved, if above ``start`` (a new version's first one is
            saved with the version itself: see :func:`first_reservation`).
    """

    __slots__ = ("_lock", "_reserve", "block", "by_policy", "count", "limit", "reserved", "unsaved")

    def __init__(
        self, limit: int = GCM_INVOCATION_LIMIT, start: int = 0, reserve: Reserve | None = None, reserved: int = 0
    ) -> None:
        self._lock = threading.Lock()
        self._reserve = reserve
        self.count = start
        self.limit = limit
        #: Whether ``limit`` is a rotation policy's ``max_uses`` (below the AES-GCM limit, if any).
        self.by_policy = False
        #: The uses one reservation covers: :data:`RESERVATION_BLOCK` unless a policy sets it (:func:`policy_block`).
        self.block: int | None = None
        self.reserved = limit if reserve is None else max(start, reserved)
        #: A reservation failed to be written: nothing more is counted, so nothing more is encrypted.
        self.unsaved = False

    def take(self) -> bool:
        """Count one encryption, if the limit (and the reservation) allow it; never raises.

        Returns:
            Whether the encryption may go ahead.
        """
        lock = self._lock  # acquire and release rather than ``with``: a third cheaper on every encryption
        lock.acquire()
        try:
            count = self.count
            if count < self.reserved:  # the reservation never passes the limit
                self.count = count + 1
                return True
        finally:
            lock.release()
        return self._take_reserving()

    def _take_reserving(self) -> bool:
        """:meth:`take` at the reservation: write a new one first (or refuse, at the limit or after a failed write)."""
        with self._lock:
            if self.count >= self.limit or self.unsaved:
                return False
            if self.count >= self.reserved:
                reserved = min(self.count + (RESERVATION_BLOCK if self.block is None else self.block), self.limit)
                try:
                    assert self._reserve is not None
                    self._reserve(reserved)
                except Exception:  # noqa: BLE001 - any failure to write: refuse, from the custodian's frame
                    self.unsaved = True
                    return False
                self.reserved = reserved
            self.count += 1
            return True

    def relimit(self, limit: int, by_policy: bool) -> None:
        """Set a new limit (a rotation policy's ``max_uses`` was set or changed); the count goes on.

        In a store, a reservation above what the new block allows is replaced, durably, by the count
        plus one block (never below the count), so that a restart skips no more than a block; if it
        cannot be written, the version encrypts no more until the store is opened again.
        """
        with self._lock:
            self.limit, self.by_policy = limit, by_policy
            self.block = policy_block(limit) if by_policy else None
            if self._reserve is None:
                self.reserved = limit
                return
            fitting = min(self.count + (RESERVATION_BLOCK if self.block is None else self.block), limit)
            if self.reserved > fitting:
                try:
                    self._reserve(fitting)
                except Exception:  # noqa: BLE001 - any failure to write: refuse from now on, as take() does
                    self.unsaved = True
                    return
                self.reserved = fitting

    @property
    def exhausted(self) -> bool:
        """Whether the count has reached the limit."""
        return self.count >= self.limit

    def refusal(self, key_id: str, version: int) -> KMSError | None:
        """The error for an encryption :meth:`take` refused, or ``None`` if it refused none."""
        if self.count >= self.limit and self.by_policy:
            return KeyStateError(
                f"version {version} of key {key_id!r} has made its {self.limit} encryptions, wraps or signatures, "
                f"the max_uses of its rotation policy: call rotate_key({key_id!r}), or give the policy "
                "rotate_every so that it rotates by itself; this version still decrypts and verifies"
            )
        if self.count >= self.limit:
            return KeyStateError(
                f"version {version} of key {key_id!r} has made its {self.limit} AES-GCM encryptions, the limit for "
                f"random nonces (NIST SP 800-38D, section 8.3): call rotate_key({key_id!r}) to encrypt under a new "
                "version; this one still decrypts"
            )
        if self.unsaved:
            return StoreError(
                f"the usage count of version {version} of key {key_id!r} could not be saved to the store: it "
                "encrypts no more until the store is opened again"
            )
        return None

    def __repr__(self) -> str:
        return f"UsageCounter(count={self.count}, limit={self.limit}, reserved={self.reserved})"
