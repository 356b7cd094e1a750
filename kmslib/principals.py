"""Who is asking: principals' credentials, key policies, and the view that acts as a principal (contract section 11).

This is authorization inside one process, not isolation: whoever holds the owner's ``KeyCustodian``
object (or reads its memory) can do anything, whatever the policies say; and code holding a view reaches
that object through Python's introspection (the view's attributes, its methods' closures, ``gc``). A
real deployment adds what this cannot: the custodian in a separate process or machine, callers
authenticated over TLS, and credentials kept out of the callers' reach (as AWS KMS, Vault and Cloud KMS do).

- A **credential** is a bearer secret, ``kmslib-credential:<id>:<secret>``: a 64-bit public id and a
  256-bit secret from :func:`secrets.token_urlsafe` (the operating system's CSPRNG). The custodian
  keeps only the id and the SHA-256 hash of the secret, shown once and never stored, and compares the
  hash with :func:`hmac.compare_digest` (constant time in the length of the hashes). A hash suffices
  for a 256-bit random secret, which no one can guess, so no password hash (scrypt, Argon2) is needed
  (NIST SP 800-63B section 5.1.1.2 asks for a memory-hard hash for memorized secrets chosen by people,
  not for random ones). Issuing a new credential to a principal revokes the one it had.
- A **view** (``KeyCustodian.as_principal``) acts as its principal on every call: it checks on every
  call that its credential was not revoked, then asks the key's policy (:mod:`kmslib.policy`), and
  records every denial in the audit log, under the principal's name, with outcome
  ``AccessDeniedError``. A key without a policy is the owner's alone. A principal with no permission
  on a key gets the same :class:`~kmslib.errors.AccessDeniedError`, with the same message, whether or
  not the key exists.
- Strictness, as for key revocation: a call that changes a key or its policy holds the access lock
  from its check to its end, so it is over before a ``revoke_credential`` returns; any other call is
  checked before it starts and again after its cryptography, so that no call succeeds after
  ``revoke_credential`` returns.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from kmslib import _checks
from kmslib.audit import ACTING
from kmslib.audit import Audited as _Audited
from kmslib.errors import AccessDeniedError, ApprovalRequiredError, ArgumentTypeError, InvalidInputError, StoreError
from kmslib.policy import (
    GRANT_OPERATIONS,
    KEYLESS_METHODS,
    METHOD_ACTIONS,
    OWNER,
    OWNER_ONLY_METHODS,
    KeyPolicy,
    Request,
    parse_policy,
)

if TYPE_CHECKING:
    from kmslib.audit import AuditLog
    from kmslib.custodian import KeyCustodian
    from kmslib.states import KeyRecord
    from kmslib.store import SealedStore

__all__ = [
    "APPROVAL_LIFETIME",
    "CREDENTIAL_INVALID",
    "UNAUTHENTICATED",
    "AccessControl",
    "AccessMethods",
    "PKI_OPERATIONS",
    "Grant",
    "PrincipalView",
]

#: The only signings a certificate authority's or OCSP responder's key may make (:mod:`kmslib.pki`): the
#: custodian refuses it every other (``sign``, checkpoints, key-exchange transcripts): one key, one purpose.
PKI_OPERATIONS = frozenset(
    {
        "create_root_ca",
        "create_intermediate_ca",
        "issue_certificate",
        "delegate_ocsp_responder",
        "sign_crl",
        "sign_ocsp_response",
    }
)

#: How long an approval, and a pending request, lasts (by the custodian's clock).
APPROVAL_LIFETIME = timedelta(hours=24)

#: The most approval requests one principal may have pending at once: each is a durable write to a sealed store,
#: so a principal may not flood it. A retry of a pending call reuses its request and counts once.
MAX_PENDING_PER_PRINCIPAL = 16

#: Enough approvals to satisfy any condition: asks whether a statement would allow, approvals aside.
_ANY_APPROVALS = 1 << 30

#: The one message for a credential that is revoked, forged, mistyped or another custodian's.
CREDENTIAL_INVALID = "the credential is not valid here: revoked, replaced, mistyped, or issued by another custodian"

_PREFIX = "kmslib-credential:"

#: What a key without a policy, or no key at all, is decided by: no statement, so every request is an implicit
#: deny, reached by the same steps (and about the same time) as a real policy's denial: no existence oracle.
_NO_POLICY = KeyPolicy({"Statement": []}, ())

#: The name the audit log gives a failed ``as_principal`` (no credential's name is known then); reserved, like
#: ``"owner"``: no principal may be given it.
UNAUTHENTICATED = "unauthenticated"

#: Actions that only read or use a key: checked before the call and again after its cryptography.
#: Every other action changes a key, its policy or its grants, and holds the access lock throughout.
_USES = frozenset(
    {
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncrypt",
        "kms:Sign",
        "kms:Verify",
        "kms:SignAuditCheckpoint",
        "kms:GetPublicKey",
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:ListGrants",
    }
)


@dataclass(frozen=True, slots=True, eq=False)
class _Credential:
    """What the custodian keeps of a credential: its principal, public id and the secret's SHA-256."""

    principal: str
    credential_id: str
    digest: bytes


@dataclass(frozen=True, slots=True)
class Grant:
    """A narrow, revocable permission on one key for one principal (AWS KMS ``CreateGrant``).

    Attributes:
        grant_id: the grant's id, for ``revoke_grant``.
        key_id: the key it is on.
        grantee: the principal it allows.
        operations: the actions it allows (of :data:`kmslib.policy.GRANT_OPERATIONS`), sorted.
        associated_data: the only associated data it allows, or ``None`` for any (associated data is
            authenticated, not secret).
        creator: who created it (``"owner"`` for the owner).

    """

    grant_id: str
    key_id: str
    grantee: str
    operations: tuple[str, ...]
    associated_data: bytes | None
    creator: str

    def covers(self, principal: str, action: str, associated_data: bytes | None) -> bool:
        """Whether this grant allows ``principal`` to do ``action`` with ``associated_data``."""
        return (
            principal == self.grantee
            and action in self.operations
            and (self.associated_data is None or associated_data == self.associated_data)
        )


