"""Lesson 09 (access control): the course's policy template, five checked exercises, and the quiz.

- :func:`kmslib.policy.separated_duties`: the course's key policy template, which separates duties: key administrators
  manage the key and never use it (an explicit Deny says so), key users use it and never manage it;
- :func:`grant_lab` and :func:`production`: a fresh custodian for exercises 4 and 5 each time.

Exercises:

- ``q1`` (recall): which statement of :data:`RECALL_POLICY` decides each of three requests;
- ``q2`` (build): a least-privilege policy for a payments service, judged by what it allows and denies
  (every principal, action and associated data of a grid, with every principal, associated data and number of
  approvals the policy names, is asked of it), not by its text;
- ``q3`` (apply): find the over-broad statement of :data:`OVERBROAD_POLICY`, and fix it, the fix judged the same way;
- ``q4`` (break): a principal that holds only ``kms:CreateGrant`` tries to grant itself ``kms:Decrypt`` (kmslib
  refuses: a grant never gives more than its creator holds), then the delegation is done the narrow way;
- ``q5`` (apply): dual control: bob asks to revoke a production key, carol approves, bob's same call succeeds.

Checkers 4 and 5 read the custodian's grants, policy, key states, pending requests and its audit log (whose entries
name their principals), never the student's code. The policy vocabulary and evaluation are AWS KMS's key policies'
(https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html), as :mod:`kmslib.policy` says.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from kmslib.audit import AuditEntry
from kmslib.clock import classroom_clock
from kmslib.course.exercises import Exercise, Question, Quiz, kind, student_custodian, student_entries, whole
from kmslib.custodian import KeyCustodian
from kmslib.errors import ArgumentTypeError, InvalidInputError
from kmslib.policy import (
    ACTIONS,
    ADMINISTRATOR_ACTIONS,
    OWNER,
    USER_ACTIONS,
    Decision,
    KeyPolicy,
    Request,
    parse_policy,
    separated_duties,
)
from kmslib.principals import Grant, PrincipalView
from kmslib.states import REVOKED

__all__ = [
    "ADMIN_ACTIONS",
    "LEDGER_TEXT",
    "OVERBROAD_POLICY",
    "RECALL_POLICY",
    "RECALL_REQUESTS",
    "USE_ACTIONS",
    "grant_lab",
    "production",
    "q1",
    "q2",
    "q3",
    "q4",
    "q5",
    "quiz",
]

#: What a key administrator does: manage the key, its policy and its grants (never use it).
ADMIN_ACTIONS: tuple[str, ...] = ADMINISTRATOR_ACTIONS
#: What a key user does with the key (the lesson's users encrypt and decrypt; nothing else).
USE_ACTIONS: tuple[str, ...] = USER_ACTIONS
#: The actions that carry associated data (the others are asked without any).
_DATA_ACTIONS: tuple[str, ...] = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncrypt",
)


def _aad(value: str) -> dict[str, Any]:
    return {"StringEquals": {"kmslib:AssociatedData": value}}


def _policy_answer(value: object, name: str) -> KeyPolicy | str:
    """A student's policy, parsed; or what is wrong with it, in plain words."""
    if not isinstance(value, Mapping):
        return f"{name} should be a dict ({{'Statement': [...]}}), not {kind(value)}."
    try:
        return parse_policy(value)
    except (InvalidInputError, ArgumentTypeError) as error:
        return f"kmslib refuses {name}: {error}."


def _said(data: bytes | None) -> str:
    return "no associated data" if data is None else f"associated data {data.decode()[:40]!r}"


# ---------------------------------------------------------------- q1: which statement decides?

RECALL_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "PaymentUsers",
            "Effect": "Allow",
            "Principal": ["alice", "bob"],
            "Action": ["kms:Encrypt", "kms:Decrypt"],
            "Condition": _aad("payments"),
        },
        {"Sid": "KeyAdmins", "Effect": "Allow", "Principal": "carol", "Action": ["kms:RotateKey", "kms:RevokeKey"]},
        {"Sid": "BobMovedTeams", "Effect": "Deny", "Principal": "bob", "Action": "kms:Decrypt"},
    ],
}

#: The three requests of exercise 1: (principal, action, associated data).
RECALL_REQUESTS: tuple[tuple[str, str, str | None], ...] = (
    ("bob", "kms:Decrypt", "payments"),
    ("alice", "kms:Encrypt", "refunds"),
    ("carol", "kms:RotateKey", None),
)

_NO_STATEMENT = frozenset({"none", "implicit deny", "implicit-deny", "implicit", "no statement", "nothing", ""})


