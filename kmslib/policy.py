"""Key policies in the shape of AWS KMS key policies: validation and evaluation (contract section 11).

This module is pure: it parses a policy document into an immutable :class:`KeyPolicy` and answers
whether a :class:`Request` is allowed, with the statement that decided it (:class:`Decision`). It
holds no keys and no credentials, and it knows nothing of the custodian; the custodian asks it.

A policy is a JSON-compatible ``dict``, as in the AWS KMS Developer Guide's "Key policies in AWS
KMS" (https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html)::

    {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Users", "Effect": "Allow", "Principal": ["alice", "bob"],
             "Action": ["kms:Encrypt", "kms:Decrypt"],
             "Condition": {"StringEquals": {"kmslib:AssociatedData": "payments"}}},
            {"Sid": "Admins", "Effect": "Allow", "Principal": "carol",
             "Action": ["kms:RotateKey", "kms:RevokeKey", "kms:PutKeyPolicy"]},
        ],
    }

What a document may hold (anything else is an :class:`~kmslib.errors.InvalidInputError` naming the
problem and where it is, such as ``Statement[1].Action``):

- Top level: ``Statement`` (a non-empty list; required), ``Version`` (``"2012-10-17"``, optional) and
  ``Id`` (a string, optional).
- Each statement: ``Effect`` (``"Allow"`` or ``"Deny"``; required), ``Principal`` (a name, a list of
  names, or ``"*"`` for every principal; required), ``Action`` (an action of :data:`ACTIONS`, a list of
  them, or ``"kms:*"`` for all of them; required), and optionally ``Sid`` (a string), ``Resource``
  (only ``"*"``: in a key policy it means the key the policy is attached to, as in AWS) and
  ``Condition``.
- ``Condition`` holds at most these two operators, each with its one condition key:
  ``{"StringEquals": {"kmslib:AssociatedData": "..."}}`` (a string or a non-empty list of strings: the
  request's associated data, decoded as UTF-8, must equal one of them) and
  ``{"NumericGreaterThanEquals": {"kmslib:Approvals": n}}`` (an ``int`` n >= 1: the request must carry at
  least n approvals from other principals, dual control).
- A principal name follows the rules of key ids (a non-empty printable string of at most 128
  characters, not only spaces); ``"owner"`` is refused: the owner is the plain custodian, which needs
  no statement.
- ``NotAction``, ``NotPrincipal`` and ``NotResource`` are AWS features kmslib does not model: refused.

Limits, so that a policy is cheap to store and to check (:data:`MAX_POLICY_BYTES`,
:data:`MAX_STATEMENTS`, :data:`MAX_DEPTH`): the document's compact JSON encoding is at most 32 KiB,
AWS KMS's own key policy size quota
(https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html), it has at most 100
statements, and it nests at most 6 levels deep. The depth is checked before anything else walks the
document, so that a deeply nested or self-referencing document is refused without a ``RecursionError``.

Evaluation follows AWS's policy evaluation logic
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html): a
statement applies when its principal, action and every condition match the request; an applicable
explicit ``Deny`` wins over everything; otherwise an applicable ``Allow`` allows; otherwise the request
is denied (the implicit deny). The outcome does not depend on the order of the statements. As in
AWS, a condition on a key that the request does not carry does not match: a ``StringEquals`` on
``kmslib:AssociatedData`` never matches a request without associated data, for a Deny as for an
Allow.

The action list is closed: :data:`ACTIONS` names every action, and :data:`METHOD_ACTIONS` maps
every ``KeyCustodian`` method that acts on an existing key to its one action:

=====================================  ========================================  ===================================
Action                                 ``KeyCustodian`` methods                  AWS KMS counterpart
=====================================  ========================================  ===================================
``kms:Encrypt``                        ``encrypt_data_aes``, ``encrypt_data_rsa``  Encrypt
``kms:Decrypt``                        ``decrypt_data_aes``, ``decrypt_data_rsa``,  Decrypt
                                       ``decrypt_envelope``
``kms:GenerateDataKey``                ``generate_data_key``, ``encrypt_envelope``  GenerateDataKey
``kms:GenerateDataKeyWithoutPlaintext``  ``generate_data_key_without_plaintext``  GenerateDataKeyWithoutPlaintext
``kms:ReEncrypt``                      ``rewrap``, ``rewrap_envelope``           ReEncryptFrom and ReEncryptTo
``kms:Sign``                           ``sign``                                  Sign
``kms:Verify``                         ``verify``                                Verify
``kms:SignAuditCheckpoint``            ``sign_audit_checkpoint``                 (none: kmslib's own)
``kms:GetPublicKey``                   ``export_public_key``                     GetPublicKey
``kms:DescribeKey``                    ``key_info``                              DescribeKey
``kms:RotateKey``                      ``rotate_key``                            RotateKeyOnDemand
``kms:SetRotationPolicy``              ``set_rotation_policy``                   EnableKeyRotation
``kms:RevokeKey``                      ``invalidate_key``                        ScheduleKeyDeletion
``kms:DisableKey``                     ``suspend_key``                           DisableKey
``kms:EnableKey``                      ``resume_key``                            EnableKey
``kms:DeactivateKey``                  ``deactivate_key``                        (none: SP 800-57 state)
``kms:MarkCompromised``                ``mark_compromised``                      (none: SP 800-57 state)
``kms:PutKeyPolicy``                   ``set_key_policy``                        PutKeyPolicy
``kms:GetKeyPolicy``                   ``get_key_policy``                        GetKeyPolicy
``kms:CreateGrant``                    ``create_grant``                          CreateGrant
``kms:RevokeGrant``                    ``revoke_grant``                          RevokeGrant
``kms:ListGrants``                     ``list_grants``                           ListGrants
=====================================  ========================================  ===================================

The methods in :data:`OWNER_ONLY_METHODS` act on no existing key (they create one, or act on the
whole custodian), so no key policy can govern them: only the owner may call them. The methods in
:data:`KEYLESS_METHODS` (``inspect_token``) use no key and no state: every principal may call them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from kmslib import _checks
from kmslib.errors import ArgumentTypeError, InvalidInputError

__all__ = [
    "ACTIONS",
    "APPROVAL_METHODS",
    "GRANT_OPERATIONS",
    "KEYLESS_METHODS",
    "MAX_DEPTH",
    "MAX_POLICY_BYTES",
    "MAX_STATEMENTS",
    "METHOD_ACTIONS",
    "OWNER",
    "OWNER_ONLY_METHODS",
    "ADMINISTRATOR_ACTIONS",
    "USER_ACTIONS",
    "USES",
    "Decision",
    "KeyPolicy",
    "Request",
    "parse_policy",
    "separated_duties",
]

#: The principal name of the plain custodian, which may do anything.
OWNER = "owner"

#: Every ``KeyCustodian`` method that acts on an existing key, and the one action it needs.
METHOD_ACTIONS: Mapping[str, str] = {
    "encrypt_data_aes": "kms:Encrypt",
    "encrypt_data_rsa": "kms:Encrypt",
    "decrypt_data_aes": "kms:Decrypt",
    "decrypt_data_rsa": "kms:Decrypt",
    "decrypt_envelope": "kms:Decrypt",
    "generate_data_key": "kms:GenerateDataKey",
    "encrypt_envelope": "kms:GenerateDataKey",
    "generate_data_key_without_plaintext": "kms:GenerateDataKeyWithoutPlaintext",
    "rewrap": "kms:ReEncrypt",
    "rewrap_envelope": "kms:ReEncrypt",
    "sign": "kms:Sign",
    "verify": "kms:Verify",
    "sign_audit_checkpoint": "kms:SignAuditCheckpoint",
    "export_public_key": "kms:GetPublicKey",
    "key_info": "kms:DescribeKey",
    "list_keys": "kms:DescribeKey",
    "rotate_key": "kms:RotateKey",
    "set_rotation_policy": "kms:SetRotationPolicy",
    "invalidate_key": "kms:RevokeKey",
    "suspend_key": "kms:DisableKey",
    "resume_key": "kms:EnableKey",
    "deactivate_key": "kms:DeactivateKey",
    "mark_compromised": "kms:MarkCompromised",
    "set_key_policy": "kms:PutKeyPolicy",
    "get_key_policy": "kms:GetKeyPolicy",
    "create_grant": "kms:CreateGrant",
    "revoke_grant": "kms:RevokeGrant",
    "list_grants": "kms:ListGrants",
}

#: The closed list of actions a policy may name, in the order of the table above.
ACTIONS: tuple[str, ...] = tuple(dict.fromkeys(METHOD_ACTIONS.values()))

#: ``KeyCustodian`` methods that create a key or act on the whole custodian: the owner's alone.
OWNER_ONLY_METHODS: frozenset[str] = frozenset(
    {
        "establish_aes_key",
        "import_aes_key",
        "get_import_parameters",
        "import_wrapped_key",
        "generate_rsa_pair",
        "import_rsa_key",
        "generate_signing_key",
        "accept_key_exchange",
        "derive_shared_key",
        "generate_diffie_hellman_params_and_key",
        "open",
        "issue_credential",
        "revoke_credential",
        "as_principal",
        "rekey",
        "close",
        "store_path",
        "audit_log",
    }
)

#: The operations a grant may give (AWS KMS's grant operations that kmslib has): using a key, never
#: administering it (https://docs.aws.amazon.com/kms/latest/developerguide/grants.html#terms-grant-operations).
GRANT_OPERATIONS: frozenset[str] = frozenset(
    {
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncrypt",
        "kms:Sign",
        "kms:Verify",
        "kms:GetPublicKey",
        "kms:DescribeKey",
        "kms:CreateGrant",
    }
)

#: ``KeyCustodian`` methods that use no key and no state of the custodian: every principal may call them.
KEYLESS_METHODS: frozenset[str] = frozenset({"inspect_token"})

#: ``KeyCustodian.approve``: authorized by the pending request's own action (the approver must be a principal
#: the key's policy would allow it, approvals aside), not by an action of its own.
APPROVAL_METHODS: frozenset[str] = frozenset({"approve"})

#: The largest policy, as compact JSON in UTF-8: AWS KMS's key policy quota, 32 KiB.
MAX_POLICY_BYTES = 32 * 1024
#: The most statements a policy may hold.
MAX_STATEMENTS = 100
#: The deepest nesting a policy may have (the document itself is level 1).
MAX_DEPTH = 6

_WILDCARD_ACTION = "kms:*"
_WILDCARD_PRINCIPAL = "*"
_VERSION = "2012-10-17"
_AAD_KEY = "kmslib:AssociatedData"
_APPROVALS_KEY = "kmslib:Approvals"
_TOP_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset({"Sid", "Effect", "Principal", "Action", "Resource", "Condition"})
_UNSUPPORTED = frozenset({"NotAction", "NotPrincipal", "NotResource"})
_CONDITIONS = {"StringEquals": _AAD_KEY, "NumericGreaterThanEquals": _APPROVALS_KEY}
_ACTION_SET = frozenset(ACTIONS)
_CACHE_SIZE = 4096
_CACHED_DATA = 256


def _shown(value: object) -> str:
    """A short printable form of a policy value, for a message (policies are not secret)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True, slots=True)