@dataclass(slots=True, eq=False)
class _Pending:
    """A call waiting for approvals (dual control): bound to its principal and its exact arguments."""

    request_id: str
    principal: str
    action: str
    key_id: str
    associated_data: bytes | None
    binding: bytes  # HMAC of the call's operation and arguments: never the arguments themselves
    created: datetime
    approvals: dict[str, datetime] = field(default_factory=dict)


def _pending_row(pending: _Pending, approvals: dict[str, datetime]) -> str:
    """A pending request as a sealed store's row (its binding only: never the call's arguments)."""
    aad = pending.associated_data
    return json.dumps(
        {
            "principal": pending.principal,
            "action": pending.action,
            "key_id": pending.key_id,
            "associated_data": None if aad is None else aad.hex(),
            "binding": pending.binding.hex(),
            "created": pending.created.isoformat(),
            "approvals": {name: when.isoformat() for name, when in approvals.items()},
        }
    )


def _pending_from(request_id: str, data: dict[str, Any]) -> _Pending:
    aad = data["associated_data"]
    return _Pending(
        request_id,
        data["principal"],
        data["action"],
        data["key_id"],
        None if aad is None else bytes.fromhex(aad),
        bytes.fromhex(data["binding"]),
        datetime.fromisoformat(data["created"]),
        {name: datetime.fromisoformat(when) for name, when in data["approvals"].items()},
    )


class _UnbindableError(Exception):
    """An argument whose value a dual-control binding cannot pin down (an object of another type)."""


#: Argument types whose ``repr`` is their value, and which cannot change: bound to an approval as they are.
_PLAIN_TYPES = (str, bytes, int, float, bool, timedelta)

#: The most values, and the deepest nesting, that a dual-controlled call's arguments may have.
_MAX_BOUND_VALUES, _MAX_BOUND_DEPTH = 1 << 16, 16


def _frozen(value: object, budget: list[int], depth: int = 0) -> object:
    """A plain copy of a call's argument that later changes cannot reach, whose ``repr`` is its value.

    ``str``, ``bytes`` and ``int`` subclasses become their plain values (a subclass's ``__repr__`` could
    make one call look like another), bytes-like values become ``bytes`` (a ``bytearray`` could change
    after the approval was checked), containers are copied. ``budget[0]`` loses one per value.

    Raises:
        _UnbindableError: a value of any other type; with an argument, more values than ``budget`` allows or
            nested deeper than :data:`_MAX_BOUND_DEPTH`.
    """
    budget[0] -= 1
    if budget[0] < 0 or depth > _MAX_BOUND_DEPTH:
        raise _UnbindableError("too large")
    kind = type(value)
    if value is None or any(kind is plain for plain in _PLAIN_TYPES):  # not "in": a metaclass's __eq__ may lie
        return value
    if issubclass(kind, str):
        return str.__str__(value)
    if issubclass(kind, (bytes, bytearray, memoryview)):
        return bytes(memoryview(value))  # type: ignore[arg-type]
    if issubclass(kind, int) and not issubclass(kind, bool):
        return int.__int__(value)  # type: ignore[arg-type]
    if kind is list or kind is tuple:
        return kind(_frozen(item, budget, depth + 1) for item in value)  # type: ignore[attr-defined]
    if kind is dict:
        return {_frozen(k, budget, depth + 1): _frozen(v, budget, depth + 1) for k, v in value.items()}  # type: ignore[attr-defined]
    raise _UnbindableError


@dataclass(frozen=True, slots=True)
class _ByApprovals:
    """A call let through by approvals: it runs with these frozen positional arguments (keywords frozen in place)."""

    args: tuple[Any, ...]


