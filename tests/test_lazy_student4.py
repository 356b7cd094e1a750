"""A lazy, confused or cheating student against lesson 09's checked exercises (access control).

Each test is a wrong answer some checker once accepted, or an answer it crashed on: a policy right only for
the principals and associated data the checker happened to ask about, a grant handed to someone the task never
names, a decryption made before the grant it should show, the owner's approval spent where carol's should be,
the policy loosened so that no approval was needed.
"""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any

import pytest
from test_lazy_student import AlwaysEqual, InRange
from test_lazy_student2 import accepted, refused

from helpers import view
from kmslib import AccessDeniedError, ApprovalRequiredError, KeyCustodian
from kmslib.course.lesson09 import OVERBROAD_POLICY, RECALL_POLICY, grant_lab, production, q1, q2, q3, q4, q5
from kmslib.policy import separated_duties

PAYMENTS = {"StringEquals": {"kmslib:AssociatedData": "payments"}}
SERVICE = {
    "Effect": "Allow",
    "Principal": "payments-svc",
    "Action": ["kms:Encrypt", "kms:Decrypt"],
    "Condition": PAYMENTS,
}
SECOPS = {"Effect": "Allow", "Principal": "secops", "Action": ["kms:RotateKey", "kms:RevokeKey", "kms:PutKeyPolicy"]}
MALLORY = {"Effect": "Allow", "Principal": "mallory", "Action": "kms:*"}


def data(*values: str) -> dict[str, Any]:
    return {"StringEquals": {"kmslib:AssociatedData": list(values)}}


# ---------------------------------------------------------------- q1: indices judged by their value


def test_q1_an_index_that_lies_about_its_range_gets_words_not_a_crash() -> None:
    refused(q1, "BobMovedTeams", InRange(7), "KeyAdmins", because="the indices are 0 to 2")
    refused(q1, AlwaysEqual(0), None, 1, because="An explicit Deny wins")
    accepted(q1, InRange(2), None, AlwaysEqual(1))  # the right values, whatever their comparisons say


def test_q1_an_index_too_long_to_print_gets_words_not_a_crash() -> None:
    refused(q1, 10**5000, None, 1, because="the indices are 0 to 2")
    refused(q1, -(10**5000), None, 1, because="the indices are 0 to 2")


# ---------------------------------------------------------------- q2: a policy right only where the checker looks


def test_q2_associated_data_the_checker_never_tried_is_asked_too() -> None:
    also_orders = {**SERVICE, "Condition": data("payments", "orders")}
    refused(q2, {"Statement": [also_orders, SECOPS]}, because="with associated data 'orders' is allowed")
    accepted(q2, {"Statement": [{**SERVICE, "Condition": data("payments")}, SECOPS]})


def test_q2_a_principal_the_checker_never_tried_is_asked_too() -> None:
    refused(q2, {"Statement": [SERVICE, SECOPS, MALLORY]}, because="allow only the two the task names")
    denied = {"Effect": "Deny", "Principal": "mallory", "Action": "kms:*"}  # naming someone to deny is fine
    accepted(q2, {"Statement": [SERVICE, SECOPS, denied]})


def test_q2_a_policy_naming_a_crowd_gets_words_not_a_long_wait() -> None:
    crowd = {"Effect": "Deny", "Principal": [f"user-{n}" for n in range(100)], "Action": "kms:*"}
    refused(q2, {"Statement": [SERVICE, SECOPS, crowd]}, because="Name only the principals and data it asks for")
    values = {**SERVICE, "Effect": "Deny", "Condition": data(*[f"v{n}" for n in range(100)])}
    refused(q2, {"Statement": [SERVICE, SECOPS, values]}, because="Name only the principals and data it asks for")


# ---------------------------------------------------------------- q3: a fix that drops what the checker never asked


def fixed(*more: dict[str, Any], drop: tuple[int, ...] = ()) -> dict[str, Any]:
    policy = copy.deepcopy(OVERBROAD_POLICY)
    policy["Statement"][3]["Action"] = "kms:ReEncrypt"
    policy["Statement"] = [s for i, s in enumerate(policy["Statement"]) if i not in drop] + list(more)
    return policy


