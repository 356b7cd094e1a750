"""``KeyCustodian``: keeps keys in memory and does every key operation, by key id.

The original description's API, unchanged, plus the lifecycle of a real KMS:

- AES-256 keys (GCM by default, CBC with PKCS7 on request) and RSA key pairs (OAEP-SHA256
  by default, PKCS#1 v1.5 on request); one algorithm per key, fixed when it is made;
- Diffie-Hellman key exchange into a shared AES key (:mod:`kmslib.dh`);
- versions, rotation, rewrap, revocation of one version or of the whole key (a tombstone
  keeps the id forever), and a hash-chained audit log of every operation;
- key and version states and rotation policies (:mod:`kmslib.states`): pre-activation, suspension,
  deactivation, compromise, and cryptoperiods applied on a key's first use after they end.

Callers hold key ids and :class:`~kmslib.keyinfo.KeyInfo` handles, never key bytes. A
custodian is safe to share between threads: state changes under one lock, the cryptography
runs outside it, and nothing succeeds on a key once :meth:`KeyCustodian.invalidate_key` has returned;
no encryption, wrap or signature succeeds once a suspension, deactivation or compromise has returned.

Encryption and decryption sit on the path of every request, so they take no lock: each key
publishes what they need (its newest version, and a map of its live versions) as values that
writers replace whole, under the lock, and never edit in place; a reader sees the state before
a change or after it, never half of one. After its cryptography, an operation checks once more
that its version is live and its states allow it, so that none succeeds on a version whose
revocation (or suspension, deactivation, compromise) had returned.

Errors carry nothing secret. A traceback keeps the locals of every frame it passed through, so
the operations that hold plaintext or key material raise from frames that hold neither: key
materials answer ``None`` instead of raising (see :mod:`kmslib._material`), and the custodian's
own frames drop their secrets before an error leaves them. No error is raised while another is
being handled, so ``__cause__`` and ``__context__`` stay ``None``.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, overload

from kmslib import _checks, envelope, hybrid, kex, states
from kmslib import hsm as _hsm
from kmslib.aes import AES_MODES, AESKeyVersion
from kmslib.audit import ACTING, AuditLog, outcome
from kmslib.audit import Audited as _Audited
from kmslib.byok import ImportMethods
from kmslib.clock import Clock as Clock  # noqa: PLC0414 - re-exported: kmslib.widgets names it from here
from kmslib.clock import checked_clock, utc_now
from kmslib.dh import DEFAULT_INFO, GROUPS, DHPrivateKey, DHPublicKey, generate_key_pair
from kmslib.errors import (
    ArgumentTypeError,
    DecryptionError,
    InvalidInputError,
    KeyExistsError,
    KeyNotFoundError,
    KeyRevokedError,
    KeyStateError,
    KeyTypeError,
    KMSError,
    MessageTooLongError,
    SignatureError,
    StoreError,
)
from kmslib.keyinfo import KeyInfo
from kmslib.memory import IN_MEMORY as _IN_MEMORY
from kmslib.memory import InMemory as _InMemory
from kmslib.principals import PKI_OPERATIONS, AccessControl, AccessMethods
from kmslib.rsa import KEY_SIZES, RSA_PADDINGS, RSAKeyVersion, private_key_from_pem
from kmslib.signing import RSA_PSS_SIZES, SIGNING_ALGORITHMS, SigningKeyVersion, signable
from kmslib.states import KeyRecord as _Key
from kmslib.states import Lifecycle, Material
from kmslib.states import admission as _admission
from kmslib.states import decoded as _decode
from kmslib.states import open_version as _open
from kmslib.states import refused as _refused
from kmslib.states import token_refusal as _refusal
from kmslib.states import unencrypted as _unencrypted
from kmslib.tokens import AES_GCM, RSA_PSS, inspect_token, parse_exact, parse_token, payload_encoder
from kmslib.usage import UsageCounter, checked_limit, first_reservation, policy_block

if TYPE_CHECKING:  # the store module imports sqlite3: loaded only when a store is opened
    from kmslib.store import SealedStore

__all__ = ["REVOCATION_SUCCESSFUL", "KeyCustodian"]

#: What :meth:`KeyCustodian.invalidate_key` returns, as the original description promises.
REVOCATION_SUCCESSFUL = "Key Revocation Successful"


class KeyCustodian(AccessMethods, ImportMethods):
    """Holds AES and RSA keys in memory and performs every operation on them by key id.

    Args:
        clock: returns the current time as a timezone-aware ``datetime``; timestamps of
            keys and audit entries come from it (inject a fixed clock for repeatable tests
            and notebooks). Defaults to the system clock in UTC.
        gcm_invocation_limit: how many encryptions (tokens, wraps, envelopes, rewraps) each
            AES-GCM key version may make before it refuses with ``KeyStateError`` until the key is
            rotated: at most, and by default, 2**32 (NIST SP 800-38D, section 8.3; see
            :mod:`kmslib.usage`). Lower it to test what happens at the limit.
        hsm: a :class:`kmslib.HardwareToken`, for keys made with ``protection="hsm"`` (contract section 12).

    Raises:
        ArgumentTypeError: ``clock`` is not callable, ``gcm_invocation_limit`` is not an ``int``, or ``hsm``
            is not a ``HardwareToken``.
        InvalidInputError: ``gcm_invocation_limit`` is below 1 or above 2**32.

    """

    def __init__(
        self, *, clock: Clock | None = None, gcm_invocation_limit: int | None = None, hsm: object = None
    ) -> None:
        if clock is not None and not callable(clock):
            raise ArgumentTypeError(f"clock must be callable, not {type(clock).__name__}")
        self._hsm = _hsm.checked_token(hsm)
        self._gcm_limit = checked_limit(gcm_invocation_limit)
        self._now: Clock = utc_now if clock is None else checked_clock(clock)
        self._keys: dict[str, _Key] = {}
        self._lock = threading.RLock()
        self._store: _InMemory | SealedStore = _IN_MEMORY
        self._closed = False
        # The system clock is read as a float (cheap); the log turns it into a datetime when it is read.
        self._audit = AuditLog(time.time if clock is None else self._now)
        self._encode_payload = payload_encoder()
        self._access = AccessControl()
        self._imports = {}  # pending wrapped imports (kmslib.byok), in memory only

    # ------------------------------------------------------------------ helpers

    def _get(self, key_id: object) -> _Key:
        """The record of ``key_id``, live or revoked (call with the lock held)."""
        key = self._keys.get(key_id) if type(key_id) is str else None  # only plain, valid ids are stored
        if key is None:
            self._require_open()
            checked = _checks.key_id(key_id)  # a str subclass names the key of its plain value
            key = self._keys.get(checked)
            if key is None:
                raise KeyNotFoundError(f"no key with id {checked!r}")
        return key

    def _live(self, key_id: object, kind: str | None = None) -> _Key:
        """The record of an active key of ``kind`` (call with the lock held)."""
        key = self._get(key_id)
        if key.revoked_at is None and (kind is None or key.kind == kind):
            return key
        error = states.unusable(key, kind)
        del key  # a traceback keeps its frames' locals: not the record of a key
        raise error

    def _require_open(self) -> None:
        if self._closed:
            raise StoreError("this custodian was closed: open its store again to use its keys")

    def _require_free(self, key_id: object) -> str:
        checked = _checks.key_id(key_id)
        with self._lock:
            self._require_open()
            if checked in self._keys:
                raise KeyExistsError(f"the key id {checked!r} is taken (ids of revoked keys are never reused)")
        return checked

    def _create(
        self, key_id: str, kind: str, material: Material, audit: _Audited, activate_at: datetime | None = None
    ) -> KeyInfo:
        audit.version = 1
        with self._lock:
            self._require_open()
            if key_id in self._keys:
                raise KeyExistsError(f"the key id {key_id!r} is taken (ids of revoked keys are never reused)")
            self._counted(key_id, 1, material)
            now = self._now()
            life, protection = Lifecycle.new(now, activate_at), getattr(material, "protection", "software")
            key = _Key(key_id, kind, material.algorithm, now, {1: material}, life=life, protection=protection)
            key.fingerprint = material.fingerprint
            key.publish()
            error = self._save(key.info(), key.versions)  # durable before the key exists in memory
            if error is None:
                self._keys[key_id] = key
                return key.info()
        _hsm.erase(material, quiet=True)
        del key, material  # a traceback keeps its frames' locals: not the unsaved key
        raise error

    def _counted(
        self, key_id: str, version: int, material: Material, start: int | None = None, max_uses: int | None = None
    ) -> None:
        """Give a version its usage counter: AES-GCM always, any kind under ``max_uses`` (section 13).

        The limit is this custodian's GCM limit, or ``max_uses`` if lower; ``start`` is a loaded version's
        saved reservation; a new version (``None``) gets its first reservation, which the store saves with it.
        """
        limit = states.usage_limit(material.algorithm, self._gcm_limit, max_uses)
        if limit is not None:
            first = (policy_block(limit[0]) if limit[1] else first_reservation(limit[0])) if start is None else 0
            material.usage = UsageCounter(limit[0], start or 0, self._store.reserver(key_id, version), first)
            material.usage.relimit(*limit)

    def _relimit(self, key: _Key) -> None:
        """Give every live version of ``key`` the usage limit of its policy (call with the lock held)."""
        uses = None if key.life.policy is None else key.life.policy.max_uses
        for version, material in key.versions.items():
            limit = states.usage_limit(material.algorithm, self._gcm_limit, uses)
            if limit is None or material.usage is None:
                material.usage = None
                self._counted(key.key_id, version, material, 0, uses)
            else:
                material.usage.relimit(*limit)

    def _apply(self, key: _Key, **changes: object) -> KeyInfo:
        """Save, then publish, ``key`` with ``changes`` to its fields (call with the lock held)."""
        planned = replace(key, **changes)  # type: ignore[arg-type]
        error = self._save(planned.info(), {})  # durable before memory changes
        if error is not None:
            del key, planned  # a traceback keeps its frames' locals: not the record of a key
            raise error
        for name, value in changes.items():
            setattr(key, name, value)
        key.publish()  # from here on, encryption in flight sees the change (its check after the cryptography)
        return key.info()

    def _catch_up(self, key: _Key) -> None:
        """Make the time-driven changes due on ``key`` (section 13), each saved and audited as the owner's.

        Activation at ``activate_at``, deactivation of older versions after ``deactivate_after``, then a
        rotation after ``rotate_every`` or at ``max_uses`` (its new material is made outside the lock).
        """
        if key.view.due is None:
            return
        token = ACTING.set(None)  # the clock's doing: the owner's, whoever's call found the changes due
        try:
            with self._lock:
                if key.revoked_at is not None or self._closed:
                    return
                newest, due = key.newest, key.plan(self._now())
                if due.activate:
                    with _Audited(self, "activate_key", key.key_id):
                        self._apply(key, life=replace(key.life, state=states.ACTIVE))  # activate_at stays on record
                for version in due.deactivate:
                    with _Audited(self, "deactivate_key_by_policy", key.key_id, version):
                        self._apply(key, life=key.life.with_version(version, states.DEACTIVATED))
            if due.rotate:
                with _Audited(self, "rotate_key_by_policy", key.key_id) as audit:
                    self._rotate(key.key_id, audit, after=newest)
        finally:
            ACTING.reset(token)

    def _renewed(self, key: _Key, version: int) -> bool:
        """Whether ``key`` rotated by its policy because ``version`` reached its ``max_uses`` (then try again)."""
        if not key.rotates_at_limit(version):
            return False
        self._catch_up(key)
        return True

    def _protect(
        self, key_id: object, kind: str, use: states.Use, *, kek: bool = False
    ) -> tuple[_Key, int, str, bytes | bytearray | KMSError]:
        """Encrypt, wrap or sign with the newest version of a live key: ``use(material)``.

        ``use`` returns the payload, the error that refuses it, or ``None`` (the material refused:
        destroyed meanwhile, or at its limit).

        Returns:
            ``(key record, version, token header, payload)``, once the version is known to be still allowed
            after the cryptography (a rotation at ``max_uses`` makes a second try); or, in place of the
            payload, the error to raise (by the caller, which drops the key record first).
        """
        for attempt in (1, 2):
            key, (version, material, header) = self._sealer(key_id, kind, kek=kek)
            result = use(material)
            if isinstance(result, (bytes, bytearray)) and version not in key.view.no_protect:  # read after use
                return key, version, header, result
            if isinstance(result, KMSError) or attempt == 2 or not self._renewed(key, version):
                return key, version, header, result if isinstance(result, KMSError) else _unencrypted(key, version)
            del key, material, result  # a traceback of the second try keeps its frames' locals
        raise AssertionError("unreachable")  # pragma: no cover

    def _sealer(self, key_id: object, kind: str, *, kek: bool = False) -> tuple[_Key, tuple[int, Material, str]]:
        """A live key of ``kind`` (an AES-GCM one for a ``kek``) and what encrypting needs, changes due made.

        Raises:
            KeyStateError, KeyRevokedError, KeyTypeError, KeyNotFoundError: from a frame that holds no key record.
        """
        key = self._keys.get(key_id) if type(key_id) is str else None
        current = None if key is None else key.sealing(kind, kek=kek)
        if current is None:
            key = None  # a traceback keeps its frames' locals: not the record of a key of another kind
            with self._lock:
                key = self._kek(key_id) if kek else self._live(key_id, kind)
            self._catch_up(key)
            current = key.current
            if current is None:
                error = _unencrypted(key, key.newest)
                del key  # a traceback keeps its frames' locals: not the record of a key
                raise error
        assert key is not None
        return key, current

    def _change(
        self, operation: str, key_id: object, target: str, version: object = None, reason: object = None
    ) -> KeyInfo:
        """Move a key, or one version of it, to state ``target`` (section 13): checked, saved, published, audited."""
        with _Audited(self, operation, key_id) as audit:
            audit.version = checked = states.checked_version(version)
            why = states.checked_reason(reason, required=target == states.COMPROMISED)
            with self._lock:
                key = self._live(key_id)
            self._catch_up(key)
            with self._lock:
                key = self._live(key_id)
                changes = key.moved(target, checked, why)
                if isinstance(changes, KMSError):
                    del key  # a traceback keeps its frames' locals: not the record of a key
                    raise changes
                return self._apply(key, **changes)

    def _save(self, info: KeyInfo, new_versions: dict[int, Material]) -> StoreError | None:
        """Write a key change to the store (with the lock held); the error if it was not saved, returned.

        The error is returned, with its traceback dropped (the store's frames held the new material),
        so that the caller raises it from a frame that has dropped its own secrets.
        """
        try:
            self._store.save_key(info, new_versions)
        except StoreError as exc:
            exc.__traceback__ = None
            return exc
        return None

    # The hot path. Encryption and decryption take no lock: they read a key's ``current`` and
    # ``versions``, which writers replace whole; only a failure takes the lock, to find the precise
    # error. After the cryptography, each checks that its version is still live. Each records its
    # outcome in the audit log, failures included. On failure, each drops the locals that hold the
    # key's record, its material or the plaintext before the error leaves its frame.

    def _seal(
        self, operation: str, key_id: object, kind: str, plaintext: object, associated_data: object = None
    ) -> str:
        """Encrypt with the newest version of a live key of ``kind``; return the token."""
        version = key = data = None
        try:
            data = plaintext if type(plaintext) is bytes else _checks.data(plaintext, "plaintext")
            aad = None if associated_data is None else _checks.data(associated_data, "associated_data")
            key, version, header, payload = self._protect(  # data is bytes here; the closure sees its clearing below
                key_id,
                kind,
                lambda m: _admission(m, len(data), aad) or m.encrypt(data, aad),  # type: ignore[arg-type]
            )
            if isinstance(payload, KMSError):
                raise payload
            token = header + self._encode_payload(payload)
        except BaseException as exc:
            key = data = plaintext = None
            self._audit._append(operation, key_id, version, outcome(exc))
            raise
        audit = self._audit  # success: the record goes straight in, with the key's plain id
        try:
            audit._record((audit._now(), operation, key.key_id, version, "ok"))
        except BaseException:  # the store could not save the log (a full disk): drop the secrets first
            key = data = plaintext = None
            raise
        return token

    def _unseal(  # noqa: PLR0917 - the arguments of the two public decrypt methods
        self,
        operation: str,
        key_id: object,
        kind: str,
        token: object,
        associated_data: object,
        encoding: object,
        allow: bool = False,
    ) -> str | bytes:
        """Decrypt ``token`` with the version it names of a live key of ``kind``; return the plaintext."""
        version = key = material = plaintext = result = None
        try:
            enc = encoding if encoding is None or encoding == "utf-8" else _checks.encoding(encoding)
            aad = None if associated_data is None else _checks.data(associated_data, "associated_data")
            key = self._keys.get(key_id) if type(key_id) is str else None
            if key is None or key.current is None or key.kind != kind or key.view.due is not None:
                with self._lock:
                    key = self._live(key_id, kind)
                self._catch_up(key)
            version, algorithm, payload = parse_token(token)  # a problem with the key is reported first
            # _open's steps, inlined on this hot path (a call costs over 1% of a round trip):
            material = key.versions.get(version)
            if material is None or material.algorithm != algorithm:
                raise _refusal(key, version, allow)
            if aad is not None:
                error = _admission(material, 0, aad)
                if error is not None:
                    raise error
            plaintext = material.decrypt(payload, aad)
            view = key.view  # read after the cryptography
            if plaintext is None or version in view.no_process or (version in view.compromised and not allow):
                raise _refusal(key, version, allow)
            result = plaintext if enc is None else _decode(plaintext, enc)  # bytes unless asked for text
            if result is None:
                raise DecryptionError()
        except BaseException as exc:
            key = material = plaintext = result = None
            self._audit._append(operation, key_id, version, outcome(exc))
            raise
        audit = self._audit  # success: the record goes straight in, with the key's plain id
        try:
            if version in key.view.compromised:  # the owner read old data under a compromised version
                audit._append("allow_compromised", key.key_id, version, "ok")
            audit._record((audit._now(), operation, key.key_id, version, "ok"))
        except BaseException:  # the store could not save the log (a full disk): drop the secrets first
            key = material = plaintext = result = None
            raise
        return result

    # ------------------------------------------------------------------ AES

    def establish_aes_key(
        self, key_id: str, *, mode: str = "gcm", activate_at: datetime | None = None, protection: str = "software"
    ) -> KeyInfo:
        """Create a new AES-256 key from the OS CSPRNG, or inside a hardware token.

        Args:
            key_id: the new key's id.
            mode: ``"gcm"`` (AES-256-GCM, authenticated: the default) or ``"cbc"``
                (AES-256-CBC with PKCS7, as the original description specifies).
            activate_at: a later time (timezone-aware) makes the key ``pre-activation`` until the
                custodian's clock reaches it: no use at all before then (section 13).
            protection: ``"software"`` (the default) or ``"hsm"``: made inside this custodian's hardware token,
                sensitive and never extractable (contract section 12; :mod:`kmslib.hsm`).

        Returns:
            The new key's :class:`KeyInfo` (metadata only).

        Raises:
            KeyExistsError: the id is taken, by a live or a revoked key.
            InvalidInputError: a bad key id or mode; ``"hsm"`` without a token, or one lacking the mode.
            HardwareError: the token refused (full, removed...).

        """
        with _Audited(self, "establish_aes_key", key_id) as audit:
            checked = self._require_free(key_id)
            mode, when = _checks.choice(mode, "mode", AES_MODES), states.checked_activation(activate_at)
            hardware = _checks.choice(protection, "protection", _hsm.PROTECTIONS) == "hsm"
            material = _hsm.HardwareAESKey.generate(self._hsm, mode) if hardware else AESKeyVersion.generate(mode)
            return self._create(checked, "aes", material, audit, when)

    def import_aes_key(self, key_id: str, key_bytes: bytes, *, mode: str = "gcm") -> KeyInfo:
        """Bring your own AES-256 key: keep ``key_bytes`` as version 1 of a new key.

        Args:
            key_id: the new key's id.
            key_bytes: exactly 32 bytes.
            mode: ``"gcm"`` or ``"cbc"``.

        Returns:
            The new key's :class:`KeyInfo`.

        Raises:
            KeyExistsError: the id is taken.
            ArgumentTypeError: ``key_bytes`` is not bytes.
            InvalidInputError: ``key_bytes`` is not 32 bytes long, or a bad id or mode.

        """
        with _Audited(self, "import_aes_key", key_id) as audit:
            checked = self._require_free(key_id)
            mode = _checks.choice(mode, "mode", AES_MODES)
            if not isinstance(key_bytes, (bytes, bytearray, memoryview)):
                raise ArgumentTypeError(f"key_bytes must be bytes, not {type(key_bytes).__name__}")
            return self._create(checked, "aes", AESKeyVersion(key_bytes, mode), audit)

    def encrypt_data_aes(
        self, key_id: str, plaintext: str | bytes, *, associated_data: str | bytes | None = None
    ) -> str:
        """Encrypt with the newest version of an AES key.

        Args:
            key_id: the AES key's id.
            plaintext: ``str`` (encoded as UTF-8) or bytes.
            associated_data: GCM only: data that is authenticated but not encrypted (not
                stored in the token); decrypting needs exactly the same.

        Returns:
            The token ``kms:v<version>:<algorithm>:<base64 payload>``.

        Raises:
            KeyNotFoundError, KeyRevokedError, KeyTypeError: no such key, a revoked one, an RSA one.
            InvalidInputError: associated data for a CBC key, or a bad key id.
            ArgumentTypeError: ``plaintext`` or ``associated_data`` of the wrong type.

        """
        return self._seal("encrypt_data_aes", key_id, "aes", plaintext, associated_data)

    @overload
    def decrypt_data_aes(
        self,
        key_id: str,
        token: str,
        *,
        associated_data: str | bytes | None = ...,
        encoding: str = ...,
        allow_compromised: bool = ...,
    ) -> str: ...
    @overload
    def decrypt_data_aes(
        self,
        key_id: str,
        token: str,
        *,
        associated_data: str | bytes | None = ...,
        encoding: None,
        allow_compromised: bool = ...,
    ) -> bytes: ...
    def decrypt_data_aes(
        self,
        key_id: str,
        token: str,
        *,
        associated_data: str | bytes | None = None,
        encoding: str | None = "utf-8",
        allow_compromised: bool = False,
    ) -> str | bytes:
        """Decrypt a token with the AES key version it names.

        Args:
            key_id: the AES key's id.
            token: a token made by :meth:`encrypt_data_aes` (or built by the documented format).
            associated_data: the associated data given at encryption (GCM only).
            encoding: how to decode the plaintext; ``None`` returns bytes.
            allow_compromised: the owner reads old data under a compromised key or version (audited
                as ``allow_compromised``; section 13).

        Returns:
            The plaintext, as ``str`` (or bytes with ``encoding=None``).

        Raises:
            DecryptionError: a malformed or tampered token, another key's token, other
                associated data, or bytes that are not text: always the same message.
            KeyRevokedError: the key, or the token's version, was revoked.
            KeyStateError: the key is pre-activation or suspended, or it or the version is compromised.
            KeyNotFoundError, KeyTypeError: no such key, or an RSA key.
            InvalidInputError: associated data for a CBC key, or a bad argument.

        """
        allow = states.checked_flag(allow_compromised, "allow_compromised")
        return self._unseal("decrypt_data_aes", key_id, "aes", token, associated_data, encoding, allow)

    # ------------------------------------------------------------------ RSA

    def generate_rsa_pair(
        self, key_id: str, *, key_size: int = 2048, padding: str = "oaep", activate_at: datetime | None = None
    ) -> KeyInfo:
        """Generate an RSA key pair (public exponent 65537).

        Args:
            key_id: the new key's id.
            key_size: 2048 (the default), 3072 or 4096 bits.
            padding: ``"oaep"`` (OAEP with SHA-256: the default) or ``"pkcs1v15"``
                (PKCS#1 v1.5, as the original description specifies).
            activate_at: as for :meth:`establish_aes_key`.

        Returns:
            The new key's :class:`KeyInfo`.

        Raises:
            KeyExistsError: the id is taken.
            InvalidInputError: a bad key id, key size or padding.

        """
        with _Audited(self, "generate_rsa_pair", key_id) as audit:
            checked = self._require_free(key_id)
            padding = _checks.choice(padding, "padding", RSA_PADDINGS)
            if isinstance(key_size, bool) or not isinstance(key_size, int):
                raise ArgumentTypeError(f"key_size must be an int, not {type(key_size).__name__}")
            if key_size not in KEY_SIZES:
                raise InvalidInputError(f"key_size must be one of {', '.join(map(str, KEY_SIZES))}, not {key_size}")
            when = states.checked_activation(activate_at)
            return self._create(checked, "rsa", RSAKeyVersion.generate(key_size, padding), audit, when)

    def import_rsa_key(
        self, key_id: str, pem: str | bytes, *, padding: str = "oaep", password: str | bytes | None = None
    ) -> KeyInfo:
        """Bring your own RSA private key (PEM, PKCS#8 or PKCS#1) as version 1 of a new key.

        Args:
            key_id: the new key's id.
            pem: the private key as PEM text.
            padding: ``"oaep"`` or ``"pkcs1v15"``.
            password: the PEM's password, if it is encrypted.

        Returns:
            The new key's :class:`KeyInfo`.

        Raises:
            KeyExistsError: the id is taken.
            InvalidInputError: not an RSA private key, a wrong or missing password, a
                modulus under 2048 bits, or a bad id or padding.

        """
        with _Audited(self, "import_rsa_key", key_id) as audit:
            checked = self._require_free(key_id)
            padding = _checks.choice(padding, "padding", RSA_PADDINGS)
            loaded = private_key_from_pem(
                _checks.text_or_bytes_pem(pem, "pem"), _checks.optional_data(password, "password")
            )
            if isinstance(loaded, KMSError):
                del pem, password  # a traceback keeps its frames' locals: not the key's PEM
                raise loaded
            return self._create(checked, "rsa", RSAKeyVersion(loaded, padding), audit)

    def encrypt_data_rsa(self, key_id: str, plaintext: str | bytes) -> str:
        """Encrypt with the newest version of an RSA key's public key.

        Args:
            key_id: the RSA key's id.
            plaintext: ``str`` (UTF-8) or bytes, at most 190 bytes for OAEP and 245 for
                PKCS#1 v1.5 with a 2048-bit key.

        Returns:
            The token.

        Raises:
            MessageTooLongError: the plaintext is over the limit (the message names it).
            KeyNotFoundError, KeyRevokedError, KeyTypeError: no such key, a revoked one, an AES one.

        """
        return self._seal("encrypt_data_rsa", key_id, "rsa", plaintext)

    @overload
    def decrypt_data_rsa(
        self, key_id: str, token: str, *, encoding: str = ..., allow_compromised: bool = ...
    ) -> str: ...
    @overload
    def decrypt_data_rsa(self, key_id: str, token: str, *, encoding: None, allow_compromised: bool = ...) -> bytes: ...
    def decrypt_data_rsa(
        self, key_id: str, token: str, *, encoding: str | None = "utf-8", allow_compromised: bool = False
    ) -> str | bytes:
        """Decrypt a token with the RSA key version it names.

        Args:
            key_id: the RSA key's id.
            token: a token made by :meth:`encrypt_data_rsa`.
            encoding: how to decode the plaintext; ``None`` returns bytes.
            allow_compromised: as for :meth:`decrypt_data_aes`.

        Returns:
            The plaintext. With PKCS#1 v1.5 a forged token may yield pseudo-random bytes
            instead of an error (implicit rejection, the defence against Bleichenbacher attacks).

        Raises:
            DecryptionError: a malformed, tampered or foreign token: always the same message.
            KeyRevokedError: the key, or the token's version, was revoked.
            KeyNotFoundError, KeyTypeError: no such key, or an AES key.

        """
        allow = states.checked_flag(allow_compromised, "allow_compromised")
        return self._unseal("decrypt_data_rsa", key_id, "rsa", token, None, encoding, allow)

    def export_public_key(self, key_id: str) -> str:
        """Return the public key of an RSA key's newest version as SubjectPublicKeyInfo PEM.

        Secret material is never exported. A pre-activation, suspended or compromised key (or a
        compromised newest version) exports nothing, as AWS KMS's ``GetPublicKey`` refuses a disabled key,
        nor does a deactivated RSA encryption key, whose public key would only encrypt (a deactivated
        signing key's still verifies).
        Exporting counts as a use (section 13): a key whose activation time or cryptoperiod has passed is
        activated or rotated first, so the key exported is the one that signs or encrypts next.

        Raises:
            KeyTypeError: the key is an AES key (it has no public half).
            KeyStateError: the key's state forbids it (section 13).
            KeyNotFoundError, KeyRevokedError: no such key, or a revoked one.

        """
        with _Audited(self, "export_public_key", key_id) as audit:
            with self._lock:
                key = self._live(key_id)
            self._catch_up(key)  # a key whose activation time or cryptoperiod has passed changes first
            with self._lock:
                key = self._live(key_id)
                audit.version, material, name = key.newest, key.versions[key.newest], key.key_id
                error = key.state_error(key.newest, protect=key.kind == "rsa")  # an RSA public key encrypts
            del key
            if error is not None or not isinstance(material, (RSAKeyVersion, SigningKeyVersion)):
                del material  # a traceback keeps its frames' locals: not an AES key
                raise error or KeyTypeError(
                    f"key {name!r} is an AES key: it has no public key, and secrets are never exported"
                )
            return material.public_pem()

    # ------------------------------------------------------------------ Diffie-Hellman

    def generate_diffie_hellman_params_and_key(
        self, *, group: str = "ffdhe2048"
    ) -> tuple[DHPrivateKey, DHPublicKey] | tuple[hybrid.HybridPrivateKey, hybrid.HybridPublicKey]:
        """Make a Diffie-Hellman key pair in a fixed, published group.

        The name is the original description's; no parameters are generated (that takes
        seconds to minutes): the group is RFC 7919's, as in TLS 1.3.

        Args:
            group: ``"ffdhe2048"`` (the default), ``"ffdhe3072"``, ``"ffdhe4096"``, ``"x25519"``, or the
                hybrid post-quantum ``"x25519mlkem768"`` (whose responder answers with :meth:`accept_key_exchange`).

        Returns:
            ``(private_key, public_key)`` handles; send the public one to the peer.

        Raises:
            InvalidInputError: an unknown group.

        """
        with _Audited(self, "generate_diffie_hellman_params_and_key"):
            _checks.choice(group, "group", (*GROUPS, hybrid.GROUP))
            if group == hybrid.GROUP:
                private = hybrid.HybridPrivateKey.generate()
                return private, private.public_key()
            return generate_key_pair(group)

    def accept_key_exchange(
        self,
        key_id: str,
        initiator_public: object,
        *,
        mode: str = "gcm",
        info: bytes = DEFAULT_INFO,
        transcript: kex.Transcript | None = None,
    ) -> hybrid.KeyExchangeReply:
        """The responder's side of the hybrid x25519mlkem768 exchange: encapsulate, keep the key, reply.

        The key is HKDF-SHA256 of the ML-KEM secret followed by the X25519 one, with no salt and
        ``info`` followed by the SHA-256 digest of a transcript of the exchange as HKDF's info (see
        :mod:`kmslib.kex`): the given one, completed with the reply, or else the anonymous one (both
        identities empty). So a changed byte of either public key or of the ciphertext gives another key.

        Args:
            key_id: the new AES key's id.
            initiator_public: the initiator's public key (a handle, its 1216 bytes, or its printable form).
            mode: ``"gcm"`` or ``"cbc"``.
            info: HKDF's context string; both sides must use the same.
            transcript: for a signed exchange, the open :class:`kmslib.kex.Transcript` of this initiator's key
                and both identities; sign ``transcript.complete(reply)`` and send it with the reply.

        Returns:
            The reply to send the initiator, who finishes with :meth:`derive_shared_key`.

        Raises:
            InvalidPeerKeyError: a public key of the wrong length or group, or whose X25519 part gives an
                all-zero secret; no key is kept.
            InvalidInputError: a transcript of another key, or one already complete; no key is kept.
            KeyExistsError: the id is taken.

        """
        with _Audited(self, "accept_key_exchange", key_id) as audit:
            checked = self._require_free(key_id)
            mode = _checks.choice(mode, "mode", AES_MODES)
            context = bytes(_checks.buffer(info, "info"))
            key_bytes, reply = kex.accept(initiator_public, context, transcript)
            self._create(checked, "aes", AESKeyVersion(key_bytes, mode), audit)
            return reply

    def derive_shared_key(
        self,
        key_id: str,
        private_key: DHPrivateKey | object,
        peer_public_key: DHPublicKey | str | bytes | object,
        *,
        mode: str = "gcm",
        info: bytes = DEFAULT_INFO,
        transcript: kex.Transcript | None = None,
    ) -> KeyInfo:
        """Agree a key with a peer and keep it as version 1 of a new AES key.

        Validates the peer's public key, computes the shared secret, derives 32 bytes with
        HKDF-SHA256 (no salt, ``info``). With a ``transcript`` (see :mod:`kmslib.kex`), HKDF's info is
        ``info`` followed by the transcript's SHA-256 digest, so the key binds both identities and both
        public keys. The hybrid's initiator always binds one: the given transcript, or else the anonymous one,
        as :meth:`accept_key_exchange` does. The peer, doing the same with our public key (and the same
        transcript), gets the same AES key, so each side decrypts the other's tokens.

        Args:
            key_id: the new AES key's id.
            private_key: our private key (a handle, a pyca key, or unencrypted PKCS#8 PEM text).
            peer_public_key: the peer's public key (a handle, a pyca key or PEM text), or the hybrid's reply.
            mode: ``"gcm"`` or ``"cbc"``.
            info: HKDF's context string; both sides must use the same.
            transcript: a complete :class:`kmslib.kex.Transcript` holding our public key and the peer's (or
                the reply), whose peer signature this party has checked with :func:`kmslib.kex.verify_transcript`.

        Returns:
            The new key's :class:`KeyInfo`; both sides see the same fingerprint.

        Raises:
            InvalidPeerKeyError: the peer's key fails validation or is of another group; no key is kept.
            InvalidInputError: a transcript that is open or of another exchange; no key is kept.
            KeyExistsError: the id is taken.

        """
        with _Audited(self, "derive_shared_key", key_id) as audit:
            checked = self._require_free(key_id)
            mode = _checks.choice(mode, "mode", AES_MODES)
            context = bytes(_checks.buffer(info, "info"))
            key_bytes = kex.derive_key(private_key, peer_public_key, context, transcript)
            return self._create(checked, "aes", AESKeyVersion(key_bytes, mode), audit)

    # ------------------------------------------------------------------ signatures

    def generate_signing_key(
        self,
        key_id: str,
        *,
        algorithm: str = "ed25519",
        key_size: int | None = None,
        activate_at: datetime | None = None,
        protection: str = "software",
    ) -> KeyInfo:
        """Create a signing key pair (contract section 8); ``KeyInfo.kind`` is ``"signing"``.

        Args:
            key_id: the new key's id.
            algorithm: ``"ed25519"`` (the default), ``"ecdsa-p256-sha256"`` or ``"rsa-pss-sha256"``.
            key_size: RSA-PSS only: 2048 (the default), 3072 or 4096.
            activate_at: as for :meth:`establish_aes_key`.
            protection: ``"software"`` or ``"hsm"`` (``"ecdsa-p256-sha256"`` only): the private key made inside
                this custodian's hardware token (contract section 12).

        Raises:
            KeyExistsError: the id is taken.
            InvalidInputError: an unknown algorithm, a key size where none applies, or ``"hsm"`` without a token
                or for another algorithm.
            HardwareError: the token refused.

        """
        with _Audited(self, "generate_signing_key", key_id) as audit:
            checked = self._require_free(key_id)
            algorithm = _checks.choice(algorithm, "algorithm", SIGNING_ALGORITHMS)
            if key_size is not None:
                if isinstance(key_size, bool) or not isinstance(key_size, int):
                    raise ArgumentTypeError(f"key_size must be an int or None, not {type(key_size).__name__}")
                if algorithm != RSA_PSS or key_size not in RSA_PSS_SIZES:
                    raise InvalidInputError("key_size applies to rsa-pss-sha256 only: 2048, 3072 or 4096")
            when = states.checked_activation(activate_at)
            if _checks.choice(protection, "protection", _hsm.PROTECTIONS) == "hsm":
                return self._create(
                    checked, "signing", _hsm.HardwareSigningKey.generate(algorithm, token=self._hsm), audit, when
                )
            return self._create(checked, "signing", SigningKeyVersion.generate(algorithm, key_size), audit, when)

    def sign(self, key_id: str, message: str | bytes, *, deterministic: bool = False) -> str:
        """Sign ``message`` with the newest version of a signing key.

        A message that begins with ``kmslib-checkpoint:`` is refused: only :meth:`sign_audit_checkpoint`
        signs those, so that whoever may sign with a key cannot forge a checkpoint with it.

        Args:
            key_id: the signing key's id.
            message: ``str`` (UTF-8) or bytes.
            deterministic: for ECDSA, RFC 6979's nonce from the key and the message, so that signing the
                same message twice gives the same signature (Ed25519 always does).

        Returns:
            A token ``kms:v<version>:<algorithm>:<base64 signature>``; an ECDSA signature is low-s.

        Raises:
            KeyTypeError: the key is an encryption key.
            KeyNotFoundError, KeyRevokedError: no such key, or a revoked one.
            InvalidInputError: a checkpoint's statement, or ``deterministic`` for RSA-PSS or ML-DSA.

        """
        return self._sign("sign", key_id, lambda: signable(message), deterministic=deterministic)[1]

    def _sign(
        self, operation: str, key_id: object, data: Callable[[], bytes], *, deterministic: bool = False
    ) -> tuple[bytes, str]:
        """Sign ``data()`` with the newest version of a live signing key, audited as ``operation``.

        Returns the bytes signed and the signature token. Revocation is strict: a version revoked
        while it was signing gives the revoked error, not a signature.
        """
        version = key = None
        try:
            if self._access.dedicated(key_id) and operation not in PKI_OPERATIONS:
                raise KeyTypeError(f"key {key_id!r} signs certificates, CRLs and OCSP responses only (kmslib.pki)")
            signed = data()
            key, version, header, signature = self._protect(
                key_id,
                "signing",
                lambda material: material.sign(signed, deterministic=deterministic),  # type: ignore[union-attr]
            )
            if isinstance(signature, KMSError):
                raise signature
            token = header + self._encode_payload(signature)
        except BaseException as exc:
            key = None
            self._audit._append(operation, key_id, version, outcome(exc))
            raise
        self._audit._append(operation, key.key_id, version, "ok")
        return signed, token

    def verify(self, key_id: str, message: str | bytes, signature: str, *, allow_compromised: bool = False) -> None:
        """Check a signature made by :meth:`sign`, with the version its token names.

        Old signatures still verify after a rotation, and after a deactivation; a signature by a
        revoked version does not, nor one by a compromised version unless its owner passes
        ``allow_compromised=True`` (audited as ``allow_compromised``; section 13).

        Raises:
            SignatureError: a malformed token, another key's signature, or a changed message: one message for all.
            KeyRevokedError: the key, or the token's version, was revoked.
            KeyStateError: the key is pre-activation or suspended, or it or the version is compromised.
            KeyTypeError, KeyNotFoundError: an encryption key, or no such key.

        """
        version = key = material = None
        try:
            data = _checks.data(message, "message")
            allow = states.checked_flag(allow_compromised, "allow_compromised")
            if not isinstance(signature, str):
                raise ArgumentTypeError(f"signature must be a str token, not {type(signature).__name__}")
            with self._lock:
                key = self._live(key_id, "signing")
            self._catch_up(key)
            try:
                version, algorithm, payload = parse_token(signature)
            except DecryptionError:
                version = None
            if version is None:
                raise SignatureError()
            material = key.versions.get(version)
            if material is None or material.algorithm != algorithm or _refused(key, version, allow):
                error = _refusal(key, version, allow)
                raise error if isinstance(error, (KeyRevokedError, KeyStateError)) else SignatureError()
            assert isinstance(material, SigningKeyVersion)
            if not material.verifies(data, payload):
                raise SignatureError()
            if _refused(key, version, allow):  # read after the cryptography: a change that returned meanwhile wins
                raise _refusal(key, version, allow)
        except BaseException as exc:
            key = material = None  # a traceback keeps its frames' locals
            self._audit._append("verify", key_id, version, outcome(exc))
            raise
        assert key is not None
        if version in key.view.compromised:  # the owner checked an old signature of a compromised version
            self._audit._append("allow_compromised", key.key_id, version, "ok")
        self._audit._append("verify", key.key_id, version, "ok")

    def sign_audit_checkpoint(self, key_id: str) -> str:
        """Sign the audit log's current head: a checkpoint an auditor can trust with only the public key.

        The checkpoint is one printable line, ``kmslib-checkpoint:v1:<entries>:<head>:<time>:<signature token>``,
        whose signature covers everything before it. It vouches for the first ``<entries>`` entries (the
        count and the head are read together); the log's own record of this signing comes after them. A
        stored custodian saves those entries durably before it signs. ``sign`` refuses every message that
        begins with ``kmslib-checkpoint:``, so no other call of any key can make a checkpoint; still, give
        checkpoints a key of their own (one key, one purpose: NIST SP 800-57 Pt 1 §5.2).
        ``AuditLog.verify_jsonl(text, checkpoint=..., public_key=...)`` checks an export against it.

        A checkpoint proves that the log keeper's key vouched for that head at that time. It does not stop
        the keeper from signing a different history later; an auditor who kept an earlier checkpoint detects
        that. It is not Certificate Transparency: no Merkle proofs, no gossip.

        Raises:
            KeyTypeError, KeyNotFoundError, KeyRevokedError: as :meth:`sign`.
            StoreError: the log could not be saved; nothing is signed.
        """
        log = self._audit
        signed, token = self._sign("sign_audit_checkpoint", key_id, lambda: log._checkpoint_statement(self._now()))
        return f"{signed.decode('ascii')}:{token}"

    # ------------------------------------------------------------------ envelope encryption

    def _kek(self, key_id: object) -> _Key:
        """The record of a live AES-256-GCM key, the only kind that may wrap data keys (call with the lock held)."""
        key = self._live(key_id, "aes")
        if key.algorithm == AES_GCM:
            return key
        name = key.key_id
        del key  # a traceback keeps its frames' locals: not the record of a key
        raise KeyTypeError(f"key {name!r} is an aes-256-cbc key: a key-encryption key must be AES-256-GCM")

    def generate_data_key(self, key_id: str, *, associated_data: str | bytes | None = None) -> envelope.DataKey:
        """Make a fresh AES-256 data key, and wrap it under the newest version of KEK ``key_id``.

        Encrypt data with ``.plaintext`` wherever it lives, keep ``.wrapped`` beside it, and drop the
        plaintext; ``decrypt_data_aes(key_id, wrapped, associated_data=..., encoding=None)`` gives the
        key back (AWS KMS ``GenerateDataKey``, Vault transit ``datakey``).

        Args:
            key_id: the KEK: an active AES-256-GCM key.
            associated_data: bound to the wrapped key; unwrapping needs the same.

        Returns:
            A :class:`~kmslib.envelope.DataKey` (its repr hides the key).

        Raises:
            KeyTypeError: the key is not AES-256-GCM (CBC or RSA).
            KeyNotFoundError, KeyRevokedError: no such key, or a revoked one.
            MessageTooLongError: ``associated_data`` is longer than
                :data:`kmslib.envelope.MAX_ASSOCIATED_DATA_BYTES` (2**31 - 6) bytes.

        """
        return self._data_key("generate_data_key", key_id, associated_data)

    def _data_key(self, operation: str, key_id: object, associated_data: object) -> envelope.DataKey:
        """A fresh data key under KEK ``key_id``, audited as ``operation``."""
        try:
            aad = _checks.optional_data(associated_data, "associated_data")
            name, version, plaintext, wrapped = self._new_data_key(key_id, aad)
        except BaseException as exc:
            self._audit._append(operation, key_id, None, outcome(exc))
            raise
        try:
            self._audit._append(operation, name, version, "ok")
        except BaseException:  # the store could not save the log (a full disk): drop the data key first
            del plaintext
            raise
        return envelope.DataKey(name, version, plaintext, wrapped)

    def _new_data_key(self, key_id: object, aad: bytes | None) -> tuple[str, int, bytes, str]:
        """A fresh data key wrapped under the newest version of KEK ``key_id``: (KEK id, version, key, token).

        Raises:
            KeyTypeError, KeyNotFoundError, KeyRevokedError: from frames that hold no key record or data key.
            MessageTooLongError: ``aad`` is over :data:`kmslib.envelope.MAX_ASSOCIATED_DATA_BYTES`.
        """
        problem = None if aad is None else envelope.too_long(0, len(aad))
        if problem is not None:
            raise MessageTooLongError(problem)
        data_key = secrets.token_bytes(envelope.DATA_KEY_BYTES)
        try:
            key, version, header, payload = self._protect(key_id, "aes", lambda m: m.encrypt(data_key, aad), kek=True)
        except BaseException:
            del data_key  # the error passes through this frame: drop the data key first (a bare raise adds no context)
            raise
        if isinstance(payload, KMSError):
            del key, data_key  # a traceback keeps its frames' locals
            raise payload
        return key.key_id, version, data_key, header + self._encode_payload(payload)

    def generate_data_key_without_plaintext(self, key_id: str, *, associated_data: str | bytes | None = None) -> str:
        """Like :meth:`generate_data_key`, but return only the wrapped token (for a party that stores keys for later).

        It is audited as ``generate_data_key_without_plaintext``, so that an auditor sees that no
        plaintext data key left the custodian.

        Raises:
            KeyTypeError, KeyNotFoundError, KeyRevokedError, MessageTooLongError: as :meth:`generate_data_key`.
        """
        return self._data_key("generate_data_key_without_plaintext", key_id, associated_data).wrapped

    def encrypt_envelope(
        self, key_id: str, data: bytes | bytearray | memoryview, *, associated_data: str | bytes | None = None
    ) -> bytearray:
        """Encrypt ``data`` under a fresh data key wrapped by KEK ``key_id``; return one binary envelope.

        The format is in :mod:`kmslib.envelope`. The result is the ``bytearray`` the data was encrypted
        into (a ``bytes`` copy would double the memory the call takes); ``bytes(envelope)`` makes one.

        Args:
            key_id: the KEK: an active AES-256-GCM key.
            data: bytes-like, of at most :data:`kmslib.envelope.MAX_DATA_BYTES` (2**31 - 1) bytes
                (it is not copied).
            associated_data: bound to both the wrapped data key and the data; at most
                :data:`kmslib.envelope.MAX_ASSOCIATED_DATA_BYTES` (2**31 - 6) bytes. It is not stored
                in the envelope.

        Raises:
            KeyTypeError: the key is not AES-256-GCM.
            KeyNotFoundError, KeyRevokedError: no such key, or a revoked one.
            ArgumentTypeError: ``data`` is not bytes-like.
            MessageTooLongError: ``data`` or ``associated_data`` is over its limit (before any cryptography).

        """
        version = data_key = None
        key: _Key | None = None
        view: memoryview | None = None
        try:
            view = _checks.buffer(data, "data")
            aad = _checks.optional_data(associated_data, "associated_data")
            problem = envelope.too_long(len(view), 0 if aad is None else len(aad))
            if problem is not None:
                raise MessageTooLongError(problem)
            name, version, data_key, wrapped = self._new_data_key(key_id, aad)
            sealed = envelope.seal_data(data_key, wrapped, view, aad or b"")
            key = self._keys[name]
            if version in key.view.no_protect:  # revoked, suspended... while it was encrypting
                raise _unencrypted(key, version)
        except BaseException as exc:
            key = data_key = view = None
            self._audit._append("encrypt_envelope", key_id, version, outcome(exc))
            raise
        try:
            self._audit._append("encrypt_envelope", name, version, "ok")
        except BaseException:  # the store could not save the log (a full disk): drop the secrets first
            key = data_key = view = None
            raise
        return sealed

    def _unwrap(
        self, key_id: object, sealed: object, associated_data: object, allow: bool = False
    ) -> tuple[_Key, int, bytes, memoryview, bytes | None]:
        """Open an envelope's wrapped data key: ``(key record, version, data key, body, associated data)``.

        Raises:
            DecryptionError, KeyRevokedError, KeyTypeError, ...: from frames that hold no key record or secret.
        """
        view = _checks.buffer(sealed, "envelope")
        aad = _checks.optional_data(associated_data, "associated_data")
        with self._lock:
            key = self._kek(key_id)  # a problem with the key is reported first
        self._catch_up(key)
        problem = None if aad is None else envelope.too_long(0, len(aad))
        if problem is not None:
            del key  # a traceback keeps its frames' locals: not the record of a key
            raise MessageTooLongError(problem)
        parts = envelope.split(view)
        parsed = None if parts is None else parse_exact(parts[0])  # one envelope, one byte string
        if parts is None or parsed is None:
            del key  # a traceback keeps its frames' locals: not the record of a key
            raise DecryptionError()  # outside the except block: no context
        version, algorithm, payload = parsed
        try:
            data_key = _open(key, version, algorithm, payload, aad, allow)
        except BaseException:
            del key  # the error passes through this frame: drop the key's record first (a bare raise adds no context)
            raise
        return key, version, data_key, parts[1], aad

    def decrypt_envelope(
        self,
        key_id: str,
        sealed: bytes | bytearray | memoryview,
        *,
        associated_data: str | bytes | None = None,
        allow_compromised: bool = False,
    ) -> bytes:
        """Decrypt an envelope made by :meth:`encrypt_envelope` (or by hand, by the format).

        Args:
            key_id: the KEK that wrapped its data key.
            sealed: the envelope, bytes-like.
            associated_data: the same as at encryption.
            allow_compromised: as for :meth:`decrypt_data_aes`.

        Returns:
            The data.

        Raises:
            DecryptionError: a malformed, truncated or tampered envelope, another KEK, or other
                associated data: always the same message, with no cause.
            KeyRevokedError: the KEK, or the version that wrapped the data key, was revoked.
            KeyStateError: the KEK is pre-activation or suspended, or it or the version is compromised.
            KeyTypeError, KeyNotFoundError: not an AES-256-GCM key, or no such key.
            MessageTooLongError: ``associated_data`` is longer than
                :data:`kmslib.envelope.MAX_ASSOCIATED_DATA_BYTES` (no envelope can have been made with it).

        """
        version = key = data_key = None
        try:
            allow = states.checked_flag(allow_compromised, "allow_compromised")
            key, version, data_key, body, aad = self._unwrap(key_id, sealed, associated_data, allow)
            data = envelope.open_data(data_key, body, aad or b"")
            if data is None:
                raise DecryptionError()
        except BaseException as exc:
            key = data_key = None
            self._audit._append("decrypt_envelope", key_id, version, outcome(exc))
            raise
        try:
            if version in key.view.compromised:  # the owner read old data under a compromised version
                self._audit._append("allow_compromised", key.key_id, version, "ok")
            self._audit._append("decrypt_envelope", key.key_id, version, "ok")
        except BaseException:  # the store could not save the log (a full disk): drop the secrets first
            key = data_key = data = None
            raise
        return data

    def rewrap_envelope(
        self, key_id: str, sealed: bytes | bytearray | memoryview, *, associated_data: str | bytes | None = None
    ) -> bytearray:
        """Re-wrap an envelope's data key under the KEK's newest version; the data is not re-encrypted.

        Only a genuine envelope is re-wrapped: its wrapped key must be a 32-byte data key, and its
        body must pass GCM authentication under that key. Checking costs one AES-GCM decryption of
        the body (its plaintext is discarded), about as long as :meth:`decrypt_envelope`; the nonce,
        ciphertext and tag are then copied unchanged, and the data key alone is re-encrypted.

        Returns:
            The new envelope.

        Raises:
            DecryptionError: as :meth:`decrypt_envelope`: a malformed, tampered or forged envelope,
                another KEK, or other associated data (one message, with no cause).
            KeyRevokedError, KeyTypeError, KeyNotFoundError, MessageTooLongError: as :meth:`decrypt_envelope`.

        """
        version = key = data_key = material = current = None
        try:
            key, version, data_key, body, aad = self._unwrap(key_id, sealed, associated_data)
            if not envelope.authentic(data_key, body, aad or b""):  # never re-wrap what does not authenticate
                raise DecryptionError()
            old = version
            current = key.current
            if current is None:
                raise _unencrypted(key, key.newest)
            version, material, header = current
            payload = states.rewrapped(key, old, version, material.encrypt(data_key, aad))
            result = envelope.rewrapped(header + self._encode_payload(payload), body)
        except BaseException as exc:
            key = data_key = material = current = None
            self._audit._append("rewrap_envelope", key_id, version, outcome(exc))
            raise
        try:
            self._audit._append("rewrap_envelope", key.key_id, version, "ok")
        except BaseException:  # the store could not save the log (a full disk): drop the secrets first
            key = data_key = material = current = None
            raise
        return result

    # ------------------------------------------------------------------ lifecycle

    def rotate_key(self, key_id: str) -> KeyInfo:
        """Add a new version to a key; encryption uses it from now on.

        Tokens of older versions still decrypt (until those versions are revoked);
        :meth:`rewrap` moves them to the newest version.

        Returns:
            The key's :class:`KeyInfo`, with the new version.

        Raises:
            KeyNotFoundError, KeyRevokedError: no such key, or a revoked one.
            KeyStateError: the key is not active (pre-activation, suspended, deactivated or compromised).

        """
        with _Audited(self, "rotate_key", key_id) as audit:
            info = self._rotate(key_id, audit)
            assert info is not None
            return info

    def _rotate(self, key_id: object, audit: _Audited, after: int | None = None) -> KeyInfo | None:
        """Add a version to an active key; with ``after``, only if its newest is still that (a rotation by policy)."""
        with self._lock:
            key = self._rotatable(key_id, audit, after, None)
            if key is None:
                return None
            newest = key.versions[key.newest]
        fresh = newest.successor()  # outside the lock: RSA key generation is slow
        del newest
        with self._lock:
            key = self._rotatable(key_id, audit, after, fresh)
            if key is None:
                return None
            policy = key.life.policy
            self._counted(key.key_id, key.newest + 1, fresh, None, None if policy is None else policy.max_uses)
            life = replace(key.life, created=(*key.life.created, self._now()))
            planned = replace(key, newest=key.newest + 1, fingerprint=fresh.fingerprint, life=life)
            error = self._save(planned.info(), {key.newest + 1: fresh})  # durable before memory changes
            if error is not None:
                _hsm.erase(fresh, quiet=True)
                del key, fresh, planned  # a traceback keeps its frames' locals: no key material
                raise error
            key.newest += 1
            key.versions = {**key.versions, key.newest: fresh}
            key.fingerprint, key.life = fresh.fingerprint, life
            key.publish()
            audit.version = key.newest
            return key.info()

    def _rotatable(self, key_id: object, audit: _Audited, after: int | None, fresh: Material | None) -> _Key | None:
        """The record of a key that may rotate now (call with the lock held), or ``None``.

        ``None``: a rotation by policy is no longer due (another thread made it, or the key was revoked or
        changed state meanwhile); then nothing is audited, and ``fresh`` is destroyed.
        """
        key = self._live(key_id) if after is None else self._get(key_id)
        error = key.state_error(None, protect=True)
        if error is None and key.revoked_at is None and (after is None or key.newest == after):
            return key
        if fresh is not None:
            _hsm.erase(fresh, quiet=True)
        del key, fresh  # a traceback keeps its frames' locals: not the record of a key
        if error is not None and after is None:  # a rotation by policy that a state change overtook: none is due
            raise error
        audit.operation = ""
        return None

    def rewrap(self, key_id: str, token: str, *, associated_data: str | bytes | None = None) -> str:
        """Re-encrypt a token under the key's newest version, without returning the plaintext.

        Args:
            key_id: the key's id (AES or RSA).
            token: a token of any live version of that key.
            associated_data: the token's associated data (GCM); the new token binds the same.

        Returns:
            The new token.

        Raises:
            DecryptionError: the token does not decrypt.
            KeyRevokedError: the key, or the token's version, was revoked.
            KeyNotFoundError: no such key.

        """
        version = key = current = material = plaintext = None
        try:
            aad = _checks.optional_data(associated_data, "associated_data")
            with self._lock:
                key = self._live(key_id)
            self._catch_up(key)
            version, algorithm, payload = parse_token(token)
            old = version
            plaintext = _open(key, version, algorithm, payload, aad)
            current = key.current
            if current is None:  # the key was revoked, suspended... meanwhile
                raise _unencrypted(key, key.newest)
            version, material, header = current
            error = _admission(material, len(plaintext), aad)
            if error is not None:
                raise error
            rewrapped = states.rewrapped(key, old, version, material.encrypt(plaintext, aad))
            result = header + self._encode_payload(rewrapped)
        except BaseException as exc:
            key = current = material = plaintext = None
            self._audit._append("rewrap", key_id, version, outcome(exc))
            raise
        try:
            self._audit._append("rewrap", key.key_id, version, "ok")
        except BaseException:  # the store could not save the log (a full disk): drop the secrets first
            key = current = material = plaintext = None
            raise
        return result

    def invalidate_key(self, key_id: str, *, version: int | None = None, reason: str | None = None) -> str:
        """Revoke a whole key, or one version of it.

        With no ``version``, the whole key is revoked: every version's material is dropped
        (its bytes overwritten where Python allows), and the id stays as a tombstone with
        state ``"revoked"``, so it is never reused. With a ``version``, only that version is
        revoked; its tokens then raise :class:`~kmslib.errors.KeyRevokedError`.

        Args:
            key_id: the key's id.
            version: one version to revoke; not the newest (rotate first).
            reason: why, kept in the key's metadata (at most 500 characters).

        Returns:
            ``"Key Revocation Successful"``.

        Raises:
            KeyNotFoundError: no such key, or no such version.
            KeyRevokedError: it is already revoked.
            InvalidInputError: ``version`` is the newest, or a bad argument.

        """
        with _Audited(self, "invalidate_key", key_id) as audit:
            version, reason = states.checked_version(version), states.checked_reason(reason)
            with self._lock:
                key = self._live(key_id)
                audit.version = version
                error = None if version is None else states.version_refusal(key, version)
                if error is None:
                    when = self._now() if version is None else None
                    planned = replace(key)  # the revocation, worked out on a copy, is saved first
                    states.revoke(planned, version, reason, when)
                    error = self._save(planned.info(), {})
                    if error is None:
                        doomed = states.revoke(key, version, reason, when)
            if error is not None:
                key = planned = None  # type: ignore[assignment]  # a traceback keeps its frames' locals: not the record of a live key
                raise error
            for material in doomed:  # nothing can reach them any more: overwrite what Python allows, erase in a token
                _hsm.erase(material)
            return REVOCATION_SUCCESSFUL

    # ------------------------------------------------------------------ states and cryptoperiods (section 13)

    def suspend_key(self, key_id: str, *, reason: str | None = None) -> KeyInfo:
        """Suspend an active key: nothing works with it (not even decryption) until :meth:`resume_key`.

        Stricter than NIST SP 800-57 Pt 1 section 7.3, which lets a suspended key still process old
        data at the recipient's risk: kmslib stops every use while an incident is investigated.

        Args:
            key_id: the key's id.
            reason: why, kept as the key's ``reason`` (at most 500 characters).

        Returns:
            The key's :class:`KeyInfo`, in state ``"suspended"``.

        Raises:
            KeyStateError: the key is not active (the message names its state).
            KeyRevokedError, KeyNotFoundError: a revoked key, or no such key.

        """
        return self._change("suspend_key", key_id, states.SUSPENDED, None, reason)

    def resume_key(self, key_id: str) -> KeyInfo:
        """Make a suspended key active again.

        Raises:
            KeyStateError: the key is not suspended (the message names its state).
            KeyRevokedError, KeyNotFoundError: a revoked key, or no such key.
        """
        return self._change("resume_key", key_id, states.ACTIVE)

    def deactivate_key(self, key_id: str, *, version: int | None = None, reason: str | None = None) -> KeyInfo:
        """Deactivate a key, or one older version: it decrypts, unwraps and verifies, never encrypts, wraps or signs.

        The end of an originator-usage period (NIST SP 800-57 Pt 1 section 5.3); nothing is destroyed.

        Args:
            key_id: the key's id.
            version: one version (not the newest: rotate first); ``None``, the whole key.
            reason: why (at most 500 characters).

        Returns:
            The key's :class:`KeyInfo`.

        Raises:
            KeyStateError: the key (or the version) is in a state that cannot be deactivated (named).
            KeyRevokedError, KeyNotFoundError: a revoked key or version, or no such key or version.
            InvalidInputError: ``version`` is the newest.

        """
        return self._change("deactivate_key", key_id, states.DEACTIVATED, version, reason)

    def mark_compromised(self, key_id: str, *, version: int | None = None, reason: str) -> KeyInfo:
        """Mark a key, or one version, compromised: the material is kept, and every use is refused.

        The owner may still decrypt or verify old data with ``allow_compromised=True`` (audited).
        A compromised newest version stops encryption until a rotation (:meth:`rotate_key`, or the policy's).

        Args:
            key_id: the key's id.
            version: one version; ``None``, the whole key.
            reason: why: required, kept for the investigation (at most 500 characters).

        Returns:
            The key's :class:`KeyInfo`.

        Raises:
            KeyStateError: it is already compromised (the message names the state).
            KeyRevokedError, KeyNotFoundError: a revoked key or version, or no such key or version.
            InvalidInputError, ArgumentTypeError: no reason, or a bad argument.

        """
        return self._change("mark_compromised", key_id, states.COMPROMISED, version, reason)

    def set_rotation_policy(
        self,
        key_id: str,
        *,
        rotate_every: timedelta | None = None,
        deactivate_after: timedelta | None = None,
        max_uses: int | None = None,
    ) -> KeyInfo:
        """Give a key a cryptoperiod (see :mod:`kmslib.states`); all three ``None`` removes the policy.

        Args:
            key_id: the key's id.
            rotate_every: rotate on the first use once the newest version is this old (1 to 876,000 hours).
            deactivate_after: deactivate each older version once it has not been the newest for this long
                (at most 876,000 hours).
            max_uses: the most encryptions, wraps and signatures per version (at most 2**32); at the
                limit the key rotates if ``rotate_every`` is set, else raises ``KeyStateError``.

        Returns:
            The key's :class:`KeyInfo`, with its ``policy``.

        Raises:
            ArgumentTypeError, InvalidInputError: a bad period or count; nothing changes.
            KeyRevokedError, KeyNotFoundError: a revoked key, or no such key.

        """
        with _Audited(self, "set_rotation_policy", key_id):
            policy = states.checked_policy(rotate_every, deactivate_after, max_uses)
            with self._lock:
                key = self._live(key_id)
                info = self._apply(key, life=replace(key.life, policy=policy))
                self._relimit(key)
                return info

    # ------------------------------------------------------------------ the store (contract section 9)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        passphrase: str | bytes | None = None,
        shares: list[str] | None = None,
        clock: Clock | None = None,
        gcm_invocation_limit: int | None = None,
        hsm: object = None,
    ) -> KeyCustodian:
        """Open a sealed store made by :func:`kmslib.init_store`: a custodian like any other, written through.

        Every key change is committed to the file, durably, before its call returns. Encryption and
        decryption read nothing from the disk; their audit records are saved in batches by a writer
        thread (:mod:`kmslib.store` says how many a crash can lose), and an AES-GCM version writes
        one usage reservation per :data:`kmslib.usage.RESERVATION_BLOCK` encryptions. :meth:`close` (or leaving a
        ``with`` block) seals it again.

        Args:
            path: the store file.
            passphrase: the store's passphrase; or
            shares: at least the threshold of its SLIP-0039 shares.
            clock: as for :class:`KeyCustodian`.
            gcm_invocation_limit: as for :class:`KeyCustodian`; each version's count goes on from
                the reservation the store holds for it (:mod:`kmslib.usage`).
            hsm: the :class:`kmslib.HardwareToken` holding the store's hardware keys, or sealing its root
                key (``init_store(path, hsm=token)``); then no passphrase or shares are needed.

        Returns:
            The custodian, holding every key and the audit log the store holds (an ``open`` entry added).

        Raises:
            UnsealError: a wrong passphrase, too few shares, or wrong or mistyped ones; nothing in
                the file changes.
            StoreError: no store at ``path``, a store open elsewhere (another process, or another
                custodian), a corrupted, tampered or newer-format file; nothing is loaded.
            InvalidInputError, ArgumentTypeError: a bad ``gcm_invocation_limit``; the file is not touched.

        """
        from kmslib.store import AUDIT_BATCH, AUDIT_LIMIT, open_store  # noqa: PLC0415 - sqlite3 only with a store

        error: BaseException | None = None
        try:
            custodian = cls(clock=clock, gcm_invocation_limit=gcm_invocation_limit, hsm=hsm)
            store, loaded = open_store(path, passphrase=passphrase, shares=shares, hsm=custodian._hsm)
        except BaseException as exc:  # noqa: BLE001 - a KMSError, or MemoryError...: raised below without the secret
            error = exc
        if error is not None:
            passphrase = shares = None  # a traceback keeps its frames' locals: not the unseal secret
            raise error
        passphrase = shares = None
        custodian._store = store
        for info, versions in loaded.keys:
            uses = None if info.policy is None else info.policy.max_uses
            for version, material in versions.items():
                start = loaded.usage.get((info.key_id, version), 0)
                custodian._counted(info.key_id, version, material, start, uses)
            custodian._keys[info.key_id] = _Key.loaded(info, versions)
        custodian._restore_access(store, loaded.access)
        wake = store.start_writer(custodian._audit)
        custodian._audit._restore(loaded.audit, store.write_audit, wake, batch=AUDIT_BATCH, limit=AUDIT_LIMIT)
        custodian._audit._append("open", None, None, "ok")
        custodian._audit.flush()
        return custodian

    def rekey(
        self,
        current: str | bytes | list[str],
        *,
        passphrase: str | bytes | None = None,
        shares: int | None = None,
        threshold: int | None = None,
        share_recipients: Sequence[str | bytes] | None = None,
    ) -> list[str]:
        """Replace a stored custodian's unseal secret and rotate its root key, as when a share holder leaves.

        A new root key replaces the old one, and every sealed row (each key version, each key row's
        MAC, the manifests) is re-sealed under it, with the root key sealed under the new unseal
        secret, in one durable transaction: all of it is saved or, on any failure, none of it (Vault's
        rekey together with its rotate). From then on the old passphrase or shares open nothing in the
        current file, keys created later included. An old backup is not changed: it keeps the old root
        key under the old secret, so the old secret still opens it. Destroying the backups taken before
        a rekey is part of the procedure. Like Vault's rekey, it asks for the current secret, so that
        an open session alone cannot change who can unseal.

        Args:
            current: the current passphrase, or at least the threshold of the current shares.
            passphrase: the new passphrase; or
            shares: how many new shares to make (2 to 16), with
            threshold: how many of them will unseal.
            share_recipients: with ``shares``, one public key PEM per new share, in order: each new share
                is then sealed to its holder, as with :func:`kmslib.init_store` (Vault's ``operator rekey
                -pgp-keys``; see :mod:`kmslib.ceremony`). Checked before anything changes.

        Returns:
            The new shares, shown once (each sealed to its holder if ``share_recipients`` was given), or
            ``[]`` for a passphrase.

        Raises:
            UnsealError: ``current`` does not unseal this store; nothing changes.
            InvalidInputError: an in-memory custodian, or bad new values.
            StoreError: the custodian was closed, a row of the file changed since it was opened, or
                the change could not be written; nothing changes, and the custodian stays usable.

        """
        error: BaseException | None = None
        with _Audited(self, "rekey"):
            with self._lock:
                self._require_open()
                try:
                    return self._store.rekey(current, passphrase, shares, threshold, share_recipients)
                except BaseException as exc:  # noqa: BLE001 - a KMSError, or MemoryError...: raised below
                    error = exc
                    error.__traceback__ = error.__context__ = None  # the store's frames held the secrets
            current = passphrase = None  # type: ignore[assignment]  # a traceback keeps its frames' locals
            assert error is not None
            raise error

    @property
    def store_path(self) -> Path | None:
        """The file of the sealed store this custodian was opened from, or ``None`` for an in-memory one."""
        return self._store.path

    def close(self) -> None:
        """Seal the custodian again: save the audit log, drop every key's material from memory, release the store.

        Afterwards every key operation raises :class:`~kmslib.errors.StoreError`; the audit log
        stays readable. Closing twice does nothing. An in-memory custodian's keys are simply gone (and its keys in a
        hardware token are destroyed there).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            keys, self._keys = self._keys, {}
        self._audit._append("close", None, None, "ok")
        try:
            self._audit.flush()
        finally:
            self._audit._detach()
            for key in keys.values():
                key.current = None
                for material in key.versions.values():  # an in-memory custodian's token keys go with it
                    _hsm.erase(material, quiet=True) if self._store is _IN_MEMORY else material.destroy()
            self._store.close()

    def __enter__(self) -> KeyCustodian:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def key_info(self, key_id: str) -> KeyInfo:
        """Return a key's metadata (also for a revoked key's tombstone), once the changes due on it are made.

        Looking counts as a use (section 13): a key whose activation time or cryptoperiod has passed is
        activated, rotated or has old versions deactivated first, each audited.

        Raises:
            KeyNotFoundError: no such key.
            InvalidInputError: a bad key id.

        """
        with self._lock:
            key = self._get(key_id)
        self._catch_up(key)
        with self._lock:
            return key.info()

    def list_keys(self) -> tuple[KeyInfo, ...]:
        """Return every key's metadata, live and revoked, in the order they were made (changes due made first).

        Raises:
            StoreError: the custodian was closed.
        """
        with self._lock:
            self._require_open()
            keys = list(self._keys.values())
        for key in keys:
            self._catch_up(key)
        with self._lock:
            return tuple(key.info() for key in keys)

    @property
    def audit_log(self) -> AuditLog:
        """The read-only, hash-chained log of every key operation and its outcome."""
        return self._audit

    inspect_token = staticmethod(inspect_token)

    def __contains__(self, key_id: object) -> bool:
        with self._lock:
            return key_id in self._keys

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)

    def __repr__(self) -> str:
        with self._lock:
            active = sum(1 for key in self._keys.values() if key.revoked_at is None)
            return f"KeyCustodian(keys={len(self._keys)}, active={active})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a KeyCustodian cannot be pickled: it holds secret key material")