def _which(answer: object, policy: dict[str, Any]) -> int | str | None:
    """The statement index an answer names (a Sid, an index, or None for no statement); else what is wrong."""
    sids = [s.get("Sid") for s in policy["Statement"]]
    if answer is None:
        return None
    if isinstance(answer, bool):
        return f"{answer} names no statement: give its Sid (such as {sids[0]!r}), its index, or None."
    index = whole(answer)  # an int subclass keeps only its value
    if index is not None:
        if 0 <= index < len(sids):
            return index
        return f"there is no statement with that index: the indices are 0 to {len(sids) - 1}."
    if isinstance(answer, str):
        text = answer.strip()
        for index, sid in enumerate(sids):
            if sid is not None and text.lower() == sid.lower():
                return index
        if text.lower() in _NO_STATEMENT:
            return None
        if text.isdecimal() and len(text) < 4:
            return _which(int(text), policy)
        return f"no statement has the Sid {text[:40]!r}: the Sids are {', '.join(map(repr, sids))}."
    return f"give a Sid (a string), an index (an int) or None, not {kind(answer)}."


def _recall_decision(number: int) -> Decision:
    principal, action, data = RECALL_REQUESTS[number]
    return parse_policy(RECALL_POLICY).decide(principal, action, None if data is None else data.encode())


def _check_q1(first: object, second: object, third: object) -> str | None:
    answers = (first, second, third)
    named: list[int | None] = []
    for number, answer in enumerate(answers):
        found = _which(answer, RECALL_POLICY)
        if isinstance(found, str):
            return f"request {number + 1}: {found}"
        named.append(found)
    if len({repr(a) for a in answers}) == 1:
        return "the same answer three times: each request is decided on its own. Read each one against every statement."
    sids = [s["Sid"] for s in RECALL_POLICY["Statement"]]
    for number, found in enumerate(named):
        decision = _recall_decision(number)
        if found == decision.statement:
            continue
        where = f"request {number + 1} ({', '.join(str(p) for p in RECALL_REQUESTS[number] if p is not None)})"
        if decision.reason == "explicit-deny":
            return (
                f"{where}: more than one statement applies to it. An explicit Deny wins over an Allow, wherever "
                "each is in the list."
            )
        if decision.reason == "implicit-deny" and found is not None:
            return (
                f"{where}: statement {sids[found]!r} does not apply. Check every part of it against the request, "
                "its Condition included; when no statement applies, the answer is None (the implicit deny)."
            )
        if found is None:
            return f"{where}: a statement does apply to it: compare its Principal and Action with the request."
        return f"{where}: statement {sids[found]!r} does not apply to it: compare Principal, Action and Condition."
    return None


q1 = Exercise(
    1,
    "recall",
    "Read `RECALL_POLICY` (printed above). For each request of `RECALL_REQUESTS`, name the statement that decides "
    "it, by its Sid or its index, or `None` if no statement applies: (1) bob asks to kms:Decrypt with associated "
    "data 'payments'; (2) alice asks to kms:Encrypt with associated data 'refunds'; (3) carol asks to "
    "kms:RotateKey.",
    _check_q1,
    "A statement applies when its Principal, its Action and every Condition match the request. An applicable Deny "
    "wins over an applicable Allow, wherever each stands; when none applies, the request is denied (implicit deny).",
    'q1.check("BobMovedTeams", None, "KeyAdmins")',
)


# ---------------------------------------------------------------- the grid on which policies are judged

PAYMENTS_SVC, SECOPS = "payments-svc", "secops"
#: Principals the payments policy must leave out (anyone else).
_OTHERS = ("intern", "batch-operator")
_DATA: tuple[bytes | None, ...] = (None, b"payments", b"refunds", b"")


#: The most principals, or associated data, a judged policy may name beyond the grid's own (each is asked).
_MOST_NAMED = 64
#: The most different numbers of approvals a judged policy may ask for (the grid asks at each).
_MOST_LEVELS = 4


class _Grid(NamedTuple):
    """What the policies name, for the grid to ask: principals, associated data, and numbers of approvals."""

    principals: list[str]
    data: list[bytes]
    approvals: list[int]
    stranger: str  # a principal no policy names


