"""Key states, version states and cryptoperiods (contract section 13).

NIST SP 800-57 Part 1 Rev. 5, section 7, gives a key a lifecycle of states; kmslib uses its names,
with ``revoked`` for its *destroyed* (the material is dropped, the id stays as a tombstone):

- ``pre-activation``: made with ``activate_at=`` in the future; no encryption, decryption, wrap,
  unwrap, signature, verification, rotation or public-key export until the custodian's clock
  reaches that time, when the key becomes ``active`` (audited as ``activate_key``);
- ``active``: every use its kind allows;
- ``suspended`` (``suspend_key`` / ``resume_key``): none of those uses until it is resumed. SP 800-57
  (section 7.3) lets a suspended key still process old data at the recipient's risk; kmslib is
  stricter, so that a suspension while an incident is investigated stops every use;
- ``deactivated`` (``deactivate_key``): past its originator-usage period (SP 800-57 section 5.3):
  it decrypts, unwraps and verifies, and never encrypts, wraps or signs;
- ``compromised`` (``mark_compromised``): the material is kept (for forensics), and every use is
  refused, except that the owner may decrypt or verify old data by passing ``allow_compromised=True``,
  which the audit log records as ``allow_compromised``;
- ``revoked`` (``invalidate_key``): the material destroyed; allowed from every state.

The legal moves are :data:`KEY_TRANSITIONS` (SP 800-57's figure, with revocation from every state);
any other raises :class:`~kmslib.errors.KeyStateError` naming the state the key is in. A key that
is already revoked raises :class:`~kmslib.errors.KeyRevokedError`, as every use of it does.

Each version has a state too (:data:`VERSION_TRANSITIONS`): ``active``, ``deactivated``,
``compromised`` or ``revoked``. Encryption uses the newest version, so an older version that is
``active`` or ``deactivated`` only decrypts either way; deactivating it records that it is past its
originator-usage period.

Cryptoperiods (SP 800-57 section 5.3): a :class:`RotationPolicy` rotates a key on its first use
after ``rotate_every`` has passed since its newest version was made (audited as
``rotate_key_by_policy``), deactivates (never destroys) each older version once ``deactivate_after``
has passed since it stopped being the newest (``deactivate_key_by_policy``), and limits each version
to ``max_uses`` encryptions, wraps and signatures (decryptions are not counted; see
:mod:`kmslib.usage`, whose AES-GCM limit caps it). Time is the custodian's clock:
:func:`kmslib.clock.classroom_clock` makes this repeatable. Looking at a key (``key_info``,
``list_keys``, ``export_public_key``) counts as a use. A suspended, deactivated or compromised key is
not rotated by policy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from kmslib.aes import GCM_MAX_ASSOCIATED_DATA, AESKeyVersion
from kmslib.errors import (
    ArgumentTypeError,
    DecryptionError,
    InvalidInputError,
    KeyNotFoundError,
    KeyRevokedError,
    KeyStateError,
    KeyTypeError,
    KMSError,
    MessageTooLongError,
)
from kmslib.hsm import HardwareAESKey
from kmslib.keyinfo import KeyInfo
from kmslib.rsa import RSAKeyVersion
from kmslib.signing import SigningKeyVersion
from kmslib.tokens import AES_GCM
from kmslib.tokens import header as token_header
from kmslib.usage import GCM_INVOCATION_LIMIT

#: The material of one key version; each implements :class:`kmslib._material.KeyMaterial`.
Material = AESKeyVersion | RSAKeyVersion | SigningKeyVersion | HardwareAESKey
#: An encryption, wrap or signature with one material: the payload, the error that refuses it, or ``None``.
Use = Callable[[Material], bytes | bytearray | KMSError | None]

__all__ = [
    "ACTIVE",
    "COMPROMISED",
    "DEACTIVATED",
    "KEY_TRANSITIONS",
    "PRE_ACTIVATION",
    "REVOKED",
    "STATES",
    "SUSPENDED",
    "VERSION_TRANSITIONS",
    "Lifecycle",
    "RotationPolicy",
    "checked_policy",
]

PRE_ACTIVATION = "pre-activation"
ACTIVE = "active"
SUSPENDED = "suspended"
DEACTIVATED = "deactivated"
COMPROMISED = "compromised"
REVOKED = "revoked"
#: Every state a key can be in, in lifecycle order.
STATES = (PRE_ACTIVATION, ACTIVE, SUSPENDED, DEACTIVATED, COMPROMISED, REVOKED)
#: The legal moves of a whole key (NIST SP 800-57 Pt 1 Rev 5, section 7), revocation from every state.
KEY_TRANSITIONS: dict[str, frozenset[str]] = {
    PRE_ACTIVATION: frozenset({ACTIVE, COMPROMISED, REVOKED}),
    ACTIVE: frozenset({SUSPENDED, DEACTIVATED, COMPROMISED, REVOKED}),
    SUSPENDED: frozenset({ACTIVE, DEACTIVATED, COMPROMISED, REVOKED}),
    DEACTIVATED: frozenset({COMPROMISED, REVOKED}),
    COMPROMISED: frozenset({REVOKED}),
    REVOKED: frozenset(),
}
#: The legal moves of one version of a key.
VERSION_TRANSITIONS: dict[str, frozenset[str]] = {
    ACTIVE: frozenset({DEACTIVATED, COMPROMISED, REVOKED}),
    DEACTIVATED: frozenset({COMPROMISED, REVOKED}),
    COMPROMISED: frozenset({REVOKED}),
    REVOKED: frozenset(),
}
#: The most uses ``max_uses`` may allow: the AES-GCM invocation limit (NIST SP 800-38D, section 8.3).
MAX_USES = GCM_INVOCATION_LIMIT


#: The longest period a policy takes: 876,000 hours (100 years), the longest ``rotation_period`` of a Google
#: Cloud KMS CryptoKey (cloud.google.com/kms/docs/reference/rest/v1/projects.locations.keyRings.cryptoKeys).
MAX_PERIOD = timedelta(hours=876_000)
#: The shortest ``rotate_every``: one hour, as Vault transit's ``auto_rotate_period`` ("cannot be shorter
#: than one hour", developer.hashicorp.com/vault/api-docs/secret/transit).
MIN_ROTATION = timedelta(hours=1)


def _period(value: object, name: str, shortest: timedelta) -> timedelta | None:
    if value is None:
        return None
    if not isinstance(value, timedelta):
        raise ArgumentTypeError(f"{name} must be a timedelta or None, not {type(value).__name__}")
    if value <= timedelta(0) or value < shortest:
        least = "at least one hour" if shortest else "a positive timedelta"
        raise InvalidInputError(f"{name} must be {least}, not {value}")
    if value > MAX_PERIOD:
        raise InvalidInputError(f"{name} must be at most 876000 hours (100 years), not {value}")
    return value


def _after(when: datetime, period: timedelta) -> datetime:
    """``when + period``, or the last representable time if that is past the end of the calendar."""
    try:
        return when + period
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RotationPolicy:
    """A key's cryptoperiod (contract section 13): all public, no secret.

    Attributes:
        rotate_every: rotate on the first use once the newest version is this old; ``None``: never by time.
        deactivate_after: deactivate each older version once it has not been the newest for this long.
        max_uses: the most encryptions, wraps and signatures of one version; ``None``: only AES-GCM's limit.
    """

    rotate_every: timedelta | None = None
    deactivate_after: timedelta | None = None
    max_uses: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The policy as JSON values (periods in seconds), for the store."""
        return {
            "rotate_every": None if self.rotate_every is None else self.rotate_every.total_seconds(),
            "deactivate_after": None if self.deactivate_after is None else self.deactivate_after.total_seconds(),
            "max_uses": self.max_uses,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RotationPolicy:
        """The policy :meth:`to_json` wrote (raises ValueError, TypeError or KeyError if malformed)."""
        seconds = [data[name] for name in ("rotate_every", "deactivate_after")]
        periods = [None if s is None else timedelta(seconds=float(s)) for s in seconds]
        uses = data["max_uses"]
        return checked_policy(periods[0], periods[1], None if uses is None else int(uses))  # type: ignore[return-value]

    def __repr__(self) -> str:
        parts = [f"{name}={value}" for name, value in zip(self.__slots__, self._values(), strict=True) if value]
        return f"RotationPolicy({', '.join(parts)})"

    def _values(self) -> tuple[object, ...]:
        return (self.rotate_every, self.deactivate_after, self.max_uses)


def checked_policy(rotate_every: object, deactivate_after: object, max_uses: object) -> RotationPolicy | None:
    """The policy these arguments make, checked; ``None`` when all three are ``None`` (no policy).

    Raises:
        ArgumentTypeError: a period that is not a ``timedelta``, or ``max_uses`` not an ``int``.
        InvalidInputError: a period that is not positive, over :data:`MAX_PERIOD`, a ``rotate_every`` under
            :data:`MIN_ROTATION`, or ``max_uses`` below 1 or above 2**32.
    """
    every = _period(rotate_every, "rotate_every", MIN_ROTATION)
    after = _period(deactivate_after, "deactivate_after", timedelta(0))
    if max_uses is not None:
        if type(max_uses) is not int:
            raise ArgumentTypeError(f"max_uses must be an int or None, not {type(max_uses).__name__}")
        if not 1 <= max_uses <= MAX_USES:
            raise InvalidInputError(f"max_uses must be from 1 to 2**32 (NIST SP 800-38D), not {max_uses}")
    if every is None and after is None and max_uses is None:
        return None
    return RotationPolicy(every, after, max_uses)


def usage_limit(algorithm: str, gcm_limit: int, max_uses: int | None) -> tuple[int, bool] | None:
    """A version's usage limit, and whether it is the policy's ``max_uses``; ``None`` if it is not counted.

    AES-GCM versions are always counted, to ``gcm_limit`` (NIST SP 800-38D, section 8.3) or ``max_uses``
    if lower; other kinds only under a ``max_uses`` policy.
    """
    gcm = algorithm == AES_GCM
    if not gcm and max_uses is None:
        return None
    ceiling = gcm_limit if gcm else MAX_USES
    return min(ceiling, max_uses or ceiling), max_uses is not None and (not gcm or max_uses < gcm_limit)


def checked_activation(activate_at: object) -> datetime | None:
    """``activate_at`` checked: ``None``, or a timezone-aware ``datetime``.

    Raises:
        ArgumentTypeError: not a ``datetime``.
        InvalidInputError: a naive ``datetime`` (no timezone).
    """
    if activate_at is None:
        return None
    if not isinstance(activate_at, datetime):
        raise ArgumentTypeError(f"activate_at must be a datetime or None, not {type(activate_at).__name__}")
    if activate_at.utcoffset() is None:
        raise InvalidInputError("activate_at must be a timezone-aware datetime")
    return activate_at


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """One key's states, times and policy: replaced whole on each change, never edited.

    Attributes:
        state: the key's state while it is not revoked (the custodian's tombstone says ``revoked``).
        activate_at: when a ``pre-activation`` key becomes ``active``.
        versions: the versions in state ``deactivated`` or ``compromised`` (others are ``active``,
            or revoked), as ``(version, state)`` pairs.
        created: when each version was made: ``created[v - 1]`` for version ``v``.
        policy: the key's rotation policy, or ``None``.
    """

    state: str = ACTIVE
    activate_at: datetime | None = None
    versions: tuple[tuple[int, str], ...] = ()
    created: tuple[datetime, ...] = field(default=())
    policy: RotationPolicy | None = None

    @classmethod
    def new(cls, now: datetime, activate_at: datetime | None) -> Lifecycle:
        """A new key's lifecycle: ``pre-activation`` if ``activate_at`` is after ``now``, else ``active``."""
        if activate_at is not None and activate_at > now:
            return cls(PRE_ACTIVATION, activate_at, (), (now,))
        return cls(ACTIVE, None, (), (now,))

    def version_state(self, version: int, revoked: frozenset[int]) -> str:
        """The state of ``version`` (``revoked`` if it is in ``revoked``)."""
        if version in revoked:
            return REVOKED
        return dict(self.versions).get(version, ACTIVE)

    def with_version(self, version: int, state: str) -> Lifecycle:
        """A copy with ``version`` in ``state``."""
        others = tuple(pair for pair in self.versions if pair[0] != version)
        return replace(self, versions=tuple(sorted((*others, (version, state)))))

    def info_fields(self, newest: int, revoked: frozenset[int]) -> dict[str, Any]:
        """The :class:`~kmslib.keyinfo.KeyInfo` fields this lifecycle gives a key with ``newest`` versions."""
        return {
            "activate_at": self.activate_at,
            "version_states": tuple((v, self.version_state(v, revoked)) for v in range(1, newest + 1)),
            "policy": self.policy,
            "version_created": self.created,
        }

    def to_json(self) -> str:
        """The lifecycle as JSON text, for the store's key row (covered by the row's MAC)."""
        return json.dumps(
            {
                "state": self.state,
                "activate_at": None if self.activate_at is None else self.activate_at.isoformat(),
                "versions": [list(pair) for pair in self.versions],
                "created": [when.isoformat() for when in self.created],
                "policy": None if self.policy is None else self.policy.to_json(),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | None, state: str, created_at: datetime, newest: int) -> Lifecycle:
        """The lifecycle a key row holds; ``None`` (a store written before states) gives the default.

        A key without recorded version times takes its creation time for each of them, so that a
        policy set later counts its periods from then (the earliest they can have begun).

        Raises:
            ValueError, TypeError, KeyError: a malformed value.
        """
        if text is None:
            if state not in (ACTIVE, REVOKED):
                raise ValueError("a key row without a lifecycle can only be active or revoked")
            return cls(ACTIVE, created=(created_at,) * newest)
        data = json.loads(text)
        versions = tuple((int(v), str(s)) for v, s in data["versions"])
        created = tuple(datetime.fromisoformat(when) for when in data["created"])
        life = cls(
            str(data["state"]),
            None if data["activate_at"] is None else datetime.fromisoformat(data["activate_at"]),
            versions,
            created,
            None if data["policy"] is None else RotationPolicy.from_json(data["policy"]),
        )
        known = life.state in STATES and life.state != REVOKED and state in (life.state, REVOKED)
        if not known or len(created) != newest or any(s not in (DEACTIVATED, COMPROMISED) for _, s in versions):
            raise ValueError("a malformed lifecycle")
        return life


# ------------------------------------------------------------------ transitions


def _illegal(what: str, state: str, target: str) -> str:
    allowed = sorted(KEY_TRANSITIONS.get(state, frozenset()) | VERSION_TRANSITIONS.get(state, frozenset()))
    where = f"it can move to {', '.join(allowed)}" if allowed else "no move leaves that state"
    return f"{what} is {state}: it cannot become {target} ({where}; NIST SP 800-57 Pt 1 section 7)"


# ------------------------------------------------------------------ what each state allows


@dataclass(frozen=True, slots=True)
class Published:
    """What the hot path reads without a lock (replaced whole after every change).

    Attributes:
        no_protect: versions that may not encrypt, wrap or sign now.
        no_process: versions that may not decrypt, unwrap or verify now (whatever ``allow_compromised``).
        compromised: versions that decrypt, unwrap or verify only with ``allow_compromised=True`` (kept
            after a revocation, which ``no_process`` then refuses).
        due: when something time-driven is next due (activation, rotation, deactivation), or ``None``.
    """

    no_protect: frozenset[int]
    no_process: frozenset[int]
    compromised: frozenset[int]
    due: datetime | None


def published(life: Lifecycle, newest: int, revoked: frozenset[int], whole_revoked: bool) -> Published:
    """What ``life`` allows each version of a key with ``newest`` versions, ``revoked`` among them."""
    every = frozenset(range(1, newest + 1))
    states = dict(life.versions)
    compromised = frozenset(v for v, s in states.items() if s == COMPROMISED)
    if life.state == COMPROMISED:
        compromised = every - (frozenset() if whole_revoked else revoked)
    if whole_revoked:  # compromised kept: a read that passed its checks before the revocation is audited as such
        return Published(every, every, compromised, None)
    halted = every if life.state in (PRE_ACTIVATION, SUSPENDED) else frozenset()
    no_protect = revoked | frozenset(states) | (every if life.state != ACTIVE else frozenset())
    return Published(no_protect, revoked | halted, compromised, _due(life, newest, revoked))


def _due(life: Lifecycle, newest: int, revoked: frozenset[int]) -> datetime | None:
    """The earliest time at which ``life`` has a time-driven change to make, or ``None``."""
    times: list[datetime] = []
    if life.state == PRE_ACTIVATION and life.activate_at is not None:
        times.append(life.activate_at)
    policy = life.policy
    if policy is not None and life.state == ACTIVE and policy.rotate_every is not None:
        times.append(_after(life.created[newest - 1], policy.rotate_every))
    if policy is not None and policy.deactivate_after is not None:
        states = dict(life.versions)
        times.extend(
            _after(life.created[v], policy.deactivate_after)
            for v in range(1, newest)
            if v not in revoked and v not in states
        )
    return min(times, default=None)


@dataclass(frozen=True, slots=True)
class Plan:
    """The time-driven changes a key has due: activate it, rotate it, deactivate these older versions."""

    activate: bool
    rotate: bool
    deactivate: tuple[int, ...]


def plan(life: Lifecycle, newest: int, revoked: frozenset[int], now: datetime, exhausted: bool) -> Plan:
    """What is due at ``now`` (``exhausted``: the newest version has made its ``max_uses``)."""
    activate = life.state == PRE_ACTIVATION and life.activate_at is not None and now >= life.activate_at
    policy = life.policy
    rotate = False
    deactivate: tuple[int, ...] = ()
    if policy is not None:
        if (activate or life.state == ACTIVE) and policy.rotate_every is not None:
            rotate = exhausted or now >= _after(life.created[newest - 1], policy.rotate_every)
        if policy.deactivate_after is not None:
            states = dict(life.versions)
            deactivate = tuple(
                v
                for v in range(1, newest)
                if v not in revoked and v not in states and now >= _after(life.created[v], policy.deactivate_after)
            )
    return Plan(activate, rotate, deactivate)


def state_refusal(  # noqa: PLR0911 - one refusal for each state
    key_id: str,
    life: Lifecycle,
    version: int | None,
    revoked: frozenset[int],
    *,
    protect: bool,
    allow_compromised: bool,
) -> KeyStateError | None:
    """The error for using ``version`` in ``life``'s states, or ``None`` if the states allow it.

    ``protect``: encrypting, wrapping or signing (else decrypting, unwrapping or verifying).
    ``version=None`` asks about the key's own state only (rotating it, for one).
    Revocation is the custodian's to report (:class:`~kmslib.errors.KeyRevokedError`).
    """
    state = life.state
    if state == PRE_ACTIVATION:
        when = "" if life.activate_at is None else f" until {life.activate_at.isoformat()}"
        return KeyStateError(f"key {key_id!r} is pre-activation{when}: it cannot be used yet")
    if state == SUSPENDED:
        return KeyStateError(f"key {key_id!r} is suspended: nothing works until resume_key({key_id!r})")
    read = "decrypt or verify old data with allow_compromised=True"
    if state == COMPROMISED and not (allow_compromised and not protect):
        return KeyStateError(f"key {key_id!r} is compromised: every use is refused (its owner may {read})")
    if protect and state == DEACTIVATED:
        return KeyStateError(
            f"key {key_id!r} is deactivated: it decrypts, unwraps and verifies, but never encrypts, wraps or signs"
        )
    version_state = ACTIVE if version is None else life.version_state(version, revoked)
    if version_state == COMPROMISED and (protect or not allow_compromised):
        rotate = f": rotate_key({key_id!r}) to encrypt under a new version" if protect else f" (its owner may {read})"
        return KeyStateError(f"version {version} of key {key_id!r} is compromised{rotate}")
    if protect and version_state == DEACTIVATED:
        return KeyStateError(f"version {version} of key {key_id!r} is deactivated: it only decrypts and verifies")
    return None


# ------------------------------------------------------------------ the custodian's arguments and moves

#: The longest reason a transition keeps.
MAX_REASON = 500


def checked_reason(reason: object, *, required: bool = False) -> str | None:
    """``reason`` checked: a ``str`` of at most :data:`MAX_REASON` characters (one that says something, if required).

    Raises:
        ArgumentTypeError: not a ``str`` (or ``None``, where none is required).
        InvalidInputError: too long, or required and empty.
    """
    if reason is None and not required:
        return None
    if not isinstance(reason, str):
        raise ArgumentTypeError(f"reason must be a str{'' if required else ' or None'}, not {type(reason).__name__}")
    if len(reason) > MAX_REASON:
        raise InvalidInputError(f"reason is {len(reason)} characters long; the limit is {MAX_REASON}")
    if required and not reason.strip():
        raise InvalidInputError("reason must say why (it is kept for the investigation)")
    return str.__str__(reason)


def checked_version(version: object) -> int | None:
    """``version`` checked: an ``int`` or ``None``.

    Raises:
        ArgumentTypeError: anything else (``bool`` included).
    """
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise ArgumentTypeError(f"version must be an int or None, not {type(version).__name__}")
    return version


def move(  # noqa: PLR0911, PLR0917 - one refusal for each problem
    key_id: str, life: Lifecycle, newest: int, revoked: frozenset[int], target: str, version: int | None
) -> Lifecycle | KMSError:
    """``life`` after moving the key (``version=None``) or one version to ``target``; or the error that refuses it.

    Returned, not raised, so that the custodian raises it from a frame that holds no key record.
    """
    if version is None:
        if target == ACTIVE and life.state != SUSPENDED:  # resume_key: pre-activation ends by the clock alone
            return KeyStateError(f"key {key_id!r} is {life.state}: only a suspended key can be resumed")
        if target not in KEY_TRANSITIONS[life.state]:
            return KeyStateError(_illegal(f"key {key_id!r}", life.state, target))
        return replace(life, state=target)
    if not 1 <= version <= newest:
        return KeyNotFoundError(f"key {key_id!r} has no version {version}")
    if version in revoked:
        return KeyRevokedError(f"version {version} of key {key_id!r} was revoked")
    if target == DEACTIVATED and version == newest:
        return InvalidInputError(
            f"version {version} is the newest version of key {key_id!r}: rotate first, or deactivate the whole key"
        )
    state = life.version_state(version, revoked)
    if target not in VERSION_TRANSITIONS[state]:
        return KeyStateError(_illegal(f"version {version} of key {key_id!r}", state, target))
    return life.with_version(version, target)


def checked_flag(value: object, name: str) -> bool:
    """``value`` checked: a ``bool``.

    Raises:
        ArgumentTypeError: anything else.
    """
    if not isinstance(value, bool):
        raise ArgumentTypeError(f"{name} must be a bool, not {type(value).__name__}")
    return value


def lifecycle_of(info: KeyInfo) -> Lifecycle:
    """The :class:`Lifecycle` a :class:`~kmslib.keyinfo.KeyInfo` describes (a loaded key's)."""
    created = info.version_created or (info.created_at,) * info.version
    versions = tuple((v, s) for v, s in info.version_states if s in (DEACTIVATED, COMPROMISED))
    state = ACTIVE if info.state == REVOKED else info.state
    return Lifecycle(state, info.activate_at, versions, created, info.policy)


# ------------------------------------------------------------------ the custodian's record of a key


@dataclass(slots=True)
class KeyRecord:
    """The custodian's record of one key (changed only under the custodian's lock).

    ``versions`` and ``revoked_versions`` are replaced, never edited, so that encryption and
    decryption can read them without the lock; :meth:`publish` refreshes ``current`` after
    every change.
    """

    key_id: str
    kind: str
    algorithm: str
    created_at: datetime
    versions: dict[int, Material]
    newest: int = 1
    fingerprint: str = ""
    revoked_versions: frozenset[int] = frozenset()
    revoked_at: datetime | None = None
    reason: str | None = None
    #: The reason given for each version revoked on its own (kept when the whole key is revoked).
    version_reasons: tuple[tuple[int, str], ...] = ()
    #: The key's and its versions' states, times and policy.
    life: Lifecycle = Lifecycle()
    #: What encryption needs: the newest version, its material and its token header; ``None`` when it may not.
    current: tuple[int, Material, str] | None = None
    #: What the states allow each version, read without the lock.
    view: Published = Published(frozenset(), frozenset(), frozenset(), None)
    #: Where the key lives: ``"software"`` or ``"hsm"`` (a PKCS#11 token; contract section 12).
    protection: str = "software"

    @classmethod
    def loaded(cls, info: KeyInfo, versions: dict[int, Material]) -> KeyRecord:
        """The record of a key a store held: its metadata, and the materials of its live versions."""
        key = cls(
            info.key_id,
            info.kind,
            info.algorithm,
            info.created_at,
            versions,
            newest=info.version,
            fingerprint=info.fingerprint,
            revoked_versions=frozenset(info.revoked_versions),
            revoked_at=info.revoked_at,
            reason=info.reason,
            version_reasons=info.version_reasons,
            life=lifecycle_of(info),
            protection=info.protection,
        )
        key.publish()
        return key

    def sealing(self, kind: str, *, kek: bool) -> tuple[int, Material, str] | None:
        """What encrypting with this key needs, read without the lock, or ``None`` if the slow path must look.

        ``None``: another kind, a KEK that is not AES-GCM, a change due, or states that refuse.
        """
        if self.kind != kind or self.view.due is not None or (kek and self.algorithm != AES_GCM):
            return None
        return self.current

    def plan(self, now: datetime) -> Plan:
        """The time-driven changes due at ``now`` (call with the custodian's lock held, on a live key)."""
        usage = self.versions[self.newest].usage
        return plan(self.life, self.newest, self.revoked_versions, now, usage is not None and usage.exhausted)

    def state_error(self, version: int | None, *, protect: bool = False) -> KeyStateError | None:
        """The error the states give for using ``version`` (``None``: the key alone), or ``None`` if they allow it."""
        return state_refusal(
            self.key_id, self.life, version, self.revoked_versions, protect=protect, allow_compromised=False
        )

    def rotates_at_limit(self, version: int) -> bool:
        """Whether ``version`` has reached its usage limit under a policy that rotates (``rotate_every``)."""
        policy, material = self.life.policy, self.versions.get(version)
        usage = None if material is None else material.usage
        return policy is not None and policy.rotate_every is not None and usage is not None and usage.exhausted

    def moved(self, target: str, version: int | None, reason: str | None) -> dict[str, object] | KMSError:
        """The changes to this record that move it (or ``version``) to ``target`` with ``reason``; or the error."""
        life = move(self.key_id, self.life, self.newest, self.revoked_versions, target, version)
        if isinstance(life, KMSError) or reason is None:
            return life if isinstance(life, KMSError) else {"life": life}
        if version is None:
            return {"life": life, "reason": reason}
        return {"life": life, "version_reasons": (*self.version_reasons, (version, reason))}

    def publish(self) -> None:
        """Refresh :attr:`view` and :attr:`current` from the other fields (call with the lock held, after a change)."""
        self.view = published(self.life, self.newest, self.revoked_versions, self.revoked_at is not None)
        if self.newest not in self.view.no_protect:
            self.current = (self.newest, self.versions[self.newest], token_header(self.newest, self.algorithm))
        else:
            self.current = None

    def info(self) -> KeyInfo:
        return KeyInfo(
            key_id=self.key_id,
            kind=self.kind,
            algorithm=self.algorithm,
            version=self.newest,
            revoked_versions=tuple(sorted(self.revoked_versions)),
            state=REVOKED if self.revoked_at is not None else self.life.state,
            created_at=self.created_at,
            revoked_at=self.revoked_at,
            reason=self.reason,
            fingerprint=self.fingerprint,
            version_reasons=self.version_reasons,
            protection=self.protection,
            **self.life.info_fields(self.newest, self.revoked_versions),
        )


# What the custodian decides on failure. Each returns the error rather than raising it, so that
# its caller raises it from a frame that holds no key record, material or plaintext.


def rewrapped(
    key: KeyRecord, old: int, version: int, payload: bytes | bytearray | KMSError | None
) -> bytes | bytearray:
    """A re-encryption's ``payload`` under ``version`` (of a token made by ``old``), once it is known to stand.

    Raises:
        KMSError: the material's own error (a hardware token's); the refusal of a material that answered
            ``None``; the old version's, revoked meanwhile; or the new one's, no longer allowed to encrypt.
    """
    if isinstance(payload, (bytes, bytearray)) and not refused(key, old, False) and version not in key.view.no_protect:
        return payload
    error = payload if isinstance(payload, KMSError) else None
    if error is None:
        error = token_refusal(key, old) if refused(key, old, False) else unencrypted(key, version)
    del key, payload  # a traceback keeps its frames' locals: not the record of a key, nor a payload
    raise error


def unusable(key: KeyRecord, kind: str | None) -> KMSError:
    """The error for a key that is revoked, or not of ``kind``."""
    if key.revoked_at is not None:
        return KeyRevokedError(f"key {key.key_id!r} was revoked; it can no longer be used")
    use = {"rsa": "encrypt_data_rsa/decrypt_data_rsa", "signing": "sign/verify"}.get(
        key.kind, "encrypt_data_aes/decrypt_data_aes"
    )
    what = {"aes": "an AES", "rsa": "an RSA", "signing": "a signing"}[key.kind]
    wanted = str(kind).upper() if kind in ("aes", "rsa") else str(kind)
    return KeyTypeError(f"key {key.key_id!r} is {what} key, not {wanted}: use {use}")


def token_refusal(key: KeyRecord, version: int, allow_compromised: bool = False) -> KMSError:
    """The error for a token whose version is not live, whose states refuse it, or that does not decrypt."""
    if key.revoked_at is not None:
        return unusable(key, None)
    if version in key.revoked_versions:  # read after versions: a concurrent revocation is seen
        return KeyRevokedError(f"version {version} of key {key.key_id!r} was revoked")
    refused = state_refusal(
        key.key_id, key.life, version, key.revoked_versions, protect=False, allow_compromised=allow_compromised
    )
    return DecryptionError() if refused is None else refused


def unencrypted(key: KeyRecord, version: int) -> KMSError:
    """The error for an encryption, wrap or signature that did not happen.

    A revoked version, states that refuse it, or a version at its usage limit (sections 7 and 13).
    """
    material = key.versions.get(version)
    if key.revoked_at is None and version not in key.revoked_versions:
        refused = state_refusal(
            key.key_id, key.life, version, key.revoked_versions, protect=True, allow_compromised=False
        )
        usage = getattr(material, "usage", None)
        refusal = refused or (None if usage is None else usage.refusal(key.key_id, version))
        if refusal is not None:
            return refusal
    return token_refusal(key, version)


def refused(key: KeyRecord, version: int, allow_compromised: bool) -> bool:
    """Whether the states of ``key`` (read now, without the lock) refuse decrypting with ``version``."""
    view = key.view
    return version in view.no_process or (version in view.compromised and not allow_compromised)


def unbindable(material: Material) -> InvalidInputError:
    """The error for associated data given to a key that cannot bind it."""
    return InvalidInputError(f"an {material.algorithm} key cannot bind associated_data (only aes-256-gcm can)")


def admission(material: Material, length: int, aad: bytes | None) -> KMSError | None:
    """The error for associated data the material cannot bind, or a plaintext over its limit."""
    if aad is not None and not material.binds_associated_data:
        return unbindable(material)
    if aad is not None and len(aad) > GCM_MAX_ASSOCIATED_DATA:
        return MessageTooLongError(
            f"associated_data is {len(aad)} bytes; {material.algorithm} takes at most {GCM_MAX_ASSOCIATED_DATA} bytes"
        )
    if length > material.max_plaintext:
        return MessageTooLongError(material.too_long(length))
    return None


def open_version(  # noqa: PLR0917 - the token's parts and the caller's choices
    key: KeyRecord, version: int, algorithm: str, payload: bytes, aad: bytes | None, allow: bool = False
) -> bytes:
    """Decrypt ``payload`` with ``version`` of ``key``, which must still be live when the cryptography ends.

    Raises:
        DecryptionError, KeyRevokedError, KeyStateError, InvalidInputError: from this frame, once it
            has dropped the key's record, the material and the plaintext.
    """
    material = key.versions.get(version)
    plaintext = None
    error: KMSError | None
    if material is None or material.algorithm != algorithm:
        error = token_refusal(key, version, allow)
    else:
        error = None if aad is None else admission(material, 0, aad)
        if error is None:
            plaintext = material.decrypt(payload, aad)
            if plaintext is None or refused(key, version, allow):  # read after the cryptography
                error = token_refusal(key, version, allow)
    if error is not None:
        del key, material, plaintext  # a traceback keeps its frames' locals
        raise error
    assert plaintext is not None
    return plaintext


def decoded(plaintext: bytes, encoding: str) -> str | None:
    """The plaintext as text, or ``None`` if it does not decode (a decryption failure like any other).

    Returning rather than raising keeps the decode error, whose ``object`` is the plaintext, out of
    the caller's error: nothing in it points back here.
    """
    try:
        return plaintext.decode(encoding)
    except (ValueError, LookupError, TypeError, Warning):  # UnicodeError is a ValueError; a warning, if
        return None  # warnings are errors ("unicode_escape" warns of bad escapes), is a failure too


def version_refusal(key: KeyRecord, version: int) -> KMSError | None:
    """The error for revoking ``version`` of ``key`` alone, or ``None`` if that may be done."""
    if not 1 <= version <= key.newest:
        return KeyNotFoundError(f"key {key.key_id!r} has no version {version}")
    if version in key.revoked_versions:
        return KeyRevokedError(f"version {version} of key {key.key_id!r} is already revoked")
    if version == key.newest:
        return InvalidInputError(
            f"version {version} is the newest version of key {key.key_id!r}: rotate first, or revoke the whole key"
        )
    return None


def revoke(key: KeyRecord, version: int | None, reason: str | None, now: datetime | None) -> list[Material]:
    """Revoke ``version`` of ``key``, or the whole key (call with the lock held); return the doomed materials.

    The revoked versions are published before the call returns, so that an operation whose
    cryptography ends after it sees them and fails. Every version's reason is kept.
    ``now`` (the time of a whole-key revocation) is read only for that.
    """
    if version is None:
        key.revoked_at, key.reason = now, reason
        key.revoked_versions = frozenset(range(1, key.newest + 1))
        doomed = list(key.versions.values())
        key.versions = {}
    else:
        key.revoked_versions |= {version}
        doomed = [key.versions[version]]
        key.versions = {v: m for v, m in key.versions.items() if v != version}
        if reason is not None:
            key.reason = reason
            key.version_reasons = (*key.version_reasons, (version, reason))
    key.publish()
    return doomed
