"""``KeyInfo``: what may be known about a key without holding it.

A ``KeyInfo`` is a handle's metadata, like Tink's ``keyset_info()``: it carries no key bytes,
so it is safe to print, log, pickle and show in a notebook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kmslib.states import RotationPolicy

__all__ = ["KeyInfo"]


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """Immutable, public metadata of one key.

    Attributes:
        key_id: the key's id.
        kind: ``"aes"``, ``"rsa"`` or ``"signing"``.
        algorithm: the token algorithm name (``"aes-256-gcm"``, ``"rsa-oaep-sha256"``, ...).
        version: the newest version (encryption uses it).
        revoked_versions: the versions revoked one by one, or all of them once the key is revoked.
        state: ``"pre-activation"``, ``"active"``, ``"suspended"``, ``"deactivated"``,
            ``"compromised"`` or ``"revoked"`` (contract section 13; see :mod:`kmslib.states`).
        created_at: when the key was made (timezone-aware UTC).
        revoked_at: when the whole key was revoked, or ``None``.
        reason: the reason given when the whole key was revoked, suspended, deactivated or marked
            compromised (the latest of these); while the key is active, the latest reason given for
            revoking one of its versions; else ``None``.
        fingerprint: a short public fingerprint of the newest version: SHA-256 of the public
            key for RSA, of a keyed derivation for AES (never of the raw key).
        version_reasons: ``(version, reason)`` for each version revoked, deactivated or marked
            compromised on its own with a reason, in that order; revoking the whole key later keeps them.
        activate_at: for a key made with ``activate_at=`` a later time, when it becomes (or became) active;
            ``None`` for a key active from its making.
        version_states: ``(version, state)`` for every version, oldest first: ``"active"``,
            ``"deactivated"``, ``"compromised"`` or ``"revoked"``: each version's own state; the
            key's ``state`` applies on top of it.
        policy: the key's :class:`~kmslib.states.RotationPolicy`, or ``None``.
        version_created: when each version was made, oldest first.
        protection: where the key lives: ``"software"`` (in this process's memory) or ``"hsm"`` (in a
            PKCS#11 token, contract section 12; see :mod:`kmslib.hsm`).

    """

    key_id: str
    kind: str
    algorithm: str
    version: int
    revoked_versions: tuple[int, ...]
    state: str
    created_at: datetime
    revoked_at: datetime | None
    reason: str | None
    fingerprint: str
    version_reasons: tuple[tuple[int, str], ...] = ()
    activate_at: datetime | None = None
    version_states: tuple[tuple[int, str], ...] = ()
    policy: RotationPolicy | None = None
    version_created: tuple[datetime, ...] = ()
    protection: str = "software"

    @property
    def active(self) -> bool:
        """Whether the key is in state ``"active"`` (a deactivated key still decrypts and verifies)."""
        return self.state == "active"

    def __repr__(self) -> str:
        parts = [
            f"key_id={self.key_id!r}",
            f"algorithm={self.algorithm!r}",
            f"version={self.version}",
            f"state={self.state!r}",
            f"fingerprint={self.fingerprint!r}",
            f"created_at={self.created_at.isoformat(timespec='seconds')!r}",
        ]
        if self.revoked_versions:
            parts.append(f"revoked_versions={self.revoked_versions!r}")
        if self.revoked_at is not None:
            parts.append(f"revoked_at={self.revoked_at.isoformat(timespec='seconds')!r}")
        if self.reason is not None:
            parts.append(f"reason={self.reason!r}")
        if self.version_reasons:
            parts.append(f"version_reasons={self.version_reasons!r}")
        if self.activate_at is not None:
            parts.append(f"activate_at={self.activate_at.isoformat(timespec='seconds')!r}")
        if any(state in ("deactivated", "compromised") for _, state in self.version_states):
            parts.append(f"version_states={self.version_states!r}")
        if self.policy is not None:
            parts.append(f"policy={self.policy!r}")
        if self.protection != "software":
            parts.append(f"protection={self.protection!r}")
        return f"KeyInfo({', '.join(parts)})"