def _named(*policies: KeyPolicy) -> _Grid | str:
    """Every principal, associated data and number of approvals the policies name; or why there are too many.

    A principal no policy names is decided as any other unnamed one is (the grid asks one, ``stranger``),
    associated data no Condition names as any other unnamed data is (it asks one), and a number of approvals as
    the largest named one below it (or none): the grid, with these added, asks every case that can differ.
    """
    principals: dict[str, None] = {}
    data: dict[bytes, None] = {}
    approvals: set[int] = {0}
    for policy in policies:
        principals.update(dict.fromkeys(sorted(policy.principals() - {"*"})))
        for statement in policy.document["Statement"]:
            condition = statement.get("Condition", {})
            values = condition.get("StringEquals", {}).get("kmslib:AssociatedData", [])
            approvals.add(condition.get("NumericGreaterThanEquals", {}).get("kmslib:Approvals", 0))
            for value in [values] if isinstance(values, str) else values:
                try:
                    data[value.encode("utf-8")] = None
                except UnicodeEncodeError:  # no request's associated data decodes to it: it matches none
                    continue
    if len(principals) > _MOST_NAMED or len(data) > _MOST_NAMED:
        return (
            f"the policy names {len(principals)} principals and {len(data)} associated data: the task needs a few. "
            "Name only the principals and data it asks for."
        )
    if len(approvals) > _MOST_LEVELS:
        return f"the policy asks for {len(approvals) - 1} different numbers of approvals: the task needs none."
    unnamed, stranger = b"other", "someone-else"
    while unnamed in data:
        unnamed += b"-data"
    while stranger in principals:
        stranger += "-too"
    return _Grid(list(principals), [*data, unnamed], sorted(approvals), stranger)


def _requests(principals: Sequence[str], grid: _Grid | None = None) -> list[Request]:
    """Every request the checkers ask a policy: data only for actions that carry it; at each number of approvals."""
    asked = list(dict.fromkeys([*_DATA, *(grid.data if grid else ())]))
    return [
        Request(principal, action, data, approvals)
        for approvals in (grid.approvals if grid else (0,))
        for principal in principals
        for action in ACTIONS
        for data in (asked if action in _DATA_ACTIONS else (None,))
    ]


def _allows(policy: KeyPolicy, request: Request) -> bool:
    if request.approvals:
        return policy.evaluate(request).allowed
    return policy.decide(request.principal, request.action, request.associated_data).allowed


def _asking(request: Request) -> str:
    """A request in words, without its principal: ``kms:Decrypt with associated data 'payments'``."""
    data = f" with {_said(request.associated_data)}" if request.action in _DATA_ACTIONS else ""
    return request.action + data + (" once others approve it" if request.approvals else "")


def _first_difference(
    policy: KeyPolicy, wanted: KeyPolicy, principals: Sequence[str], grid: _Grid
) -> tuple[Request, bool] | None:
    """The first request on which ``policy`` and ``wanted`` disagree, with what ``policy`` says; or None."""
    for request in _requests(principals, grid):
        allowed = _allows(policy, request)
        if allowed != _allows(wanted, request):
            return request, allowed
    return None


# ---------------------------------------------------------------- q2: a least-privilege policy

_PAYMENTS_WANTED = parse_policy(
    {
        "Statement": [
            {"Effect": "Allow", "Principal": PAYMENTS_SVC, "Action": list(USE_ACTIONS), "Condition": _aad("payments")},
            {"Effect": "Allow", "Principal": SECOPS, "Action": ["kms:RotateKey", "kms:RevokeKey", "kms:PutKeyPolicy"]},
        ]
    }
)


def _check_q2(policy: object) -> str | None:
    parsed = _policy_answer(policy, "policy")
    if isinstance(parsed, str):
        return parsed
    grid = _named(parsed, _PAYMENTS_WANTED)
    if isinstance(grid, str):
        return grid
    principals = grid.principals
    others = [p for p in dict.fromkeys([*_OTHERS, *principals, grid.stranger]) if p not in {PAYMENTS_SVC, SECOPS}]
    found = _first_difference(parsed, _PAYMENTS_WANTED, others, grid) or _first_difference(
        parsed, _PAYMENTS_WANTED, (PAYMENTS_SVC, SECOPS), grid
    )
    if found is None:
        return None
    request, allowed = found
    principal, action = request.principal, request.action
    asked = f"{principal!r} asking {_asking(request)}"
    if not allowed:
        if principal == PAYMENTS_SVC:
            return (
                f"{asked} is denied: the service must encrypt and decrypt its payments. Check its statement's "
                "Principal, Action and Condition (the associated data 'payments'), and any Deny that covers it."
            )
        return (
            f"{asked} is denied: the administrator must rotate, revoke and set the policy. A condition on associated "
            "data never matches these calls, which carry none."
        )
    if principal not in {PAYMENTS_SVC, SECOPS}:
        if principal in principals:
            return f"{asked} is allowed, and {principal!r} is neither of the two: allow only the two the task names."
        return (
            f"{asked} is allowed, and {principal!r} is neither of the two: a Principal of '*' allows every principal. "
            "Name each principal, and only the two."
        )
    if principal == SECOPS and action in _DATA_ACTIONS:
        return f"{asked} is allowed: an administrator must never use the key (separation of duties)."
    if principal == PAYMENTS_SVC and action in {"kms:Encrypt", "kms:Decrypt"}:
        return (
            f"{asked} is allowed: the service may use the key only with associated data 'payments'. Add a Condition "
            "(StringEquals on kmslib:AssociatedData) that names 'payments' and nothing else."
        )
    if principal == PAYMENTS_SVC:
        return f"{asked} is allowed: the service encrypts and decrypts, and does nothing else (least privilege)."
    return f"{asked} is allowed: the task gives {principal!r} three actions and nothing else (least privilege)."