class Request:
    """What a principal asks to do on one key.

    Attributes:
        principal: the asking principal's name.
        action: an action of :data:`ACTIONS`.
        associated_data: the call's associated data, or ``None`` if it has none.
        approvals: how many other principals have approved this exact call (dual control).

    """

    principal: str
    action: str
    associated_data: bytes | None = None
    approvals: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to a :class:`Request`, and why.

    Attributes:
        allowed: whether the request is allowed.
        reason: ``"explicit-deny"`` (a Deny statement applies), ``"allow"`` (an Allow statement applies
            and no Deny does) or ``"implicit-deny"`` (no statement applies).
        statement: the index in ``Statement`` of the statement that decided (the first that applies
            with the deciding effect), or ``None`` for an implicit deny.
        sid: that statement's ``Sid``, or ``None``.
        approvals_required: for an implicit deny, the fewest approvals with which an Allow statement
            would apply, if one would (dual control); else ``None``.

    """

    allowed: bool
    reason: Literal["explicit-deny", "allow", "implicit-deny"]
    statement: int | None = None
    sid: str | None = None
    approvals_required: int | None = None


@dataclass(frozen=True, slots=True)
class _Statement:
    index: int
    sid: str | None
    allow: bool
    principals: frozenset[str] | None  # None: every principal
    actions: frozenset[str]
    associated_data: frozenset[str] | None  # None: no condition on it
    approvals: int  # 0: no condition on it

    def matches_except_approvals(self, request: Request) -> bool:
        if self.principals is not None and request.principal not in self.principals:
            return False
        if request.action not in self.actions:
            return False
        if self.associated_data is not None:
            aad = request.associated_data
            if aad is None:
                return False
            try:
                text = aad.decode("utf-8")
            except UnicodeDecodeError:
                return False
            return text in self.associated_data
        return True


#: The decision for a principal that no statement names: the implicit deny.
_NAMED_NOWHERE = Decision(False, "implicit-deny")


class KeyPolicy:
    """A validated, immutable key policy. Build one with :func:`parse_policy`."""

    __slots__ = ("_cache", "_document", "_named", "_statements")

    def __init__(self, document: dict[str, Any], statements: tuple[_Statement, ...]) -> None:
        self._document = document
        self._statements = statements
        self._cache: dict[tuple[str, str, bytes | None], Decision] = {}
        #: Every principal a statement names, or ``None`` if one names ``"*"``: a principal named nowhere is
        #: denied at once, as fast as on a key without a policy (no existence oracle by time).
        named = [s.principals for s in statements]
        self._named = None if None in named else frozenset().union(*(p for p in named if p is not None))

    @property
    def document(self) -> dict[str, Any]:
        """A fresh copy of the validated document (plain ``dict``, ``list``, ``str`` and ``int``)."""
        copied: dict[str, Any] = json.loads(json.dumps(self._document))
        return copied

    def __len__(self) -> int:
        """The number of statements."""
        return len(self._statements)

    def __repr__(self) -> str:
        return f"KeyPolicy(statements={len(self._statements)})"

    def evaluate(self, request: Request) -> Decision:
        """Decide ``request``: an applicable Deny wins, then an applicable Allow, else deny.

        Args:
            request: who asks to do what, with what associated data and how many approvals.

        Returns:
            The :class:`Decision`, naming the statement that decided it.

        """
        if self._named is not None and request.principal not in self._named:
            return _NAMED_NOWHERE
        allow: _Statement | None = None
        needed: int | None = None
        for statement in self._statements:
            if not statement.matches_except_approvals(request):
                continue
            if request.approvals >= statement.approvals:
                if not statement.allow:
                    return Decision(False, "explicit-deny", statement.index, statement.sid)
                if allow is None:
                    allow = statement
            elif statement.allow:
                needed = statement.approvals if needed is None else min(needed, statement.approvals)
        if allow is not None:
            return Decision(True, "allow", allow.index, allow.sid)
        return Decision(False, "implicit-deny", approvals_required=needed)

    def decide(self, principal: str, action: str, associated_data: bytes | None = None) -> Decision:
        """:meth:`evaluate` for a request without approvals, remembered (the policy never changes).

        At most 4,096 decisions are kept (the cache starts again empty when full), none for associated data
        over 256 bytes.
        """
        if associated_data is not None and len(associated_data) > _CACHED_DATA:
            return self.evaluate(Request(principal, action, associated_data))  # not worth the memory
        key = (principal, action, associated_data)
        decision = self._cache.get(key)
        if decision is None:
            decision = self.evaluate(Request(principal, action, associated_data))
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = decision
        return decision

    def allows_unconditionally(self, principal: str, action: str) -> bool:
        """Whether ``principal`` may do ``action`` whatever the associated data and with no approvals.

        True when an Allow statement without conditions covers it and no Deny statement (with or
        without conditions) does: what a grant without an associated-data constraint needs of its creator.
        """
        covers = [
            s for s in self._statements if action in s.actions and (s.principals is None or principal in s.principals)
        ]
        no_deny = all(s.allow for s in covers)
        return no_deny and any(s.associated_data is None and s.approvals == 0 for s in covers)

    def may_deny(self, principal: str, action: str) -> bool:
        """Whether some Deny statement covers ``principal`` and ``action`` (under some conditions, or none)."""
        return any(
            not s.allow and action in s.actions and (s.principals is None or principal in s.principals)
            for s in self._statements
        )

    def principals(self) -> frozenset[str]:
        """Every principal the policy names (``"*"`` included if it names it)."""
        named: set[str] = set()
        for statement in self._statements:
            named.update(statement.principals or {_WILDCARD_PRINCIPAL})
        return frozenset(named)


def _plain(value: object, where: str, depth: int, budget: list[int]) -> object:
    """A plain copy of ``value`` (dict with str keys, list, str, int, bool, None), depth- and size-limited.

    ``budget[0]`` starts at :data:`MAX_POLICY_BYTES` and loses one per value and per character: each
    takes at least a byte of the compact JSON, so the walk stops as soon as the document is over the limit
    (a document sharing its lists could otherwise take exponential time to walk).
    """
    kind = type(value)  # not isinstance, which asks the object for its __class__
    budget[0] -= 1 + (str.__len__(value) if issubclass(kind, str) else 0)  # type: ignore[arg-type]
    if budget[0] < 0:
        raise InvalidInputError(
            f"policy is more than {MAX_POLICY_BYTES} bytes as JSON; the limit is {MAX_POLICY_BYTES}"
        )
    if issubclass(kind, str):
        return str.__str__(value)
    if kind is bool or value is None:
        return value
    if issubclass(kind, int):
        return int.__int__(value)  # type: ignore[arg-type]
    if depth > MAX_DEPTH and issubclass(kind, (Mapping, list, tuple)):
        raise InvalidInputError(f"policy is nested more than {MAX_DEPTH} levels deep (at {where})")
    if issubclass(kind, Mapping):
        mapping = cast("Mapping[object, object]", value)
        copied: dict[str, object] = {}
        for key in list(mapping):
            if not issubclass(type(key), str):
                raise InvalidInputError(f"policy {where} has a key that is not a string: {_shown(key)}")
            name = str.__str__(cast("str", key))
            budget[0] -= len(name)
            copied[name] = _plain(mapping[key], f"{where}.{name}" if where else name, depth + 1, budget)
        return copied
    if issubclass(kind, (list, tuple)):
        items = cast("list[object]", value)
        return [_plain(item, f"{where}[{i}]", depth + 1, budget) for i, item in enumerate(items)]
    raise InvalidInputError(f"policy {where or 'document'} holds a {type(value).__name__}, which JSON has not")


def _names(value: object, where: str, noun: str) -> list[str]:
    """A name or a non-empty list of names, as a list of strings."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise InvalidInputError(f"policy {where} is an empty list; name at least one {noun}")
    for item in items:
        if not isinstance(item, str):
            raise InvalidInputError(f"policy {where} must be a {noun} or a list of them, not {_shown(item)}")
    return [str(item) for item in items]