def test_q3_a_fix_that_drops_the_orders_statements_is_refused() -> None:
    refused(q3, "Backup", fixed(drop=(0, 1)), because="'checkout' asking kms:Encrypt with associated data 'orders'")
    reporting = fixed(drop=(1,))
    reporting["Statement"].insert(1, {**OVERBROAD_POLICY["Statement"][1], "Condition": data("orders", "refunds2")})
    refused(q3, "Backup", reporting, because="associated data 'refunds2' is still allowed")
    accepted(q3, "Backup", fixed())


def test_q3_a_fix_that_lets_in_someone_new_is_refused() -> None:
    refused(q3, "Backup", fixed(MALLORY), because="'mallory' asking kms:Encrypt")


# ---------------------------------------------------------------- q4: the narrow delegation, judged everywhere

NARROW = {"Effect": "Allow", "Principal": "batch-operator", "Action": "kms:Decrypt", "Condition": PAYMENTS}


def delegated(*statements: dict[str, Any]) -> tuple[KeyCustodian, str, KeyCustodian]:
    """grant_lab() worked through as the solution does, with ``statements`` added to the policy instead of NARROW."""
    lab, ledger = grant_lab()
    operator = view(lab, "batch-operator")
    with pytest.raises(AccessDeniedError):
        operator.create_grant("payments", "batch-operator", ["kms:Decrypt"])
    policy = lab.get_key_policy("payments")
    assert policy is not None
    policy["Statement"].extend(statements or [NARROW])
    lab.set_key_policy("payments", policy)
    operator.create_grant("payments", "nightly-batch", ["kms:Decrypt"], associated_data="payments")
    view(lab, "nightly-batch").decrypt_data_aes("payments", ledger, associated_data="payments")
    return lab, ledger, operator


def test_q4_a_policy_that_also_lets_in_someone_new_is_refused() -> None:
    lab, _, _ = delegated(NARROW, MALLORY)
    refused(q4, lab, because="'mallory' may kms:Encrypt")


def test_q4_an_operator_holding_decrypt_for_data_the_checker_never_tried_is_refused() -> None:
    lab, _, _ = delegated({**NARROW, "Condition": data("payments", "orders")})
    refused(q4, lab, because="may kms:Decrypt with associated data 'orders'")
    accepted(q4, delegated()[0])


def test_q4_a_grant_to_someone_the_task_never_names_is_refused() -> None:
    lab, _, operator = delegated()
    extra = operator.create_grant("payments", "accomplice", ["kms:Decrypt"], associated_data="payments")
    refused(q4, lab, because="gives 'accomplice' kms:Decrypt")
    operator.revoke_grant(extra)
    accepted(q4, lab)  # revoked: judged on what is left
    lab.create_grant("payments", "mallory", ["kms:Encrypt"])  # the owner's grant counts too
    refused(q4, lab, because="made by 'owner' gives 'mallory' kms:Encrypt")


def test_q4_a_decryption_made_before_the_operators_grant_does_not_show_it_works() -> None:
    lab, ledger = grant_lab()
    operator, nightly = view(lab, "batch-operator"), view(lab, "nightly-batch")
    with pytest.raises(AccessDeniedError):
        operator.create_grant("payments", "batch-operator", ["kms:Decrypt"])
    shortcut = lab.create_grant("payments", "nightly-batch", ["kms:Decrypt"], associated_data="payments")
    nightly.decrypt_data_aes("payments", ledger, associated_data="payments")  # under the owner's grant
    lab.revoke_grant(shortcut)
    policy = lab.get_key_policy("payments")
    assert policy is not None
    lab.set_key_policy("payments", {**policy, "Statement": [*policy["Statement"], NARROW]})
    operator.create_grant("payments", "nightly-batch", ["kms:Decrypt"], associated_data="payments")
    refused(q4, lab, because="no decryption by 'nightly-batch'")
    nightly.decrypt_data_aes("payments", ledger, associated_data="payments")  # now under the operator's grant
    accepted(q4, lab)