q2 = Exercise(
    2,
    "build",
    f"Write a key policy (a dict) for the payments key: {PAYMENTS_SVC!r} may kms:Encrypt and kms:Decrypt, only with "
    f"associated data 'payments'; {SECOPS!r} may kms:RotateKey, kms:RevokeKey and kms:PutKeyPolicy, and never use "
    "the key; nobody may do anything else. The check asks your policy every action, for these two principals and "
    "others, with several associated data.",
    _check_q2,
    "Two Allow statements, one per principal, each with its own Action list; the service's with "
    '"Condition": {"StringEquals": {"kmslib:AssociatedData": "payments"}}. Avoid "*" and "kms:*". Everything not '
    "allowed is denied already (the implicit deny).",
    """payments_policy = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "PaymentsService", "Effect": "Allow", "Principal": "payments-svc",
         "Action": ["kms:Encrypt", "kms:Decrypt"],
         "Condition": {"StringEquals": {"kmslib:AssociatedData": "payments"}}},
        {"Sid": "SecurityOperations", "Effect": "Allow", "Principal": "secops",
         "Action": ["kms:RotateKey", "kms:RevokeKey", "kms:PutKeyPolicy"]},
    ],
}
q2.check(payments_policy)""",
)


# ---------------------------------------------------------------- q3: the over-broad statement

#: Each statement's purpose, as its team wrote it down (exercise 3 compares what each allows with it).
OVERBROAD_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Checkout",  # the checkout service encrypts orders
            "Effect": "Allow",
            "Principal": "checkout",
            "Action": "kms:Encrypt",
            "Condition": _aad("orders"),
        },
        {
            "Sid": "Reporting",  # the reporting job reads orders
            "Effect": "Allow",
            "Principal": "reporting",
            "Action": "kms:Decrypt",
            "Condition": _aad("orders"),
        },
        {"Sid": "Describe", "Effect": "Allow", "Principal": "*", "Action": "kms:DescribeKey"},  # anyone sees the key
        {
            "Sid": "Backup",
            "Effect": "Allow",
            "Principal": "backup",
            "Action": "kms:*",
        },  # re-encrypt under a new version
        {"Sid": "Admins", "Effect": "Allow", "Principal": "dana", "Action": ["kms:RotateKey", "kms:PutKeyPolicy"]},
    ],
}
_OVERBROAD = 3
#: What each statement was written for: the policy exercise 3's fix must behave as.
_INTENDED = parse_policy(
    {
        "Statement": [
            *OVERBROAD_POLICY["Statement"][:_OVERBROAD],
            {"Effect": "Allow", "Principal": "backup", "Action": "kms:ReEncrypt"},
            OVERBROAD_POLICY["Statement"][_OVERBROAD + 1],
        ]
    }
)
_Q3_PRINCIPALS = ("checkout", "reporting", "backup", "dana", "intern")


def _check_q3(statement: object, fixed: object) -> str | None:
    named = _which(statement, OVERBROAD_POLICY)
    if isinstance(named, str):
        return f"statement: {named}"
    if named is None:
        return "statement: one statement allows more than its purpose: name it by its Sid or index."
    sid = OVERBROAD_POLICY["Statement"][named]["Sid"]
    if named == 2:
        return (
            "'Describe' names every principal, and its purpose is just that: anyone may see the key's description. "
            "Look for a statement that allows more than its purpose says."
        )
    if named != _OVERBROAD:
        return f"{sid!r} allows what its purpose says, and no more. Look for one whose Action is wider than its job."
    parsed = _policy_answer(fixed, "fixed")
    if isinstance(parsed, str):
        return parsed
    grid = _named(parsed, _INTENDED)
    if isinstance(grid, str):
        return grid
    principals = list(dict.fromkeys([*_Q3_PRINCIPALS, *grid.principals, grid.stranger]))
    found = _first_difference(parsed, _INTENDED, principals, grid)
    if found is None:
        return None
    request, allowed = found
    asked = f"{request.principal!r} asking {_asking(request)}"
    if allowed:
        return f"you found it, and in your fixed policy {asked} is still allowed: give each principal its purpose only."
    return (
        f"you found it, and in your fixed policy {asked} is denied, which the statements' purposes allow: change "
        "only the over-broad statement."
    )