def _principals(value: object, where: str) -> frozenset[str] | None:
    if isinstance(value, dict):
        raise InvalidInputError(
            f"policy {where} must be a principal name or a list of names (kmslib has no ARNs: not {{'AWS': ...}})"
        )
    names = _names(value, where, "principal name")
    if _WILDCARD_PRINCIPAL in names:
        return None
    for name in names:
        _checks.key_id(name, f"policy {where} (a principal name)")
        if name == OWNER:
            raise InvalidInputError(f"policy {where} names 'owner': the owner may do anything and needs no statement")
    return frozenset(names)


def _actions(value: object, where: str) -> frozenset[str]:
    names = _names(value, where, "action")
    if _WILDCARD_ACTION in names:
        return _ACTION_SET
    for name in names:
        if name not in _ACTION_SET:
            raise InvalidInputError(
                f"policy {where} names unknown action {_shown(name)} (see kmslib.policy.ACTIONS, or 'kms:*')"
            )
    return frozenset(names)


def _condition(value: object, where: str) -> tuple[frozenset[str] | None, int]:
    if not isinstance(value, dict) or not value:
        raise InvalidInputError(f"policy {where} must be a non-empty object of condition operators")
    aad: frozenset[str] | None = None
    approvals = 0
    for operator, block in value.items():
        key = _CONDITIONS.get(operator)
        if key is None:
            raise InvalidInputError(
                f"policy {where} has unknown condition operator {_shown(operator)} "
                "(kmslib knows StringEquals and NumericGreaterThanEquals)"
            )
        inner = f"{where}.{operator}"
        if not isinstance(block, dict) or set(block) != {key}:
            keys = list(block) if isinstance(block, dict) else block
            raise InvalidInputError(f"policy {inner} must hold exactly the condition key {key!r}, not {_shown(keys)}")
        operand = block[key]
        if key == _AAD_KEY:
            aad = frozenset(_names(operand, f"{inner}.{key}", "string"))
        elif isinstance(operand, bool) or not isinstance(operand, int) or not 1 <= operand <= MAX_STATEMENTS:
            raise InvalidInputError(
                f"policy {inner}.{key} must be a whole number of approvals from 1 to {MAX_STATEMENTS}, "
                f"not {_shown(operand)}"
            )
        else:
            approvals = operand
    return aad, approvals