# ---------------------------------------------------------------- q5: dual control, judged on whose approval counted

PROD = "prod-payments"


def ask(bob: KeyCustodian, reason: str) -> str:
    with pytest.raises(ApprovalRequiredError) as raised:
        bob.invalidate_key(PROD, reason=reason)
    return raised.value.request_id


def test_q5_carols_approval_of_another_request_does_not_cover_the_owners() -> None:
    prod = production()
    bob, carol = view(prod, "bob"), view(prod, "carol")
    carol.approve(ask(bob, "a first try"))
    prod.approve(ask(bob, "retired"))  # the owner approves the call that then goes through
    bob.invalidate_key(PROD, reason="retired")
    refused(q5, prod, because="the approval came from owner")


def test_q5_a_policy_loosened_so_that_bob_needs_no_approval_is_refused() -> None:
    loose = separated_duties(administrators=["bob", "carol"], users="checkout", associated_data="orders")
    for who in ("owner", "bob"):  # the owner rewrites it, or bob does (an administrator holds kms:PutKeyPolicy)
        prod = production()
        bob, carol = view(prod, "bob"), view(prod, "carol")
        carol.approve(ask(bob, "a first try"))
        (prod if who == "owner" else bob).set_key_policy(PROD, loose)
        bob.invalidate_key(PROD, reason="retired")  # alone
        refused(q5, prod, because="the policy of 'prod-payments' was changed")
    prod = production()  # and with no approval at all: words, not an empty name
    bob = view(prod, "bob")
    ask(bob, "retired")
    prod.set_key_policy(PROD, loose)
    bob.invalidate_key(PROD, reason="retired")
    refused(q5, prod, because="the policy of 'prod-payments' was changed")


# ---------------------------------------------------------------- q2, q3, q4: an Allow that waits for approvals

WITH_APPROVAL = {
    "Effect": "Allow",
    "Principal": "*",
    "Action": "kms:*",
    "Condition": {"NumericGreaterThanEquals": {"kmslib:Approvals": 1}},
}


def test_an_allow_for_everyone_once_someone_approves_is_still_an_allow() -> None:
    refused(q2, {"Statement": [SERVICE, SECOPS, WITH_APPROVAL]}, because="kms:Encrypt with no associated data once")
    refused(q3, "Backup", fixed(WITH_APPROVAL), because="once others approve it is still allowed")
    lab, _, _ = delegated(NARROW, WITH_APPROVAL)
    refused(q4, lab, because="once others approve it")
    revoke = {**SECOPS, "Action": "kms:RevokeKey", "Condition": WITH_APPROVAL["Condition"]}
    accepted(q2, {"Statement": [SERVICE, SECOPS, revoke]})  # the same allow, also with approvals: nothing more


# ---------------------------------------------------------------- attempts that held


class Agreeable(str):
    """A Sid that says it equals every other."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    __hash__ = str.__hash__


class Lenient(dict):  # type: ignore[type-arg]
    """A policy that says it equals any other, and hands out 'kms:*' to whoever reads it with get."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = None

    def get(self, key: object, default: object = None) -> object:
        return "kms:*"