q3 = Exercise(
    3,
    "apply",
    "In `OVERBROAD_POLICY` (printed below, each statement's purpose listed here), one statement allows far more "
    "than its purpose. Name it (its Sid or index), and write `fixed`: the policy with that statement narrowed to its "
    "purpose, everything else as it was.",
    _check_q3,
    "Compare each statement's Action with the comment beside it. Re-encrypting under a new key version is one "
    "action of kmslib.policy.ACTIONS.",
    """import copy

fixed = copy.deepcopy(OVERBROAD_POLICY)
fixed["Statement"][3]["Action"] = "kms:ReEncrypt"
q3.check("Backup", fixed)""",
)


# ---------------------------------------------------------------- q4: CreateGrant alone, and the narrow delegation

KEY = "payments"
OPERATOR, NIGHTLY = "batch-operator", "nightly-batch"
#: The ledger exercise 4's batch job must read (encrypted with associated data "payments").
LEDGER_TEXT = "2026-01-05: 1,204 card payments, total 88,310.55 EUR"
_LAB_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "PaymentsService",
            "Effect": "Allow",
            "Principal": PAYMENTS_SVC,
            "Action": list(USE_ACTIONS),
            "Condition": _aad("payments"),
        },
        {
            "Sid": "BatchOperator",
            "Effect": "Allow",
            "Principal": OPERATOR,
            "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
        },
    ],
}

#: The custodians grant_lab() and production() made: an answer must be one of them.
_MADE_BY: weakref.WeakKeyDictionary[KeyCustodian, str] = weakref.WeakKeyDictionary()


def grant_lab() -> tuple[KeyCustodian, str]:
    """A fresh custodian for exercise 4, and its ledger.

    Key 'payments' is under a policy where batch-operator may only create, list and revoke grants.

    Returns:
        ``(lab, ledger)``: the custodian, and the ledger's token (associated data 'payments').
    """
    lab = KeyCustodian(clock=classroom_clock())
    lab.establish_aes_key(KEY)
    ledger = lab.encrypt_data_aes(KEY, LEDGER_TEXT, associated_data="payments")
    lab.set_key_policy(KEY, _LAB_POLICY)
    _MADE_BY[lab] = "grant_lab()"
    return lab, ledger


_Q4_WANTED = parse_policy(
    {
        "Statement": [
            _LAB_POLICY["Statement"][0],
            _LAB_POLICY["Statement"][1],
            {"Effect": "Allow", "Principal": OPERATOR, "Action": "kms:Decrypt", "Condition": _aad("payments")},
        ]
    }
)
#: What the operator may hold or not, as the checker does not judge: managing its own grants.
_OPERATOR_FREE = frozenset({"kms:ListGrants", "kms:RevokeGrant", "kms:DescribeKey"})


def _entries(custodian: KeyCustodian, principal: str, operation: str, outcome: str) -> list[AuditEntry]:
    return [
        e
        for e in student_entries(custodian)
        if e.principal == principal and e.operation == operation and e.key_id == KEY and e.outcome == outcome
    ]