def _statement(value: object, index: int) -> _Statement:
    where = f"Statement[{index}]"
    if not isinstance(value, dict):
        raise InvalidInputError(f"policy {where} must be an object, not {_shown(value)}")
    for key in value:
        if key in _UNSUPPORTED:
            raise InvalidInputError(f"policy {where} uses {key}, which kmslib does not support")
        if key not in _STATEMENT_KEYS:
            raise InvalidInputError(f"policy {where} has unknown field {_shown(key)}")
    for key in ("Effect", "Principal", "Action"):
        if key not in value:
            raise InvalidInputError(f"policy {where} has no {key}")
    effect = value["Effect"]
    if effect not in {"Allow", "Deny"}:
        raise InvalidInputError(f"policy {where}.Effect must be 'Allow' or 'Deny', not {_shown(effect)}")
    sid = value.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise InvalidInputError(f"policy {where}.Sid must be a string, not {_shown(sid)}")
    if "Resource" in value and value["Resource"] != "*":
        raise InvalidInputError(
            f"policy {where}.Resource must be '*' (a key policy covers its own key), not {_shown(value['Resource'])}"
        )
    aad, approvals = _condition(value["Condition"], f"{where}.Condition") if "Condition" in value else (None, 0)
    return _Statement(
        index=index,
        sid=sid,
        allow=effect == "Allow",
        principals=_principals(value["Principal"], f"{where}.Principal"),
        actions=_actions(value["Action"], f"{where}.Action"),
        associated_data=aad,
        approvals=approvals,
    )