def _canonical(value: object) -> object:
    """A plain, comparable form of a call's argument (bytes-like values as bytes)."""
    if isinstance(value, (bytearray, memoryview)):
        return bytes(memoryview(value))
    if isinstance(value, (list, tuple)):
        return tuple(_canonical(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((repr(k), _canonical(v)) for k, v in value.items()))
    return value


def _operations(value: object) -> tuple[str, ...]:
    """A grant's operations: a non-empty list of actions a grant may give, sorted and without repeats."""
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise ArgumentTypeError(f"operations must be a list of action names, not {type(value).__name__}")
    if not value:
        raise InvalidInputError("operations must name at least one action")
    # plain values first: a str subclass's __eq__ and __hash__ may lie to the check below
    plain = [str.__str__(item) if issubclass(type(item), str) else item for item in value]
    for item in plain:
        if type(item) is not str or item not in GRANT_OPERATIONS:
            shown = repr(item)[:60]
            raise InvalidInputError(
                f"operations names {shown}, which a grant cannot give (see kmslib.policy.GRANT_OPERATIONS)"
            )
    return tuple(sorted(set(plain)))


def _denied(principal: str, action: str, key_id: object) -> AccessDeniedError:
    """The one denial of ``action`` on ``key_id``: the same whether or not the key exists."""
    shown = _checks.plain_key_id(key_id)
    return AccessDeniedError(f"principal {principal!r} may not {action} on key {shown!r}")


class AccessControl:
    """A custodian's credentials (as hashes) and key policies; thread-safe.

    The custodian holds one and delegates to it; everything here is its own state, guarded by
    :attr:`lock`.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._by_principal: dict[str, _Credential] = {}
        self._by_id: dict[str, _Credential] = {}
        self._policies: dict[str, KeyPolicy] = {}
        self._grants: dict[str, dict[str, Grant]] = {}  # by key id, then grant id
        self._grant_keys: dict[str, str] = {}  # grant id -> key id
        #: (key id, grantee) -> that grantee's grants on that key, replaced (never changed) on every change:
        #: a call finds its own grants at once, without looking at others' (whose number would show in its time).
        self._grants_for: dict[tuple[str, str], tuple[Grant, ...]] = {}
        self._binding_key = secrets.token_bytes(32)  # binds pending requests to calls; never leaves this object
        self._pending: dict[str, _Pending] = {}  # by request id
        self._pending_calls: dict[tuple[str, bytes], str] = {}  # (principal, binding) -> request id
        #: A sealed store's ``save_access(name, value)``: each change is saved durably before memory changes.
        self._save: Callable[[str, str | None], None] | None = None
        #: A sealed store's ``seal_access_secret``: the binding key is saved sealed, with the first pending request.
        self._seal: Callable[[bytes], str] | None = None
        #: The certificate authorities' records (:mod:`kmslib.pki`), by row name: ``ca\n<key id>``, ``cert\n<serial>``.
        self.pki: dict[str, Any] = {}
        #: Moves on (under :attr:`lock`, after the change) with every change of credentials, policies or grants:
        #: a decision made in one version holds as long as the version has not moved (read without the lock).
        self.version = 0

    def dedicated(self, key_id: object) -> bool:
        """Whether ``key_id`` is a CA's or an OCSP responder's key: it signs only what :mod:`kmslib.pki` signs."""
        return isinstance(key_id, str) and (f"ca\n{key_id}" in self.pki or f"ocsp\n{key_id}" in self.pki)

    def save_pki(self, name: str, record: dict[str, Any]) -> None:
        """Save a certificate authority's row durably, then keep it (call with :attr:`lock` held)."""
        self._saved(f"pki\n{name}", json.dumps(record, sort_keys=True))
        self.pki[name] = record

    def _saved(self, name: str, value: str | None) -> None:
        """Save one row of this state to the sealed store, if there is one (call with the lock held)."""
        if self._save is not None:
            self._save(name, value)

    def restore(
        self,
        rows: dict[str, str],
        save: Callable[[str, str | None], None],
        seal: Callable[[bytes], str],
        unseal: Callable[[str], bytes | None],
    ) -> bool:
        """Adopt the rows a sealed store holds (authenticated already) and save changes with ``save`` from now on.

        ``seal`` and ``unseal`` seal the key that binds pending requests to their calls (it is never stored
        in the clear).

        Returns:
            Whether any credential was restored (then the audit log must name principals).

        Raises:
            StoreError: a row this kmslib cannot read (written by another version).
        """
        try:
            for name, value in rows.items():
                kind, _, rest = name.partition("\n")
                data = json.loads(value)
                if kind == "credential":
                    record = _Credential(rest, data["id"], bytes.fromhex(data["sha256"]))
                    self._by_principal[rest] = self._by_id[record.credential_id] = record
                elif kind == "policy":
                    self._policies[rest] = parse_policy(data)
                elif kind == "pending":
                    pending = _pending_from(rest, data)
                    self._pending[rest] = pending
                    self._pending_calls[pending.principal, pending.binding] = rest
                elif kind == "secret" and rest == "binding":
                    key = unseal(data)
                    if key is None:
                        raise StoreError("the store's sealed access secret fails its check: it was tampered with")
                    self._binding_key, self._seal = key, None  # saved already
                elif kind == "pki":
                    self.pki[rest] = data
                elif kind == "grant":
                    aad = data["associated_data"]
                    grant = Grant(
                        rest,
                        data["key_id"],
                        data["grantee"],
                        tuple(data["operations"]),
                        None if aad is None else bytes.fromhex(aad),
                        data["creator"],
                    )
                    self._grants.setdefault(grant.key_id, {})[rest] = grant
                    self._grant_keys[rest] = grant.key_id
                    self._add_grant(grant)
                else:
                    raise StoreError(f"the store holds an access row of an unknown kind: {kind!r}")
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"an access row cannot be read: {type(exc).__name__}") from None
        if "secret\nbinding" not in rows:
            self._seal = seal
        self._save = save
        self.version += 1
        return bool(self._by_principal)

    # ------------------------------------------------------------------ credentials

    def issue(self, principal: object) -> str:
        """A new credential for ``principal``, replacing (revoking) any it had; shown here once."""
        name = _checks.key_id(principal, "principal")
        if name == OWNER:
            raise InvalidInputError("'owner' is the plain custodian itself: it needs no credential")
        if name == "*":
            raise InvalidInputError("'*' means every principal in a policy: it is no principal's name")
        if name == UNAUTHENTICATED:
            raise InvalidInputError("'unauthenticated' is the audit log's name for failed authentications")
        secret = secrets.token_urlsafe(32)
        record = _Credential(name, secrets.token_hex(8), hashlib.sha256(secret.encode("ascii")).digest())
        try:
            with self.lock:
                row = json.dumps({"id": record.credential_id, "sha256": record.digest.hex()})
                self._saved(f"credential\n{name}", row)
                old = self._by_principal.pop(name, None)
                if old is not None:
                    del self._by_id[old.credential_id]
                self._by_principal[name] = self._by_id[record.credential_id] = record
                self.version += 1
        except BaseException:
            del secret  # a traceback keeps its frames' locals: not the credential
            raise
        return f"{_PREFIX}{record.credential_id}:{secret}"

    def revoke(self, principal: object) -> None:
        """Revoke ``principal``'s credential: every view made with it is refused from now on."""
        name = _checks.key_id(principal, "principal")
        with self.lock:
            if name not in self._by_principal:
                raise InvalidInputError(f"principal {name!r} holds no credential")
            self._saved(f"credential\n{name}", None)
            record = self._by_principal.pop(name)
            del self._by_id[record.credential_id]
            self.version += 1

    def authenticate(self, credential: object) -> _Credential:
        """The record of a valid ``credential``; one :class:`AccessDeniedError` for every invalid one."""
        record = None
        if issubclass(type(credential), str) and str.startswith(credential, _PREFIX):  # type: ignore[arg-type]
            credential_id, _, secret = str.__str__(credential)[len(_PREFIX) :].partition(":")
            record = self._by_id.get(credential_id)
            digest = hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()
            if record is not None and not hmac.compare_digest(digest, record.digest):
                record = None
            del secret, digest
        del credential  # a traceback keeps its frames' locals: not the credential
        if record is None:
            raise AccessDeniedError(CREDENTIAL_INVALID) from None
        return record

    def is_current(self, record: _Credential) -> bool:
        """Whether ``record`` is still its principal's credential (not revoked, not replaced)."""
        return self._by_id.get(record.credential_id) is record

    # ------------------------------------------------------------------ policies

    def set_policy(self, key_id: str, policy: KeyPolicy) -> None:
        """Attach ``policy`` to ``key_id`` (already validated, for a key that exists)."""
        with self.lock:
            self._saved(f"policy\n{key_id}", json.dumps(policy.document, sort_keys=True))
            self._policies[key_id] = policy
            self.version += 1

    def policy(self, key_id: str) -> KeyPolicy | None:
        """The policy of ``key_id``, or ``None`` (then the key is the owner's alone)."""
        return self._policies.get(key_id)

    def decide(self, record: _Credential, action: str, key_id: str | None, associated_data: bytes | None) -> bool:
        """Whether ``record``'s principal may do ``action`` on ``key_id`` now (its credential current)."""
        if not self.is_current(record) or key_id is None:
            return False
        return self.holds(record.principal, action, key_id, associated_data)

    def holds(self, principal: str, action: str, key_id: str, associated_data: bytes | None) -> bool:
        """Whether ``principal`` may do ``action`` on ``key_id``: a Deny wins, then an Allow or a grant, else no.

        As in AWS KMS, a grant only allows: the key policy's explicit Deny overrides it.
        """
        policy = self._policies.get(key_id, _NO_POLICY)  # the same work whether or not the key exists (timing)
        decision = policy.decide(principal, action, associated_data)
        if decision.allowed or decision.reason == "explicit-deny":
            return decision.allowed
        grants = self._grants_for.get((key_id, principal))  # a tuple: another thread replaces it, never changes it
        return grants is not None and any(g.covers(principal, action, associated_data) for g in grants)

    def _holds_for_any_data(self, principal: str, action: str, key_id: str) -> bool:
        """Whether ``principal`` may do ``action`` on ``key_id`` whatever the associated data (and no approvals)."""
        policy = self._policies.get(key_id)
        if policy is not None:
            if policy.allows_unconditionally(principal, action):
                return True
            if policy.may_deny(principal, action):
                return False
        grants = self._grants.get(key_id, {}).values()
        return any(g.associated_data is None and g.covers(principal, action, None) for g in grants)

    # ------------------------------------------------------------------ dual control

    def approvable(self, record: _Credential, action: str, key_id: str | None, associated_data: bytes | None) -> bool:
        """Whether ``record`` is current and ``key_id``'s policy would allow the action with enough approvals.

        What an approved call is checked against after its cryptography: a Deny added, or the approving
        statement taken away, while the call ran makes it fail, as for any other use.
        """
        if not self.is_current(record) or key_id is None:
            return False
        policy = self._policies.get(key_id, _NO_POLICY)
        return policy.evaluate(Request(record.principal, action, associated_data, _ANY_APPROVALS)).allowed

    def approvals_required(
        self, principal: str, action: str, key_id: str | None, associated_data: bytes | None
    ) -> int | None:
        """How many approvals would let ``principal`` do ``action`` on ``key_id`` under its policy, or ``None``."""
        if key_id is None:
            return None
        policy = self._policies.get(key_id, _NO_POLICY)  # the same work whether or not the key exists (timing)
        return policy.decide(principal, action, associated_data).approvals_required

    def binding(self, operation: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
        """An HMAC-SHA256 of the call (operation and arguments), keyed by this object's random key."""
        canonical = repr((operation, _canonical(args), _canonical(kwargs)))
        return hmac.new(self._binding_key, canonical.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()

    def _expire(self, now: datetime) -> None:
        """Forget pending requests older than :data:`APPROVAL_LIFETIME` (call with the lock held)."""
        for pending in [p for p in self._pending.values() if now >= p.created + APPROVAL_LIFETIME]:
            self._saved(f"pending\n{pending.request_id}", None)
            del self._pending[pending.request_id]
            del self._pending_calls[pending.principal, pending.binding]

    def use_approvals(  # noqa: PLR0917 - the call's parts
        self,
        record: _Credential,
        action: str,
        key_id: str,
        associated_data: bytes | None,
        binding: bytes,
        now: datetime,
    ) -> str | None:
        """Let an approved call through once (``None``), or return the id of its pending request.

        The request is used up when it lets the call through, so the same call needs new approvals next
        time. A retry while it is pending gets the same request id.
        """
        with self.lock:
            self._expire(now)
            if not self.is_current(record):
                raise _denied(record.principal, action, key_id)
            request_id = self._pending_calls.get((record.principal, binding))
            if request_id is None:
                waiting = sum(1 for p in self._pending.values() if p.principal == record.principal)
                if waiting >= MAX_PENDING_PER_PRINCIPAL:
                    raise AccessDeniedError(
                        f"principal {record.principal!r} already has {waiting} pending requests, the most allowed: "
                        "another waits until one is approved and used, or expires (24 hours)"
                    )
                request_id = f"request-{secrets.token_hex(8)}"
                pending = _Pending(request_id, record.principal, action, key_id, associated_data, binding, now)
                if self._seal is not None:  # a store's first pending request: save the binding key, sealed
                    self._saved("secret\nbinding", json.dumps(self._seal(self._binding_key)))
                    self._seal = None
                self._saved(f"pending\n{request_id}", _pending_row(pending, {}))
                self._pending[request_id] = pending
                self._pending_calls[record.principal, binding] = request_id
                return request_id
            pending = self._pending[request_id]
            count = sum(
                1
                for approver, given in pending.approvals.items()
                if now < given + APPROVAL_LIFETIME and self._may_approve(approver, pending)
            )
            policy = self._policies.get(key_id)
            if policy is None or not policy.evaluate(Request(record.principal, action, associated_data, count)).allowed:
                return request_id
            self._saved(f"pending\n{request_id}", None)
            del self._pending[request_id]
            del self._pending_calls[record.principal, binding]
            return None

    def approve(self, request_id: object, approver: str, now: datetime) -> str:
        """Record ``approver``'s approval of a pending request; return the request's key id.

        Raises:
            InvalidInputError: no pending request has that id (never made, used, or expired).
            AccessDeniedError: the approver made the request, or the key's policy would not allow the
                approver the same action (approvals aside).
        """
        with self.lock:
            self._expire(now)
            pending = self._pending.get(request_id) if type(request_id) is str else None
            if pending is None:
                raise InvalidInputError("no pending request has that id: it was never made, was used, or expired")
            if approver == pending.principal:
                raise AccessDeniedError(f"principal {approver!r} cannot approve its own request")
            if not self._may_approve(approver, pending):
                raise AccessDeniedError(
                    f"principal {approver!r} may not approve {pending.action} on key {pending.key_id!r}"
                )
            approvals = {**pending.approvals, approver: now}
            self._saved(f"pending\n{pending.request_id}", _pending_row(pending, approvals))
            pending.approvals = approvals
            return pending.key_id

    def _may_approve(self, approver: str, pending: _Pending) -> bool:
        """Whether ``approver``'s approval of ``pending`` counts now (checked when given and again when used).

        The owner's does; another principal's while it holds a credential, is not the requester, and the
        key's policy would allow it the same action (approvals aside).
        """
        if approver == OWNER:
            return True
        if approver == pending.principal or approver not in self._by_principal:
            return False
        policy = self._policies.get(pending.key_id)
        asked = Request(approver, pending.action, pending.associated_data, _ANY_APPROVALS)
        return policy is not None and policy.evaluate(asked).allowed

    def request_key(self, request_id: object) -> str | None:
        """The key a pending request is on, or ``None``."""
        pending = self._pending.get(request_id) if type(request_id) is str else None
        return None if pending is None else pending.key_id

    # ------------------------------------------------------------------ grants

    def create_grant(
        self, key_id: str, grantee: object, operations: object, associated_data: bytes | None, creator: str
    ) -> str:
        """Record a grant and return its id; one made by a principal never gives more than that principal holds.

        Raises:
            ArgumentTypeError, InvalidInputError: a bad grantee or operations.
            AccessDeniedError: ``creator`` does not hold one of the operations, for that associated data.
        """
        name = _checks.key_id(grantee, "grantee")
        if name == "*":
            raise InvalidInputError("'*' means every principal in a policy: a grant names one grantee")
        if name == OWNER:
            raise InvalidInputError("'owner' may do anything: it needs no grant")
        actions = _operations(operations)
        with self.lock:
            if creator != OWNER:
                for action in actions:
                    held = (
                        self._holds_for_any_data(creator, action, key_id)
                        if associated_data is None
                        else self.holds(creator, action, key_id, associated_data)
                    )
                    if not held:
                        raise AccessDeniedError(
                            f"principal {creator!r} may not grant {action} on key {key_id!r}: "
                            "a grant never gives more than its creator holds"
                        )
            grant = Grant(f"grant-{secrets.token_hex(8)}", key_id, name, actions, associated_data, creator)
            row = {
                "key_id": key_id,
                "grantee": name,
                "operations": list(actions),
                "associated_data": None if associated_data is None else associated_data.hex(),
                "creator": creator,
            }
            self._saved(f"grant\n{grant.grant_id}", json.dumps(row, sort_keys=True))
            self._grants.setdefault(key_id, {})[grant.grant_id] = grant
            self._grant_keys[grant.grant_id] = key_id
            self._add_grant(grant)
            self.version += 1
            return grant.grant_id

    def _add_grant(self, grant: Grant) -> None:
        """Index ``grant`` by key and grantee (call with the lock held, or before anyone else can see this object)."""
        where = (grant.key_id, grant.grantee)
        self._grants_for[where] = (*self._grants_for.get(where, ()), grant)

    def grant_key(self, grant_id: object) -> str | None:
        """The key a grant is on, or ``None`` if there is no such grant."""
        return self._grant_keys.get(grant_id) if type(grant_id) is str else None

    def revoke_grant(self, grant_id: object) -> str:
        """Revoke a grant; return its key id. Nothing it allowed succeeds once this returns (see the module).

        Raises:
            InvalidInputError: no grant has that id (it never existed, or was revoked).
        """
        with self.lock:
            key_id = self.grant_key(grant_id)
            if key_id is None:
                raise InvalidInputError(f"no grant with id {_checks.plain_key_id(grant_id)!r}")
            self._saved(f"grant\n{grant_id}", None)
            grant = self._grants[key_id].pop(str(grant_id))
            del self._grant_keys[str(grant_id)]
            others = tuple(g for g in self._grants_for[key_id, grant.grantee] if g is not grant)
            if others:
                self._grants_for[key_id, grant.grantee] = others
            else:
                del self._grants_for[key_id, grant.grantee]
            self.version += 1
            return key_id

    def list_grants(self, key_id: str) -> tuple[Grant, ...]:
        """Copies of the grants on ``key_id``, in the order they were made (this object's own never leave it)."""
        with self.lock:
            return tuple(replace(grant) for grant in self._grants.get(key_id, {}).values())


def _plain_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str | None, bytes | None, bool]:
    """The key id and associated data of a call, as plain values; ``kwargs`` gets them in place (``args``: the caller).

    The method then runs on the very values that were authorized: a ``bytearray`` changed by another
    thread, or a ``str`` subclass that answers differently, cannot slip past the check. The third item is
    ``False`` if either is not even of a valid type, or if two keyword names are one once plain (the call
    is then denied). Keyword names are made plain first: a ``str`` subclass's ``__hash__`` would hide one from
    ``kwargs.get`` while Python still binds it to its parameter.
    """
    if kwargs and not all(type(name) is str for name in kwargs):
        plain = {str.__str__(name): value for name, value in kwargs.items()}
        if len(plain) != len(kwargs):
            return None, None, False
        kwargs.clear()
        kwargs.update(plain)
    raw = args[0] if args else kwargs.get("key_id")
    key_id: str | None = None
    if issubclass(type(raw), str):  # not isinstance, which asks the object for its __class__
        key_id = str.__str__(raw)
        if not args:
            kwargs["key_id"] = key_id
    aad = kwargs.get("associated_data")
    if aad is not None:
        try:
            aad = kwargs["associated_data"] = _checks.data(aad, "associated_data")
        except InvalidInputError:
            return key_id, None, False
    return key_id, aad, True


#: Keyword arguments whose calls are always decided anew: the key id given by name, and the owner's own flag.
_DECIDED_ANEW = frozenset({"key_id", "allow_compromised"})

#: How many decisions a view remembers (it forgets them all when full), and the longest associated data it
#: remembers one for.
_REMEMBERED, _REMEMBERED_DATA = 4096, 256


def _remembered(key_id: str, kwargs: dict[str, Any]) -> str | tuple[str, bytes] | None:
    """What a use's decision may be remembered under: its key id, or ``(key id, associated data)``; or ``None``.

    Only for a call whose values need no normalizing, so that what was authorized is what the method
    uses: a plain ``str`` key id given first (the caller checks), keyword names that are plain ``str``
    (their hash and equality are ``str``'s own), associated data that is ``None`` or plain (immutable)
    ``bytes`` of at most 256 bytes, and no ``allow_compromised``.
    """
    aad = None
    for keyword, value in kwargs.items():
        if type(keyword) is not str or keyword in _DECIDED_ANEW:
            return None
        if keyword == "associated_data":
            if value is not None and (type(value) is not bytes or len(value) > _REMEMBERED_DATA):
                return None
            aad = value
    return key_id if aad is None else (key_id, aad)


class PrincipalView:
    """A custodian acting as one principal: every method of ``KeyCustodian``, authorized on every call.

    Made by ``KeyCustodian.as_principal``. Methods that act on a key ask its policy; ``list_keys``
    lists the keys the principal may describe (``kms:DescribeKey``); ``inspect_token`` needs no key;
    the owner's own methods (creating keys, ``rekey``, ``close``, the ``audit_log``) are refused, and so is
    ``allow_compromised=True`` (reading old data under a compromised key is the owner's decision).

    A use (encrypt, decrypt, sign, ...) allowed once is remembered with the version of the access-control
    state it was decided in (:attr:`AccessControl.version`): the same call is let through again without
    deciding it while that version has not moved, and checked after its cryptography by comparing the
    version (deciding again, under the lock, if it moved). A change of credentials, policies or grants
    moves the version before it returns, so nothing it withdraws succeeds after.
    """

    __slots__ = ("__dict__", "_access", "_allowed", "_kms", "_record")  # __dict__: each method's wrapper, made once

    def __init__(self, kms: KeyCustodian, access: AccessControl, record: _Credential) -> None:
        self._kms = kms
        self._access = access
        self._record = record
        #: action -> (key id, or key id and associated data) -> the access-control version in which it was allowed.
        self._allowed: dict[str, dict[str | tuple[str, bytes], int]] = {}

    @property
    def principal(self) -> str:
        """The name of the principal this view acts as."""
        return self._record.principal

    def __repr__(self) -> str:
        return f"<KeyCustodian view as principal {self._record.principal!r}>"

    def __reduce__(self) -> str | tuple[Any, ...]:
        raise TypeError("a principal's view cannot be pickled or copied: it holds the custodian's keys")

    def _refuse(self, operation: str, action: str | None, key_id: object) -> AccessDeniedError:
        """Record a denial under the principal's name and return the error to raise (``action=None``: owner-only)."""
        token = ACTING.set(self._record.principal)
        try:
            self._kms.audit_log._append(operation, key_id, None, "AccessDeniedError")
        finally:
            ACTING.reset(token)
        if action is None:
            return AccessDeniedError(
                f"principal {self._record.principal!r} may not call {operation}: only the owner may"
            )
        return _denied(self._record.principal, action, key_id)

    def __getattr__(self, name: str) -> Any:
        if type(name) is not str:  # a str subclass's __hash__ and __eq__ could pick one method here, another below
            name = str.__str__(name)
        if name == "approve":
            return self._approve
        action = METHOD_ACTIONS.get(name)
        if action is None:
            if name in KEYLESS_METHODS:
                return getattr(self._kms, name)
            if name in OWNER_ONLY_METHODS:
                raise self._refuse(name, None, None)
            raise AttributeError(f"a principal's view has no attribute {name!r}")
        if name == "list_keys":
            return self._list_keys
        if name == "revoke_grant":
            return self._revoke_grant
        call = self._authorized(name, action, getattr(self._kms, name))
        object.__setattr__(self, name, call)  # found there from now on, without this method
        return call

    def _authorized(self, name: str, action: str, method: Callable[..., Any]) -> Callable[..., Any]:
        access, principal = self._access, self._record.principal
        acting, done = ACTING.set, ACTING.reset  # bound once (an imported name's methods are looked up as attributes)
        if action not in _USES:

            def change(*args: Any, **kwargs: Any) -> Any:
                try:
                    return self._decided(name, action, method, args, kwargs, access.version, None)
                except BaseException:
                    del args, kwargs  # a traceback keeps its frames' locals: not the call's plaintext
                    raise

            change.__name__ = name
            change.__doc__ = method.__doc__
            return change
        allowed = self._allowed.setdefault(action, {})  # only uses are remembered

        def call(*args: Any, **kwargs: Any) -> Any:
            version = access.version  # read before anything is decided
            memo = None
            if args and type(args[0]) is str:
                memo = _remembered(args[0], kwargs) if kwargs else args[0]
            if memo is None or allowed.get(memo) != version:
                try:
                    return self._decided(name, action, method, args, kwargs, version, memo)
                except BaseException:
                    del args, kwargs  # a traceback keeps its frames' locals: not the call's plaintext
                    raise
            token = acting(principal)  # allowed in this very state: no need to decide again
            try:
                result = method(*args, **kwargs)
            except BaseException:
                del args, kwargs  # a traceback keeps its frames' locals: not the call's plaintext
                raise
            finally:
                done(token)
            if access.version != version and not self._still_allowed(action, memo):  # changed during the call
                key_id = args[0]
                del args, kwargs, result  # a traceback keeps its frames' locals: not the call's plaintext
                raise self._refuse(name, action, key_id)
            return result

        call.__name__ = name
        call.__doc__ = method.__doc__
        return call

    def _still_allowed(self, action: str, memo: str | tuple[str, bytes]) -> bool:
        """Whether a remembered use is still allowed, decided again under the lock (after a change)."""
        key_id, aad = (memo, None) if isinstance(memo, str) else memo
        with self._access.lock:
            return self._access.decide(self._record, action, key_id, aad)

    def _decided(  # noqa: PLR0917 - the call's parts
        self,
        name: str,
        action: str,
        method: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        version: int,
        memo: str | tuple[str, bytes] | None,
    ) -> Any:
        """Decide a call and make it: a use checked before and after (remembered by ``memo``), a change under the lock.

        ``version`` is :attr:`AccessControl.version` read before anything was decided.
        """
        access, record = self._access, self._record
        raw = args[0] if args else kwargs.get("key_id")
        key_id, aad, valid = _plain_arguments(args, kwargs)
        valid = valid and not kwargs.get("allow_compromised")  # reading under a compromised key: the owner's
        if args and key_id is not None:
            args = (key_id, *args[1:])
        result: Any = None
        token = ACTING.set(record.principal)
        try:
            if action in _USES:
                approved = valid and self._approved(name, action, key_id, aad, args, kwargs)
                if not approved:
                    raise self._refuse(name, action, raw)
                if type(approved) is _ByApprovals:
                    args = approved.args  # what runs is what was approved
                if approved is True and memo is not None and access.version == version:
                    allowed = self._allowed[action]
                    if len(allowed) >= _REMEMBERED:
                        allowed.clear()
                    allowed[memo] = version
                result = method(*args, **kwargs)
                if approved is True and access.version == version:  # after the cryptography: nothing changed
                    return result
                with access.lock:  # after the cryptography: not if revoked meanwhile
                    if not (
                        access.approvable(record, action, key_id, aad)
                        if type(approved) is _ByApprovals
                        else access.decide(record, action, key_id, aad)
                    ):
                        result = None
                        raise self._refuse(name, action, raw)
                return result
            with access.lock:  # a change: over before any revocation returns
                approved = valid and self._approved(name, action, key_id, aad, args, kwargs)
                if not approved:
                    raise self._refuse(name, action, raw)
                if type(approved) is _ByApprovals:
                    args = approved.args  # what runs is what was approved
                return method(*args, **kwargs)
        except BaseException:
            del args, kwargs  # a traceback keeps its frames' locals: not the call's plaintext
            result = None
            raise
        finally:
            ACTING.reset(token)

    def _approved(  # noqa: PLR0917 - the call's parts
        self,
        name: str,
        action: str,
        key_id: str | None,
        aad: bytes | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> bool | _ByApprovals:
        """Whether the call may go ahead: ``True`` by policy or grant, :class:`_ByApprovals` by approvals, else no.

        A call that needs approvals is bound to, and then runs with, frozen copies of its arguments
        (:func:`_frozen`; ``kwargs`` in place): what runs is what was approved. An argument of another
        type cannot be bound, and the call is denied.

        Raises:
            ApprovalRequiredError: a policy statement would allow it with approvals it does not have yet.
        """
        access, record = self._access, self._record
        if access.decide(record, action, key_id, aad):
            return True
        needed = access.approvals_required(record.principal, action, key_id, aad)
        if needed is None or key_id is None or not access.is_current(record):
            return False
        budget = [_MAX_BOUND_VALUES]
        try:
            frozen = _ByApprovals(tuple(_frozen(item, budget) for item in args))
            kwargs.update({keyword: _frozen(value, budget) for keyword, value in kwargs.items()})
        except _UnbindableError as exc:
            if not exc.args:
                return False
            frozen = None
        if frozen is None:
            del args, kwargs  # a traceback keeps its frames' locals: not the call's plaintext
            raise InvalidInputError(
                f"the call's arguments are too large to bind to an approval: at most {_MAX_BOUND_VALUES} values, "
                f"{_MAX_BOUND_DEPTH} levels deep"
            )
        binding = access.binding(name, frozen.args, kwargs)
        del args, kwargs  # a traceback keeps its frames' locals: not the call's plaintext
        try:
            request_id = access.use_approvals(record, action, key_id, aad, binding, self._kms._now())
        except AccessDeniedError:
            del frozen
            self._kms.audit_log._append(name, key_id, None, "AccessDeniedError")
            raise
        if request_id is None:
            return frozen
        del frozen
        self._kms.audit_log._append(name, key_id, None, "ApprovalRequiredError")
        self._kms.audit_log.flush()  # saved, as its pending request is, before the error reaches the caller
        raise ApprovalRequiredError(
            f"principal {record.principal!r} needs {needed} approval(s) from other principals for {action} "
            f"on key {key_id!r}: they call approve({request_id!r}), then this same call succeeds once",
            request_id=request_id,
        )

    def _approve(self, request_id: str) -> None:
        """Approve another principal's pending request (``KeyCustodian.approve``), as this principal."""
        access, record = self._access, self._record
        token = ACTING.set(record.principal)
        try:
            with access.lock:  # an approval is over before a revocation of its approver returns
                if not access.is_current(record):
                    raise self._refuse("approve", "approve", access.request_key(request_id))
                self._kms.approve(request_id)
        finally:
            ACTING.reset(token)

    def _revoke_grant(self, grant_id: str) -> None:
        """Revoke a grant, if the principal may ``kms:RevokeGrant`` on its key; one denial whether or not it exists."""
        access, record = self._access, self._record
        token = ACTING.set(record.principal)
        try:
            with access.lock:
                key_id = access.grant_key(grant_id)
                if not access.decide(record, "kms:RevokeGrant", key_id, None):
                    self._kms.audit_log._append("revoke_grant", key_id, None, "AccessDeniedError")
                    shown = _checks.plain_key_id(grant_id)
                    who = record.principal
                    raise AccessDeniedError(f"principal {who!r} may not kms:RevokeGrant on grant {shown!r}")
                self._kms.revoke_grant(grant_id)
        finally:
            ACTING.reset(token)

    def _list_keys(self) -> tuple[Any, ...]:
        access, record = self._access, self._record
        token = ACTING.set(record.principal)
        try:
            if not access.is_current(record):
                raise self._refuse("list_keys", "kms:DescribeKey", None)
            return tuple(
                info for info in self._kms.list_keys() if access.decide(record, "kms:DescribeKey", info.key_id, None)
            )
        finally:
            ACTING.reset(token)


class AccessMethods:
    """``KeyCustodian``'s methods for principals, key policies, grants and approvals (contract section 11).

    The custodian inherits them; each delegates to the custodian's :class:`AccessControl`.
    """

    __slots__ = ()

    if TYPE_CHECKING:
        _access: AccessControl
        _audit: AuditLog
        _lock: threading.RLock
        _now: Callable[[], datetime]

        def _get(self, key_id: object) -> KeyRecord: ...

    def _restore_access(self, store: SealedStore, rows: dict[str, str]) -> None:
        """Adopt a sealed store's access rows when it is opened (the store is closed if they are refused)."""
        try:
            if self._access.restore(rows, store.save_access, store.seal_access_secret, store.open_access_secret):
                self._audit._enable_principals()
        except StoreError:
            store.close()
            raise

    def issue_credential(self, principal: str) -> str:
        """Issue a bearer credential to ``principal`` and return it, shown this once (:mod:`kmslib.principals`).

        The custodian keeps only its SHA-256 hash. A principal holds one credential at a time: issuing
        another revokes the one before. Pass the credential to :meth:`as_principal`.

        Raises:
            ArgumentTypeError: ``principal`` is not a ``str``.
            InvalidInputError: ``principal`` is not a valid name (the rules of key ids), or is ``"owner"`` or
                ``"unauthenticated"`` (reserved: the audit log's names for the owner and for failed authentications).
        """
        credential = ""
        try:
            with _Audited(self, "issue_credential"):  # saves its entry on exit: that may fail after the issue
                credential = self._access.issue(principal)
                self._audit._enable_principals()
        except BaseException:
            del credential  # a traceback keeps its frames' locals: not the credential
            raise
        return credential

    def revoke_credential(self, principal: str) -> None:
        """Revoke ``principal``'s credential: every view made with it is refused from the next call on.

        Raises:
            InvalidInputError: ``principal`` holds no credential.
        """
        with _Audited(self, "revoke_credential"):
            self._access.revoke(principal)

    def as_principal(self, credential: str) -> KeyCustodian:
        """A view of this custodian that acts as the credential's principal: every method, authorized on every call.

        The view is typed as a ``KeyCustodian`` because it offers the same methods; it is a
        :class:`~kmslib.principals.PrincipalView`. This is authorization inside one process, not isolation.

        A credential refused is recorded in the audit log as a denial, under the name
        :data:`~kmslib.principals.UNAUTHENTICATED` (never with the credential).

        Raises:
            AccessDeniedError: the credential is revoked, replaced, mistyped or another custodian's (one message).
        """
        try:
            record = self._access.authenticate(credential)
        except AccessDeniedError:
            self._audit._append_as(UNAUTHENTICATED, "as_principal", "AccessDeniedError")
            raise
        finally:
            del credential  # a traceback keeps its frames' locals: not the credential
        return cast("KeyCustodian", PrincipalView(cast("KeyCustodian", self), self._access, record))

    def set_key_policy(self, key_id: str, policy: dict[str, Any]) -> None:
        """Attach a key policy (:mod:`kmslib.policy`) to a key, replacing its policy; a refused one changes nothing.

        Raises:
            KeyNotFoundError: no key has that id.
            InvalidInputError: the policy is malformed, too large, or names an unknown action or condition.
        """
        with _Audited(self, "set_key_policy", key_id):
            compiled = parse_policy(policy)
            with self._lock:
                name = self._get(key_id).key_id
            self._access.set_policy(name, compiled)  # not under self._lock: a view's change holds the access lock first

    def get_key_policy(self, key_id: str) -> dict[str, Any] | None:
        """A copy of the key's policy document, or ``None`` if it has none (then only the owner may use it).

        Raises:
            KeyNotFoundError: no key has that id.
        """
        with self._lock:
            name = self._get(key_id).key_id
        policy = self._access.policy(name)
        return None if policy is None else policy.document

    def approve(self, request_id: str) -> None:
        """Approve another principal's call that its key policy allows only with approvals (dual control).

        The approver must be one the policy would allow the same action (approvals aside), and not the
        requester; the owner may approve any request. An approval lasts 24 hours by the custodian's clock, and
        counts only while its approver still holds a credential and the policy still allows it the action.

        Raises:
            InvalidInputError: no pending request has that id (never made, used, or expired).
            AccessDeniedError: the requester approving its own request, or an approver the policy does not name.
        """
        with _Audited(self, "approve") as audit:
            audit.key_id = self._access.request_key(request_id)
            self._access.approve(request_id, ACTING.get() or OWNER, self._now())

    def create_grant(
        self, key_id: str, grantee: str, operations: list[str], *, associated_data: str | bytes | None = None
    ) -> str:
        """Give ``grantee`` ``operations`` on a key without editing its policy (AWS ``CreateGrant``); return its id.

        ``operations`` are actions of :data:`kmslib.policy.GRANT_OPERATIONS` (using a key, never administering
        it); with ``associated_data``, only calls with exactly that associated data are allowed. A grant made
        by a principal never gives more than that principal holds when it makes it; as in AWS, a grant stays
        until it is revoked, and the key policy's explicit Deny overrides it.

        Raises:
            KeyNotFoundError: no key has that id.
            ArgumentTypeError, InvalidInputError: a bad grantee, operations or associated data.
            AccessDeniedError: a principal granting what it does not hold.
        """
        with _Audited(self, "create_grant", key_id):
            aad = None if associated_data is None else _checks.data(associated_data, "associated_data")
            with self._lock:
                name = self._get(key_id).key_id
            creator = ACTING.get() or OWNER  # the view that calls this has authorized kms:CreateGrant
            return self._access.create_grant(name, grantee, operations, aad, creator)

    def revoke_grant(self, grant_id: str) -> None:
        """Revoke a grant: no call it allowed succeeds once this returns (as with :meth:`invalidate_key`).

        Raises:
            InvalidInputError: no grant has that id (it never existed, or was revoked).
        """
        with _Audited(self, "revoke_grant") as audit:
            audit.key_id = self._access.grant_key(grant_id)
            self._access.revoke_grant(grant_id)

    def list_grants(self, key_id: str) -> tuple[Grant, ...]:
        """The grants on a key, in the order they were made (records with ``grant_id``, ``grantee``, ``operations``).

        Raises:
            KeyNotFoundError: no key has that id.
        """
        with self._lock:
            name = self._get(key_id).key_id
        return self._access.list_grants(name)