def _policy_problem(custodian: KeyCustodian) -> str | None:
    document = custodian.get_key_policy(KEY)
    if document is None:
        return f"{KEY!r} has no policy any more: start again from grant_lab()."
    policy = parse_policy(document)
    grid = _named(policy, _Q4_WANTED)
    if isinstance(grid, str):
        return grid
    principals = list(dict.fromkeys([NIGHTLY, OPERATOR, PAYMENTS_SVC, "intern", *grid.principals, grid.stranger]))
    for request in _requests(principals, grid):
        allowed = _allows(policy, request)
        if allowed == _allows(_Q4_WANTED, request):
            continue
        principal, action = request.principal, request.action
        if principal == OPERATOR and action in _OPERATOR_FREE:
            continue
        asked = _asking(request)
        if principal == OPERATOR and action == "kms:Decrypt" and not allowed:
            return (
                f"under the policy, {OPERATOR!r} does not hold kms:Decrypt with associated data 'payments', so "
                "kmslib lets it grant no one that: a grant never gives more than its creator holds. Give it that "
                "in the policy (as the owner), and nothing more."
            )
        if principal == OPERATOR and allowed:
            return (
                f"under the policy, {OPERATOR!r} may {asked}: more than the nightly job needs, and whatever it "
                "holds it may grant. Narrow its statement."
            )
        if principal == NIGHTLY and allowed:
            return (
                f"the policy lets {NIGHTLY!r} {asked}: give it a grant instead, which is revoked without "
                "editing the policy."
            )
        if principal == PAYMENTS_SVC and not allowed:
            return f"the policy no longer lets {PAYMENTS_SVC!r} {asked}: keep its statement as it was."
        verb = "may" if allowed else "may not"
        return f"under the policy, {principal!r} {verb} {asked}: change only what the task asks."
    return None


def _grant_problem(grant: Grant) -> str | None:
    """What is wrong with the grant for the nightly job, or None."""
    if grant.creator != OPERATOR:
        return (
            f"the grant for {NIGHTLY!r} was made by {grant.creator!r}: make it as {OPERATOR}, so that kmslib "
            "checks it against what the operator holds."
        )
    if "kms:CreateGrant" in grant.operations:
        return f"the grant also gives kms:CreateGrant: {NIGHTLY!r} could pass it on. Give kms:Decrypt only."
    if grant.operations != ("kms:Decrypt",):
        return f"the grant gives {', '.join(grant.operations)}: the nightly job only decrypts."
    if grant.associated_data != b"payments":
        return f"the grant lets {NIGHTLY!r} decrypt with {_said(grant.associated_data)}: bind it to 'payments'."
    return None


def _not_a_view(kms: object, name: str) -> str | None:
    """What to say when a principal's view is passed instead of the owner's custodian."""
    if isinstance(kms, PrincipalView):
        return f"that is {kms.principal}'s view of the custodian: pass {name}, the owner's custodian itself."
    return None


def _check_q4(kms: object) -> str | None:
    if isinstance(kms, tuple):
        return "pass lab, the first of the two values grant_lab() returns (lab, ledger = grant_lab())."
    if (view := _not_a_view(kms, "lab")) is not None:
        return view
    lab = student_custodian(kms)
    if _MADE_BY.get(lab) != "grant_lab()" or KEY not in lab:
        return "pass the custodian that grant_lab() gave you (lab, ledger = grant_lab())."
    if not _entries(lab, OPERATOR, "create_grant", "AccessDeniedError"):
        return (
            f"the audit log shows no create_grant refused to {OPERATOR!r}: first, as {OPERATOR} (a view from "
            "lab.as_principal), try to grant yourself kms:Decrypt, and catch the AccessDeniedError."
        )
    grants = lab.list_grants(KEY)
    for grant in grants:
        if grant.grantee == OPERATOR:
            return (
                f"a grant made by {grant.creator!r} gives {OPERATOR!r} {', '.join(grant.operations)}: the operator "
                "passes permissions on and needs no grant of its own. Revoke it (revoke_grant)."
            )
        if grant.grantee != NIGHTLY:
            return (
                f"a grant made by {grant.creator!r} gives {grant.grantee!r} {', '.join(grant.operations)}: the task "
                f"delegates to {NIGHTLY!r} alone. Revoke it (revoke_grant)."
            )
    problem = _policy_problem(lab)
    if problem is not None:
        return problem
    nightly = [g for g in grants if g.grantee == NIGHTLY]
    if not nightly:
        return (
            f"there is no grant for {NIGHTLY!r} on {KEY!r} (lab.list_grants shows none): as {OPERATOR}, create it, "
            "and leave it in place for the check."
        )
    problem = next(filter(None, map(_grant_problem, nightly)), None)
    if problem is not None:
        return problem
    granted = min((e.seq for e in _entries(lab, OPERATOR, "create_grant", "ok")), default=-1)  # one made it
    if not any(e.seq > granted for e in _entries(lab, NIGHTLY, "decrypt_data_aes", "ok")):
        return (
            f"the audit log shows no decryption by {NIGHTLY!r} since {OPERATOR} granted it: as {NIGHTLY} (its own "
            "view), decrypt the ledger with associated_data='payments'."
        )
    return None