def parse_policy(document: object) -> KeyPolicy:
    """Validate a key policy document and compile it for evaluation.

    Args:
        document: a JSON-compatible ``dict`` in the shape described in this module's docstring.

    Returns:
        The :class:`KeyPolicy`; it keeps its own plain copy of ``document``.

    Raises:
        ArgumentTypeError: ``document`` is not a ``dict`` (or other mapping).
        InvalidInputError: the document is malformed, too large, names an unknown action, condition
            or field, or an invalid principal; the message names the problem and where it is.

    """
    if not issubclass(type(document), Mapping):
        raise ArgumentTypeError(f"policy must be a dict, not {type(document).__name__}")
    plain = cast("dict[str, Any]", _plain(document, "", 1, [MAX_POLICY_BYTES]))  # a mapping is copied as a dict
    size = len(json.dumps(plain, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))
    if size > MAX_POLICY_BYTES:
        raise InvalidInputError(f"policy is {size} bytes as JSON; the limit is {MAX_POLICY_BYTES}")
    for key in plain:
        if key in _UNSUPPORTED or key not in _TOP_KEYS:
            raise InvalidInputError(f"policy has unknown top-level field {_shown(key)} (Version, Id, Statement)")
    if "Version" in plain and plain["Version"] != _VERSION:
        raise InvalidInputError(f"policy Version must be {_VERSION!r}, not {_shown(plain['Version'])}")
    if "Id" in plain and not isinstance(plain["Id"], str):
        raise InvalidInputError(f"policy Id must be a string, not {_shown(plain['Id'])}")
    statements = plain.get("Statement")
    if not isinstance(statements, list) or not statements:
        raise InvalidInputError("policy Statement must be a non-empty list of statements")
    if len(statements) > MAX_STATEMENTS:
        raise InvalidInputError(f"policy has {len(statements)} statements; the limit is {MAX_STATEMENTS}")
    compiled = tuple(_statement(value, index) for index, value in enumerate(statements))
    return KeyPolicy(plain, compiled)


