"""Lesson 09 (access control): every checker judges outcomes, and its picture follows the policy.

Each exercise: the published solution passes, two other correct answers pass, lazy or confused wrong answers
are refused with a message that says where to look (no Python internals), checking again gives the same
verdict, and answers of odd types get plain words.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from test_lessons import right, run_solution, same_twice, wrong

from kmslib import AccessDeniedError, ApprovalRequiredError, KeyCustodian
from kmslib.course import lesson09
from kmslib.course.lesson09 import (
    OVERBROAD_POLICY,
    RECALL_POLICY,
    grant_lab,
    production,
    q1,
    q2,
    q3,
    q4,
    q5,
)
from kmslib.policy import ACTIONS, Request, parse_policy, separated_duties

NAMES = {"AccessDeniedError": AccessDeniedError, "ApprovalRequiredError": ApprovalRequiredError}


def solution(exercise: Any, **names: Any) -> dict[str, Any]:
    return run_solution(lesson09, exercise, **NAMES, **names)


ODD: tuple[object, ...] = (None, [], {}, 10**6, "x", b"x", ["a", "b"], object(), True, 2.5, KeyCustodian())


@pytest.mark.parametrize("exercise", [q1, q2, q3, q4, q5], ids=["q1", "q2", "q3", "q4", "q5"])
def test_odd_answers_get_plain_words(exercise: Any) -> None:
    import inspect

    count = len(inspect.signature(exercise._checker).parameters)
    for value in ODD:
        for answer in ((value,) * count, (value, *(["x"] * (count - 1)))):
            ok, said = same_twice(exercise, *answer)
            assert not ok, (answer, said)
    ok, said = same_twice(exercise, *(["x"] * (count + 1)))
    assert not ok
    assert f"takes {count}" in said


@pytest.mark.parametrize("exercise", [q4, q5], ids=["q4", "q5"])
def test_a_closed_or_throwaway_custodian_is_named(exercise: Any) -> None:
    closed = KeyCustodian()
    closed.close()
    wrong(exercise, closed, because="closed")
    wrong(exercise, "lab", because="pass your KeyCustodian")
    wrong(exercise, KeyCustodian(), because="gave you")


# ---------------------------------------------------------------- the template


def test_the_template_separates_duties_and_its_deny_beats_a_grant() -> None:
    policy = parse_policy(separated_duties(administrators=["bob"], users=["alice"], associated_data="payments"))
    for action in ACTIONS:
        assert not (policy.decide("bob", action, b"payments").allowed and policy.decide("alice", action).allowed)
    assert policy.decide("alice", "kms:Decrypt", b"payments").allowed
    assert not policy.decide("alice", "kms:Decrypt", b"refunds").allowed
    assert not policy.decide("alice", "kms:RotateKey").allowed
    assert policy.decide("bob", "kms:RotateKey").allowed
    assert policy.decide("bob", "kms:Decrypt", b"payments").reason == "explicit-deny"
    kms = KeyCustodian()
    kms.establish_aes_key("payments")
    kms.set_key_policy(
        "payments", separated_duties(administrators=["bob"], users=["alice"], associated_data="payments")
    )
    kms.create_grant("payments", "bob", ["kms:Decrypt"])  # even the owner's grant: the Deny wins
    bob = kms.as_principal(kms.issue_credential("bob"))
    with pytest.raises(AccessDeniedError):
        bob.decrypt_data_aes("payments", kms.encrypt_data_aes("payments", "x"))


def test_the_template_with_approvals_makes_revocation_need_them() -> None:
    policy = parse_policy(
        separated_duties(
            administrators=["bob", "carol"], users=["alice"], associated_data="payments", approvals_to_revoke=1
        )
    )
    decision = policy.decide("bob", "kms:RevokeKey")
    assert not decision.allowed
    assert decision.approvals_required == 1
    assert policy.decide("bob", "kms:RotateKey").allowed


# ---------------------------------------------------------------- q1


def test_q1_the_solution_and_other_correct_answers_pass() -> None:
    namespace = solution(q1)
    assert namespace  # the solution ran its own check; check it again here
    right(q1, "BobMovedTeams", None, "KeyAdmins")
    right(q1, 2, None, 1)  # indices
    right(q1, " bobmovedteams ", "implicit deny", "KeyAdmins")  # case, spaces, and the words for no statement
    right(q1, "2", "none", "1")  # indices typed as text
    assert RECALL_POLICY["Statement"][2]["Effect"] == "Deny"


def test_q1_refuses_first_match_the_same_answer_thrice_and_a_condition_overlooked() -> None:
    wrong(q1, "PaymentUsers", None, "KeyAdmins", because="An explicit Deny wins over an Allow")
    wrong(q1, "KeyAdmins", "KeyAdmins", "KeyAdmins", because="the same answer three times")
    wrong(q1, "BobMovedTeams", "PaymentUsers", "KeyAdmins", because="its Condition included")
    wrong(q1, "BobMovedTeams", None, None, because="a statement does apply")
    wrong(q1, "BobMovedTeams", None, "PaymentUsers", because="does not apply to it")
    wrong(q1, "Deny", None, "KeyAdmins", because="no statement has the Sid 'Deny'")
    wrong(q1, 7, None, 1, because="the indices are 0 to 2")
    wrong(q1, True, None, 1, because="names no statement")


# ---------------------------------------------------------------- q2


def payments_policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Statement": list(statements)}


SERVICE = {
    "Effect": "Allow",
    "Principal": "payments-svc",
    "Action": ["kms:Encrypt", "kms:Decrypt"],
    "Condition": {"StringEquals": {"kmslib:AssociatedData": "payments"}},
}
SECOPS = {"Effect": "Allow", "Principal": "secops", "Action": ["kms:RotateKey", "kms:RevokeKey", "kms:PutKeyPolicy"]}


def test_q2_the_solution_and_other_correct_answers_pass() -> None:
    right(q2, solution(q2)["payments_policy"])
    split = payments_policy(  # one statement per action, the data as a one-item list, no Version, no Sid
        *[
            {**SERVICE, "Action": action, "Condition": {"StringEquals": {"kmslib:AssociatedData": ["payments"]}}}
            for action in ("kms:Encrypt", "kms:Decrypt")
        ],
        *[{**SECOPS, "Action": action} for action in SECOPS["Action"]],
    )
    right(q2, split)
    belt_and_braces = payments_policy(  # an explicit Deny that changes no outcome
        SERVICE, SECOPS, {"Effect": "Deny", "Principal": "secops", "Action": ["kms:Encrypt", "kms:Decrypt"]}
    )
    right(q2, belt_and_braces)


def test_q2_refuses_broad_and_confused_policies_by_what_they_allow() -> None:
    wrong(q2, payments_policy({**SERVICE, "Action": "kms:*"}, SECOPS), because="does nothing else")
    no_condition = {k: v for k, v in SERVICE.items() if k != "Condition"}
    wrong(q2, payments_policy(no_condition, SECOPS), because="Add a Condition")
    wrong(q2, payments_policy(SERVICE, {**SECOPS, "Action": "kms:*"}), because="separation of duties")
    wrong(q2, payments_policy({**SERVICE, "Principal": "*"}, SECOPS), because="a Principal of '*'")
    wrong(q2, payments_policy(SERVICE), because="the administrator must rotate")
    with_data = {**SECOPS, "Condition": SERVICE["Condition"]}  # the administrator's calls carry no data
    wrong(q2, payments_policy(SERVICE, with_data), because="never matches these calls")
    swapped = payments_policy({**SERVICE, "Principal": "secops"}, {**SECOPS, "Principal": "payments-svc"})
    wrong(q2, swapped, because="'payments-svc' asking kms:Encrypt with associated data 'payments' is denied")
    typo = payments_policy({**SERVICE, "Condition": {"StringEquals": {"kmslib:AssociatedData": "payment"}}}, SECOPS)
    wrong(q2, typo, because="is denied")
    describe = payments_policy(SERVICE, {**SECOPS, "Action": [*SECOPS["Action"], "kms:DescribeKey"]})
    wrong(q2, describe, because="three actions and nothing else")
    wrong(q2, payments_policy({**SERVICE, "Action": ["kms:Encrypt", "kms:Decrypt", "kms:Launch"]}), because="unknown")
    wrong(q2, {}, because="kmslib refuses policy")
    wrong(q2, '{"Statement": []}', because="should be a dict")
    wrong(q2, q2.solution_code, because="should be a dict")


# ---------------------------------------------------------------- q3


def fixed_with(action: object) -> dict[str, Any]:
    fixed = copy.deepcopy(OVERBROAD_POLICY)
    fixed["Statement"][3]["Action"] = action
    return fixed


def test_q3_the_solution_and_other_correct_answers_pass() -> None:
    right(q3, "Backup", solution(q3)["fixed"])
    right(q3, 3, fixed_with(["kms:ReEncrypt"]))
    rebuilt = copy.deepcopy(OVERBROAD_POLICY)  # the statement removed, and a new one at the end
    del rebuilt["Statement"][3]
    rebuilt["Statement"].append({"Sid": "BackupReEncrypt", "Effect": "Allow", "Principal": "backup",
                                 "Action": "kms:ReEncrypt"})  # fmt: skip
    right(q3, "backup", rebuilt)


def test_q3_refuses_the_decoy_the_unchanged_policy_and_a_fix_that_goes_too_far() -> None:
    wrong(q3, "Describe", fixed_with("kms:ReEncrypt"), because="its purpose is just that")
    wrong(q3, 2, fixed_with("kms:ReEncrypt"), because="its purpose is just that")
    wrong(q3, "Admins", fixed_with("kms:ReEncrypt"), because="allows what its purpose says")
    wrong(q3, None, fixed_with("kms:ReEncrypt"), because="name it by its Sid")
    wrong(q3, "Backup", OVERBROAD_POLICY, because="still allowed")
    wrong(q3, "Backup", fixed_with(["kms:ReEncrypt", "kms:Decrypt"]), because="'backup' asking kms:Decrypt")
    removed = copy.deepcopy(OVERBROAD_POLICY)
    del removed["Statement"][3]
    wrong(q3, "Backup", removed, because="'backup' asking kms:ReEncrypt")
    narrowed = fixed_with("kms:ReEncrypt")
    narrowed["Statement"][2]["Principal"] = ["checkout", "reporting"]  # a statement that was right, changed too
    wrong(q3, "Backup", narrowed, because="change only the over-broad statement")
    wrong(q3, "Backup", fixed_with("kms:ReEncrypts"), because="unknown action")
    wrong(q3, "Backup", "kms:ReEncrypt", because="should be a dict")
    assert OVERBROAD_POLICY["Statement"][3]["Action"] == "kms:*"  # the checks changed nothing


# ---------------------------------------------------------------- q4

PAYMENTS = {"StringEquals": {"kmslib:AssociatedData": "payments"}}


def view(lab: KeyCustodian, name: str) -> KeyCustodian:
    return lab.as_principal(lab.issue_credential(name))


def try_escalation(operator: KeyCustodian, operations: list[str] | None = None) -> None:
    with pytest.raises(AccessDeniedError):
        operator.create_grant("payments", "batch-operator", operations or ["kms:Decrypt"])


def operator_holds(lab: KeyCustodian, statement: dict[str, Any]) -> None:
    policy = lab.get_key_policy("payments")
    assert policy is not None
    policy["Statement"].append(statement)
    lab.set_key_policy("payments", policy)


NARROW = {"Effect": "Allow", "Principal": "batch-operator", "Action": "kms:Decrypt", "Condition": PAYMENTS}


def test_q4_the_solution_and_other_correct_answers_pass() -> None:
    namespace = solution(q4)
    right(q4, namespace["lab"])
    lab, ledger = grant_lab()  # the escalation tried as a grant to an accomplice; the data as bytes; a list
    operator = view(lab, "batch-operator")
    with pytest.raises(AccessDeniedError):
        operator.create_grant("payments", "accomplice", ["kms:Decrypt", "kms:Encrypt"])
    operator_holds(lab, {**NARROW, "Action": ["kms:Decrypt"], "Sid": "Nightly"})
    operator.create_grant("payments", "nightly-batch", ("kms:Decrypt",), associated_data=b"payments")  # type: ignore[arg-type]
    assert view(lab, "nightly-batch").decrypt_data_aes("payments", ledger, associated_data=b"payments")
    right(q4, lab)
    lab, ledger = grant_lab()  # the policy changed first, then the escalation tried for any data; a wrong grant
    operator_holds(lab, NARROW)  # made and revoked before the right one
    operator = view(lab, "batch-operator")
    try_escalation(operator)
    first = operator.create_grant(
        "payments", "nightly-batch", ["kms:Decrypt", "kms:CreateGrant"], associated_data="payments"
    )
    operator.revoke_grant(first)
    operator.create_grant("payments", "nightly-batch", ["kms:Decrypt"], associated_data="payments")
    view(lab, "nightly-batch").decrypt_data_aes("payments", ledger, associated_data="payments")
    right(q4, lab)


def test_q4_refuses_each_missing_or_wrong_step() -> None:
    lab, ledger = grant_lab()
    wrong(q4, lab, because="no create_grant refused to 'batch-operator'")
    with pytest.raises(AccessDeniedError):  # another principal refused is not the operator's escalation
        view(lab, "someone").create_grant("payments", "someone", ["kms:Decrypt"])
    wrong(q4, lab, because="no create_grant refused to 'batch-operator'")
    operator = view(lab, "batch-operator")
    try_escalation(operator)
    wrong(q4, lab, because="does not hold kms:Decrypt with associated data 'payments'")
    escalated = lab.create_grant("payments", "batch-operator", ["kms:Decrypt"])  # the owner does the escalation
    wrong(q4, lab, because="needs no grant of its own")
    lab.revoke_grant(escalated)
    operator_holds(lab, {k: v for k, v in NARROW.items() if k != "Condition"})  # Decrypt for any data
    wrong(q4, lab, because="may kms:Decrypt with no associated data")

    lab, ledger = grant_lab()
    try_escalation(view(lab, "batch-operator"))
    operator_holds(
        lab, {"Effect": "Allow", "Principal": "nightly-batch", "Action": "kms:Decrypt", "Condition": PAYMENTS}
    )
    wrong(q4, lab, because="give it a grant instead")

    lab, ledger = grant_lab()
    operator = view(lab, "batch-operator")
    try_escalation(operator)
    operator_holds(lab, NARROW)
    wrong(q4, lab, because="there is no grant for 'nightly-batch'")
    lab.create_grant("payments", "nightly-batch", ["kms:Decrypt"], associated_data="payments")  # by the owner
    wrong(q4, lab, because="was made by 'owner'")

    lab, ledger = grant_lab()
    operator = view(lab, "batch-operator")
    try_escalation(operator)
    operator_holds(lab, NARROW)
    operator.create_grant("payments", "nightly-batch", ["kms:Decrypt", "kms:CreateGrant"], associated_data="payments")
    wrong(q4, lab, because="could pass it on")

    lab, ledger = grant_lab()
    operator = view(lab, "batch-operator")
    try_escalation(operator)
    operator_holds(lab, NARROW)
    operator.create_grant("payments", "nightly-batch", ["kms:Decrypt"], associated_data="payments")
    wrong(q4, lab, because="no decryption by 'nightly-batch'")
    nightly = view(lab, "nightly-batch")
    with pytest.raises(AccessDeniedError):
        nightly.decrypt_data_aes("payments", ledger)  # without the associated data: refused, and not enough
    wrong(q4, lab, because="no decryption by 'nightly-batch'")
    nightly.decrypt_data_aes("payments", ledger, associated_data="payments")
    right(q4, lab)
    svc = copy.deepcopy(lab.get_key_policy("payments"))
    assert svc is not None
    del svc["Statement"][0]  # the payments service's statement lost on the way
    lab.set_key_policy("payments", svc)
    wrong(q4, lab, because="no longer lets 'payments-svc'")


# ---------------------------------------------------------------- q5


def test_q5_the_solution_and_other_correct_answers_pass() -> None:
    right(q5, solution(q5)["prod"])
    prod = production()  # no reason given; bob retries while pending first (the same request)
    bob, carol = view(prod, "bob"), view(prod, "carol")
    ids = set()
    for _ in range(2):
        try:
            bob.invalidate_key("prod-payments")
        except ApprovalRequiredError as error:
            ids.add(error.request_id)
    assert len(ids) == 1
    carol.approve(ids.pop())
    bob.invalidate_key("prod-payments")
    right(q5, prod)
    prod = production()  # carol's view made first; bob asks with other arguments once, then the right way
    carol, bob = view(prod, "carol"), view(prod, "bob")
    with pytest.raises(ApprovalRequiredError):
        bob.invalidate_key("prod-payments", reason="a first try")
    try:
        bob.invalidate_key("prod-payments", reason="retired")
    except ApprovalRequiredError as error:
        carol.approve(error.request_id)
    bob.invalidate_key("prod-payments", reason="retired")
    right(q5, prod)


def test_q5_refuses_the_owner_swapped_roles_and_missing_steps() -> None:
    prod = production()
    wrong(q5, prod, because="no revocation asked by bob")
    prod.invalidate_key("prod-payments", reason="retired")
    wrong(q5, prod, because="the owner revoked it")

    prod = production()
    bob, carol = view(prod, "bob"), view(prod, "carol")
    try:
        carol.invalidate_key("prod-payments")
    except ApprovalRequiredError as error:
        bob.approve(error.request_id)
    carol.invalidate_key("prod-payments")
    wrong(q5, prod, because="'carol' revoked it")

    prod = production()
    bob, carol = view(prod, "bob"), view(prod, "carol")
    try:
        bob.invalidate_key("prod-payments", reason="retired")
    except ApprovalRequiredError as error:
        request = error.request_id
    wrong(q5, prod, because="carol has not approved")
    with pytest.raises(AccessDeniedError):
        bob.approve(request)  # his own request
    wrong(q5, prod, because="carol has not approved")
    carol.approve(request)
    wrong(q5, prod, because="bob has not made the same call again")
    with pytest.raises(ApprovalRequiredError):
        bob.invalidate_key("prod-payments", reason="other words")  # another call: another request
    wrong(q5, prod, because="the same call again")
    bob.invalidate_key("prod-payments", reason="retired")
    right(q5, prod)

    prod = production()
    bob = view(prod, "bob")
    try:
        bob.invalidate_key("prod-payments")
    except ApprovalRequiredError as error:
        prod.approve(error.request_id)  # the owner approves
    bob.invalidate_key("prod-payments")
    wrong(q5, prod, because="the approval came from owner")


# ---------------------------------------------------------------- the quiz


def test_the_quiz_has_one_right_answer_each() -> None:
    quiz = lesson09.quiz
    for number, question in enumerate(quiz.questions, 1):
        assert quiz.answer(number, question.answer)
        assert all(not quiz.answer(number, other) for other in question.choices if other != question.answer)


def test_q4_names_the_pair_grant_lab_returns() -> None:
    wrong(q4, grant_lab(), because="the first of the two values")


# ---------------------------------------------------------------- the picture


def test_the_policy_matrix_draws_each_decision_of_the_policy_and_its_statement() -> None:
    from kmslib.course import pictures

    document = separated_duties(
        administrators=["bob", "carol"], users=["alice"], associated_data="payments", approvals_to_revoke=1
    )
    policy = parse_policy(document)
    principals = ["alice", "bob", "mallory"]
    actions = ["kms:Encrypt", "kms:Decrypt", "kms:RotateKey", "kms:RevokeKey", "kms:CreateGrant"]
    for data in ("payments", "refunds"):
        figure = pictures.policy_matrix(document, principals, actions, associated_data=data)
        ax = figure.axes[0]
        drawn = {str(t.get_gid()): t.get_text() for t in ax.texts if t.get_gid()}
        cells = {str(p.get_gid()) for p in ax.patches if p.get_gid()}
        assert set(drawn) == cells == {f"{p}|{a}" for p in principals for a in actions}
        for principal in principals:
            for action in actions:
                asked = data.encode() if action in {"kms:Encrypt", "kms:Decrypt"} else None
                decision = policy.evaluate(Request(principal, action, asked))
                words = drawn[f"{principal}|{action}"]
                if decision.allowed:
                    assert words.startswith("✓ allow"), words
                    assert str(decision.sid) in words, words
                elif decision.reason == "explicit-deny":
                    assert words.startswith("✗ Deny"), words
                    assert str(decision.sid) in words, words
                elif decision.approvals_required:
                    assert f"once {decision.approvals_required} other" in words, words
                else:
                    assert "implicit deny" in words, words
    shown = {
        t.get_text()
        for t in pictures.policy_matrix(document, principals, actions, associated_data="payments").axes[0].texts
    }
    assert any("KeyUsers" in words for words in shown)  # alice encrypts with 'payments'
    refunds = {
        t.get_gid(): t.get_text()
        for t in pictures.policy_matrix(document, principals, actions, associated_data="refunds").axes[0].texts
    }
    assert "implicit deny" in refunds["alice|kms:Encrypt"]  # the condition is asked, not assumed
    assert "AdministratorsNeverUse" in refunds["bob|kms:Decrypt"]
    assert "once 1 other" in refunds["bob|kms:RevokeKey"]


def test_q5_a_version_revoked_alone_is_not_the_key() -> None:
    prod = production()
    prod.rotate_key("prod-payments")  # version 1 may then be revoked alone
    bob, carol = view(prod, "bob"), view(prod, "carol")
    try:
        bob.invalidate_key("prod-payments", version=1)
    except ApprovalRequiredError as error:
        carol.approve(error.request_id)
    bob.invalidate_key("prod-payments", version=1)
    wrong(q5, prod, because="only version 1 was revoked")


def test_q4_and_q5_name_a_principals_view_passed_for_the_custodian() -> None:
    lab, _ = grant_lab()
    wrong(q4, view(lab, "batch-operator"), because="that is batch-operator's view")
    prod = production()
    wrong(q5, view(prod, "bob"), because="pass prod, the owner's custodian")


def test_q4_a_grant_the_operator_made_itself_once_it_held_decrypt_is_named() -> None:
    lab, _ = grant_lab()
    operator = view(lab, "batch-operator")
    operator_holds(lab, NARROW)
    try_escalation(operator)  # for any data: refused, as it holds Decrypt only for "payments"
    operator.create_grant("payments", "batch-operator", ["kms:Decrypt"], associated_data="payments")
    wrong(q4, lab, because="made by 'batch-operator' gives 'batch-operator'")


def test_a_policy_can_ask_approvals_for_rewriting_the_policy_too_as_the_lesson_says() -> None:
    kms = KeyCustodian()
    kms.establish_aes_key("payments")
    document = separated_duties(administrators=["bob", "carol"], users=["alice"], associated_data="payments")
    admins = document["Statement"][0]
    admins["Action"].remove("kms:PutKeyPolicy")
    document["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": ["bob", "carol"],
            "Action": "kms:PutKeyPolicy",
            "Condition": {"NumericGreaterThanEquals": {"kmslib:Approvals": 1}},
        }
    )
    kms.set_key_policy("payments", document)
    bob, carol = view(kms, "bob"), view(kms, "carol")
    rewritten = separated_duties(
        administrators=["carol"], users=["alice", "bob"], associated_data="payments"
    )  # bob giving himself a use
    with pytest.raises(ApprovalRequiredError) as raised:
        bob.set_key_policy("payments", rewritten)
    assert kms.get_key_policy("payments") == document
    carol.approve(raised.value.request_id)
    bob.set_key_policy("payments", rewritten)
    assert kms.get_key_policy("payments") == rewritten
    assert [e.principal for e in kms.audit_log if e.operation == "set_key_policy"][-2:] == ["bob", "bob"]