q4 = Exercise(
    4,
    "break",
    f"`lab, ledger = grant_lab()` gives key {KEY!r}, whose policy lets {OPERATOR!r} only create, list and revoke "
    f"grants. (1) Break: as {OPERATOR}, grant yourself kms:Decrypt on {KEY!r}, as a KMS that checked only "
    "kms:CreateGrant would allow, and catch the refusal. (2) Close: the operator's one job is to let "
    f"{NIGHTLY!r} decrypt the ledger. As the owner, change the policy so that {OPERATOR} holds kms:Decrypt only "
    f"with associated data 'payments' (it can grant no more than it holds); as {OPERATOR}, grant {NIGHTLY!r} "
    f"exactly that; as {NIGHTLY}, decrypt `ledger`. Pass `lab`.",
    _check_q4,
    "Each principal is a view: lab.as_principal(lab.issue_credential(name)). operator.create_grant(key_id, grantee, "
    "[operations], associated_data=...). For the policy, start from lab.get_key_policy(...), append a statement, "
    "and lab.set_key_policy(...).",
    """lab, ledger = grant_lab()
operator = lab.as_principal(lab.issue_credential("batch-operator"))
try:
    operator.create_grant("payments", "batch-operator", ["kms:Decrypt"])
except AccessDeniedError as error:
    print("refused:", error)
policy = lab.get_key_policy("payments")
policy["Statement"].append({"Sid": "OperatorMayPassOnNightlyDecrypt", "Effect": "Allow",
                            "Principal": "batch-operator", "Action": "kms:Decrypt",
                            "Condition": {"StringEquals": {"kmslib:AssociatedData": "payments"}}})
lab.set_key_policy("payments", policy)
operator.create_grant("payments", "nightly-batch", ["kms:Decrypt"], associated_data="payments")
nightly = lab.as_principal(lab.issue_credential("nightly-batch"))
print(nightly.decrypt_data_aes("payments", ledger, associated_data="payments"))
q4.check(lab)""",
)


# ---------------------------------------------------------------- q5: dual control

PROD = "prod-payments"


def _dual_control() -> dict[str, Any]:
    return separated_duties(
        administrators=["bob", "carol"], users="checkout", associated_data="orders", approvals_to_revoke=1
    )


def production() -> KeyCustodian:
    """A fresh custodian for exercise 5: key 'prod-payments', whose revocation needs one approval (bob and carol)."""
    prod = KeyCustodian(clock=classroom_clock())
    prod.establish_aes_key(PROD)
    prod.set_key_policy(PROD, _dual_control())
    _MADE_BY[prod] = "production()"
    return prod


def _spent(prod: KeyCustodian, approved: list[AuditEntry], approver: str) -> bool:
    """Whether an approval by ``approver`` may have let a call through: the log has more than pending requests hold.

    The audit log does not say which request an approval was for; a request that let its call through is no
    longer pending, so an approval still on a pending request let nothing through.
    """
    pending = prod._access._pending.values()  # the requests still waiting, with whose approvals
    unused = sum(1 for p in pending if p.key_id == PROD and approver in p.approvals)
    return sum(1 for e in approved if e.principal == approver) > unused


def _approval_problem(prod: KeyCustodian, approved: list[AuditEntry], revoked: int) -> str | None:
    """What is wrong with the approvals before bob's revocation (the entry at ``revoked``), or None."""
    approvers = {e.principal for e in approved if e.seq < revoked}
    if _spent(prod, approved, OWNER):
        return (
            "the approval came from owner (prod.approve), and the owner may do anything: its approval is no second "
            "person's. Start again from production(); carol approves bob's request."
        )
    if "carol" in approvers and not _spent(prod, approved, "carol"):
        return (
            "carol's approval is still on a pending request: bob's revocation did not go through it. The approved "
            "call is bob's own, the same one again (same key and arguments). Start again from production()."
        )
    if not approvers:
        return (
            "bob's revocation went through with no approval before it: was the policy changed meanwhile? Start again "
            "from production(); carol approves bob's request, and the policy stays as it is."
        )
    if "carol" not in approvers:
        return f"the approval came from {', '.join(sorted(approvers))}: the second person should be carol."
    return None