def test_held_odd_and_borrowed_answers() -> None:
    refused(q1, Agreeable("anything"), None, "KeyAdmins", because="no statement has the Sid")
    refused(q1, "KeyAdmins", "keyadmins", 1, because="request 1")  # one answer spelled three ways
    refused(q2, RECALL_POLICY, because="'alice' asking kms:Encrypt")  # the lesson's own policy
    refused(q2, Lenient({"Statement": [SERVICE]}), because="the administrator must rotate")  # judged as a plain dict
    refused(q2, {"Statement": [{**SERVICE, "Condition": [PAYMENTS]}, SECOPS]}, because="kmslib refuses policy")
    refused(q2, {"Statement": [SERVICE, SECOPS], "Version": float("nan")}, because="kmslib refuses policy")
    refused(q2, {"Statement": [SERVICE, SECOPS, {**MALLORY, "NotAction": "kms:Decrypt"}]}, because="NotAction")
    refused(q2, b'{"Statement": []}', because="should be a dict")
    refused(q3, "Backup", {**fixed(), "Statement": "kms:ReEncrypt"}, because="kmslib refuses fixed")
    refused(q4, production(), because="pass the custodian that grant_lab() gave you")
    refused(q5, grant_lab()[0], because="pass the custodian that production() gave you")
    lab, _ = grant_lab()  # the right grant to a look-alike grantee
    operator = view(lab, "batch-operator")
    with pytest.raises(AccessDeniedError):
        operator.create_grant("payments", "batch-operator", ["kms:Decrypt"])
    policy = lab.get_key_policy("payments")
    assert policy is not None
    lab.set_key_policy("payments", {**policy, "Statement": [*policy["Statement"], NARROW]})
    operator.create_grant("payments", "Nightly-Batch", ["kms:Decrypt"], associated_data="payments")
    refused(q4, lab, because="gives 'Nightly-Batch' kms:Decrypt")


# ---------------------------------------------------------------- the quiz