#: What :func:`separated_duties` lets key administrators do: manage the key (its policy, rotation, states,
#: revocation, grants' revocation), never use it, never create grants (a grant hands out uses). After the key
#: administrators' statement of the policy AWS KMS's console writes
#: (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html), without its ``kms:Create*``.
ADMINISTRATOR_ACTIONS: tuple[str, ...] = (
    "kms:DescribeKey",
    "kms:RotateKey",
    "kms:SetRotationPolicy",
    "kms:RevokeKey",
    "kms:DisableKey",
    "kms:EnableKey",
    "kms:DeactivateKey",
    "kms:MarkCompromised",
    "kms:PutKeyPolicy",
    "kms:GetKeyPolicy",
    "kms:ListGrants",
    "kms:RevokeGrant",
)

#: What :func:`separated_duties` lets key users do: encrypt and decrypt, nothing else (least privilege: a user who
#: needs more gets a statement of its own).
USER_ACTIONS: tuple[str, ...] = ("kms:Encrypt", "kms:Decrypt")

#: What :func:`separated_duties` explicitly denies key administrators, whatever another statement or a grant says.
USES: tuple[str, ...] = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncrypt",
    "kms:Sign",
)


def _role(names: str | Sequence[str], role: str) -> list[str]:
    listed = [names] if isinstance(names, str) else list(names)
    if not listed:
        raise InvalidInputError(f"separated_duties needs at least one of the key's {role}")
    if _WILDCARD_PRINCIPAL in listed:
        raise InvalidInputError(f"separated_duties names its {role} one by one, not '*'")
    return listed