def _check_q5(kms: object) -> str | None:
    if (view := _not_a_view(kms, "prod")) is not None:
        return view
    prod = student_custodian(kms)
    if _MADE_BY.get(prod) != "production()" or PROD not in prod:
        return "pass the custodian that production() gave you (prod = production())."
    mine = [e for e in student_entries(prod) if e.key_id == PROD]
    revoked = [e for e in mine if e.operation == "invalidate_key" and e.outcome == "ok" and e.version is None]
    asked = [e for e in mine if e.operation == "invalidate_key" and e.outcome == "ApprovalRequiredError"]
    approved = [e for e in mine if e.operation == "approve" and e.outcome == "ok"]
    if revoked and revoked[0].principal != "bob":
        who = revoked[0].principal
        if who == "owner":
            return (
                "the owner revoked it, and the owner may do anything: dual control is for the principals. "
                "Start again from production(); bob asks, carol approves."
            )
        return f"{who!r} revoked it: the task has bob ask and carol approve. Start again from production()."
    if prod.get_key_policy(PROD) != _dual_control():  # a change undone is judged by whose approval was spent
        who = [e.principal for e in mine if e.operation == "set_key_policy" and e.outcome == "ok"][-1]
        return (
            f"the policy of {PROD!r} was changed (set_key_policy by {who!r}): dual control is judged under the "
            "policy production() set, which asks for an approval. Start again from production()."
        )
    if not any(e.principal == "bob" for e in asked):
        return "the audit log shows no revocation asked by bob: as bob (his own view), call invalidate_key."
    if prod.key_info(PROD).state != REVOKED or not revoked:
        versions = [e.version for e in mine if e.operation == "invalidate_key" and e.outcome == "ok" and e.version]
        if versions:
            return f"only version {versions[0]} was revoked: the whole key is being retired (no version=...)."
        if not any(e.principal == "carol" for e in approved):
            return "carol has not approved bob's request: as carol, approve(error.request_id)."
        return (
            "carol approved, and bob has not made the same call again: the request is bound to that exact call "
            "(the same key and arguments)."
        )
    return _approval_problem(prod, approved, revoked[0].seq)


q5 = Exercise(
    5,
    "apply",
    f"`prod = production()` gives key {PROD!r}; its policy lets bob and carol revoke it only with one approval from "
    "the other. The key is being retired: as bob, ask to revoke it (the ApprovalRequiredError names the request); "
    "as carol, approve it; as bob, make the same call again. Pass `prod`.",
    _check_q5,
    "Catch the error: except ApprovalRequiredError as error, then carol.approve(error.request_id). The approved call "
    "is the same one: same key, same arguments.",
    """prod = production()
bob = prod.as_principal(prod.issue_credential("bob"))
carol = prod.as_principal(prod.issue_credential("carol"))
try:
    bob.invalidate_key("prod-payments", reason="retired: payments moved to a new key")
except ApprovalRequiredError as error:
    carol.approve(error.request_id)
bob.invalidate_key("prod-payments", reason="retired: payments moved to a new key")
q5.check(prod)""",
)


# ---------------------------------------------------------------- the quiz

quiz = Quiz(
    Question(
        "A key policy has an Allow for alice on kms:Decrypt and, further down, a Deny for every principal on "
        "kms:Decrypt. May alice decrypt?",
        {"a": "Yes: the Allow comes first", "b": "No: an explicit Deny wins wherever it is", "c": "Only with a grant"},
        "b",
        "AWS's policy evaluation logic, which kmslib follows: an applicable explicit Deny wins over every Allow, and "
        "the order of statements does not matter; a grant only allows, so the Deny overrides it too.",
    ),
    Question(
        "A policy names only bob. What happens when alice asks to encrypt?",
        {"a": "Allowed: nothing forbids it", "b": "Denied: nothing allows it (the implicit deny)", "c": "An error"},
        "b",
        "Access is denied by default: a request that no Allow statement covers is denied. kmslib gives the same "
        "AccessDeniedError whether or not the key exists.",
    ),
    Question(
        "Why may a key administrator not decrypt, in the course's policy template?",
        {
            "a": "Separation of duties: who manages a key does not also use it",
            "b": "Decryption is slower for administrators",
            "c": "AWS KMS forbids it for every key",
        },
        "a",
        "Separation of duties: no one principal both manages a key and reads what it protects. The AWS KMS console's "
        "default key policy has one statement for key administrators and another for key users; a policy may give one "
        "principal both, and it is the policy's author who keeps them apart (the template's explicit Deny does).",
    ),
    Question(
        "A principal holds only kms:CreateGrant on a key. In kmslib, can it give itself kms:Decrypt by a grant?",
        {
            "a": "Yes: CreateGrant is enough",
            "b": "No: a grant never gives more than its creator holds",
            "c": "Yes, if it names itself as the grantee",
        },
        "b",
        "kmslib refuses the grant with AccessDeniedError and records the refusal under the principal's name. In AWS "
        "KMS, the condition keys kms:GrantOperations and kms:GranteePrincipal limit what a CreateGrant permission "
        "may give.",
    ),
)