class Anything(str):
    """A letter that says it is every letter: hashes as 'a' (every question has one) and equals all."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return hash("a")

    def __str__(self) -> str:
        return self

    def strip(self, chars: str | None = None) -> str:
        return self

    def lower(self) -> str:
        return self


def test_the_quiz_judges_a_letter_by_its_value() -> None:
    from test_lessons import PYTHON_INTERNALS

    from kmslib.course.lesson09 import quiz

    for number, question in enumerate(quiz.questions, 1):
        wrong = next(letter for letter in question.choices if letter != question.answer)
        for choice in (Anything(wrong), Anything("z")):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                assert not quiz.answer(number, choice)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert not quiz.answer(InRange(99), question.answer)  # a number that says it is in range
        assert "There are questions 1 to" in out.getvalue()
        assert not any(words in out.getvalue() for words in PYTHON_INTERNALS)


def test_the_quiz_gives_words_for_a_number_too_long_to_print() -> None:
    from kmslib.course.lesson09 import quiz

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert not quiz.answer(1, 10**5000)
    assert "choose one of a, b, c" in out.getvalue()


def test_an_allow_at_exactly_one_approval_is_still_an_allow() -> None:
    # Allowed with one approval, denied with two or more: asking with none and with many misses it.
    window = [
        {**MALLORY, "Condition": {"NumericGreaterThanEquals": {"kmslib:Approvals": 1}}},
        {**MALLORY, "Effect": "Deny", "Condition": {"NumericGreaterThanEquals": {"kmslib:Approvals": 2}}},
    ]
    refused(q2, {"Statement": [SERVICE, SECOPS, *window]}, because="once others approve it")
    refused(q3, "Backup", fixed(*window), because="once others approve it")
    refused(q4, delegated(NARROW, *window)[0], because="once others approve it")


def test_everyone_but_the_principals_the_checker_asks_is_still_someone() -> None:
    everyone: dict[str, Any] = {"Effect": "Allow", "Principal": "*", "Action": "kms:DescribeKey"}
    asked = ["intern", "batch-operator", "payments-svc", "secops", "checkout", "reporting", "backup", "dana"]
    but: dict[str, Any] = {"Effect": "Deny", "Principal": [*asked, "nightly-batch"], "Action": "kms:DescribeKey"}
    refused(q2, {"Statement": [SERVICE, SECOPS, everyone, but]}, because="a Principal of '*' allows every principal")
    refused(q4, delegated(NARROW, everyone, but)[0], because="may kms:DescribeKey")
    public = [{**everyone, "Action": "kms:GetPublicKey"}, {**but, "Action": "kms:GetPublicKey"}]
    refused(q3, "Backup", fixed(*public), because="kms:GetPublicKey is still allowed")
    levels = [{**SECOPS, "Condition": {"NumericGreaterThanEquals": {"kmslib:Approvals": n}}} for n in range(1, 6)]
    refused(q2, {"Statement": [SERVICE, SECOPS, *levels]}, because="different numbers of approvals")


def test_q5_an_owners_approval_that_let_nothing_through_is_an_earlier_attempt() -> None:
    prod = production()
    bob, carol = view(prod, "bob"), view(prod, "carol")
    prod.approve(ask(bob, "a first try"))  # the owner approves: wrong, and then left unused
    carol.approve(ask(bob, "retired"))  # the retry, done right
    bob.invalidate_key(PROD, reason="retired")
    accepted(q5, prod)
    prod2 = production()  # and an owner's approval given afterwards does not hide one that was spent
    bob2, carol2 = view(prod2, "bob"), view(prod2, "carol")
    carol2.approve(ask(bob2, "a first try"))
    prod2.approve(ask(bob2, "retired"))
    bob2.invalidate_key(PROD, reason="retired")
    prod2.approve(ask(bob2, "afterwards"))
    refused(q5, prod2, because="the approval came from owner")


def test_q5_a_revocation_written_under_bobs_name_by_the_owner_is_not_bobs_approved_call() -> None:
    from kmslib.audit import ACTING

    prod = production()
    bob, carol = view(prod, "bob"), view(prod, "carol")
    carol.approve(ask(bob, "retired"))
    token = ACTING.set("bob")  # the owner's own call, recorded under bob's name
    try:
        prod.invalidate_key(PROD, reason="retired")
    finally:
        ACTING.reset(token)
    assert [e.principal for e in prod.audit_log if e.operation == "invalidate_key"][-1] == "bob"
    refused(q5, prod, because="carol's approval is still on a pending request")


def deep(levels: int) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    inner = nested
    for _ in range(levels):
        inner["Statement"] = {}
        inner = inner["Statement"]
    return nested


ODD_POLICIES = {
    "deep": deep(3000),
    "surrogate-principal": {"Statement": [{**SERVICE, "Principal": "\ud800"}]},
    "float-sid": {"Statement": [{**SERVICE, "Sid": 1.5}]},
    "nan-id": {"Statement": [SERVICE, SECOPS], "Id": float("nan")},
    "surrogate-data": {"Statement": [{**SERVICE, "Condition": data("\ud800")}]},
    "huge-key": {"x" * 10**6: 1},
    "bytearray": bytearray(b"{}"),
    "nan": float("nan"),
    "huge": 10**5000,
}


@pytest.mark.parametrize("odd", list(ODD_POLICIES.values()), ids=list(ODD_POLICIES))
def test_held_odd_policies_get_words_not_a_crash(odd: object) -> None:
    refused(q2, odd, because="not yet")
    refused(q3, "Backup", odd, because="not yet")


def test_q5_a_policy_set_again_as_it_was_then_the_task_done_right_passes() -> None:
    prod = production()
    policy = prod.get_key_policy(PROD)
    assert policy is not None
    prod.set_key_policy(PROD, policy)  # an earlier attempt that changed nothing
    bob, carol = view(prod, "bob"), view(prod, "carol")
    carol.approve(ask(bob, "retired"))
    bob.invalidate_key(PROD, reason="retired")
    accepted(q5, prod)


def test_q5_a_policy_loosened_for_the_revocation_then_restored_is_refused() -> None:
    loose = separated_duties(administrators=["bob", "carol"], users="checkout", associated_data="orders")
    for approve in (True, False):
        prod = production()
        bob, carol = view(prod, "bob"), view(prod, "carol")
        request = ask(bob, "retired")
        if approve:
            carol.approve(request)
        strict = prod.get_key_policy(PROD)
        assert strict is not None
        prod.set_key_policy(PROD, loose)
        bob.invalidate_key(PROD, reason="retired")  # allowed by the loose policy: no approval used
        prod.set_key_policy(PROD, strict)
        refused(q5, prod, because="carol's approval is still on a pending request" if approve else "with no approval")