def separated_duties(
    *,
    administrators: str | Sequence[str],
    users: str | Sequence[str],
    associated_data: str | None = None,
    approvals_to_revoke: int = 0,
) -> dict[str, Any]:
    """The course's key policy template: key administrators manage the key, key users use it.

    Separation of duties, as in the key policy AWS KMS's console writes, whose key administrators' statement
    lets them manage the key and whose key users' statement lets them use it
    (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html): nobody both administers and
    uses the key, so no one person both decides who may read the data and reads it. The statements:
    ``"KeyAdministrators"`` allows :data:`ADMINISTRATOR_ACTIONS`; ``"KeyUsers"`` allows :data:`USER_ACTIONS`
    (only with ``associated_data``, if given); ``"AdministratorsNeverUse"`` denies the administrators
    :data:`USES`, so that no other statement and no grant can let them; and with ``approvals_to_revoke``,
    ``"RevokeWithApproval"`` lets an administrator revoke only with that many approvals from other principals
    (dual control), instead of alone.

    Args:
        administrators: the key administrators' principal names (a name or a list).
        users: the key users' principal names (a name or a list).
        associated_data: if given, the users' statement holds only for this associated data.
        approvals_to_revoke: if above 0, how many approvals revoking the key needs.

    Returns:
        A fresh policy document for :meth:`~kmslib.KeyCustodian.set_key_policy`.

    Raises:
        InvalidInputError: a list is empty, names ``"*"``, ``"owner"`` or an invalid name, a principal is in
            both lists, or ``approvals_to_revoke`` is negative or not an ``int``.

    """
    admins, key_users = _role(administrators, "administrators"), _role(users, "users")
    both = sorted(set(admins) & set(key_users), key=str)
    if both:
        raise InvalidInputError(f"separated_duties: {_shown(both[0])} both administers and uses the key")
    if type(approvals_to_revoke) is not int or approvals_to_revoke < 0:
        raise InvalidInputError(f"approvals_to_revoke must be an int of at least 0, not {_shown(approvals_to_revoke)}")
    manage = [a for a in ADMINISTRATOR_ACTIONS if not (approvals_to_revoke and a == "kms:RevokeKey")]
    use: dict[str, Any] = {"Sid": "KeyUsers", "Effect": "Allow", "Principal": key_users, "Action": list(USER_ACTIONS)}
    if associated_data is not None:
        use["Condition"] = {"StringEquals": {_AAD_KEY: associated_data}}
    statements: list[dict[str, Any]] = [
        {"Sid": "KeyAdministrators", "Effect": "Allow", "Principal": admins, "Action": manage},
        use,
        {"Sid": "AdministratorsNeverUse", "Effect": "Deny", "Principal": list(admins), "Action": list(USES)},
    ]
    if approvals_to_revoke:
        statements.append(
            {
                "Sid": "RevokeWithApproval",
                "Effect": "Allow",
                "Principal": list(admins),
                "Action": "kms:RevokeKey",
                "Condition": {"NumericGreaterThanEquals": {_APPROVALS_KEY: approvals_to_revoke}},
            }
        )
    document: dict[str, Any] = {"Version": _VERSION, "Statement": statements}
    parse_policy(document)  # names and data checked as in any policy
    return document
