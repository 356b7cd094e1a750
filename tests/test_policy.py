"""Key policies (contract section 11): validation, limits and the decision, as a pure evaluator."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import allow, deny, policy
from kmslib import KeyCustodian
from kmslib.errors import ArgumentTypeError, InvalidInputError
from kmslib.policy import (
    ACTIONS,
    APPROVAL_METHODS,
    KEYLESS_METHODS,
    MAX_DEPTH,
    MAX_POLICY_BYTES,
    MAX_STATEMENTS,
    METHOD_ACTIONS,
    OWNER_ONLY_METHODS,
    Decision,
    Request,
    parse_policy,
)


def aad_is(*values: str) -> dict[str, object]:
    return {"StringEquals": {"kmslib:AssociatedData": list(values) if len(values) > 1 else values[0]}}


# ------------------------------------------------------------------ the action list


def test_every_custodian_method_is_mapped_to_one_action_or_reserved() -> None:
    public = {name for name in dir(KeyCustodian) if not name.startswith("_")}
    unmapped = public - set(METHOD_ACTIONS) - OWNER_ONLY_METHODS - KEYLESS_METHODS - APPROVAL_METHODS
    assert unmapped == set()
    assert not set(METHOD_ACTIONS) & OWNER_ONLY_METHODS
    assert set(ACTIONS) == set(METHOD_ACTIONS.values())


def test_the_brief_s_actions_are_all_in_the_list() -> None:
    for action in ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:Sign", "kms:Verify", "kms:RotateKey"):
        assert action in ACTIONS
    for action in ("kms:RevokeKey", "kms:PutKeyPolicy", "kms:GetKeyPolicy", "kms:CreateGrant", "kms:RevokeGrant"):
        assert action in ACTIONS
    assert "kms:DescribeKey" in ACTIONS


@pytest.mark.parametrize("action", ACTIONS)
def test_each_action_allowed_to_its_principal_only(action: str) -> None:
    compiled = parse_policy(policy(allow("alice", action)))
    assert compiled.evaluate(Request("alice", action)).allowed
    assert not compiled.evaluate(Request("bob", action)).allowed
    for other in ACTIONS:
        if other != action:
            assert not compiled.evaluate(Request("alice", other)).allowed


@pytest.mark.parametrize("action", ACTIONS)
def test_each_action_denied_beside_an_allow_of_everything(action: str) -> None:
    compiled = parse_policy(policy(allow("alice", "kms:*"), deny("alice", action)))
    decision = compiled.evaluate(Request("alice", action))
    assert decision == Decision(False, "explicit-deny", 1)
    for other in ACTIONS:
        if other != action:
            assert compiled.evaluate(Request("alice", other)) == Decision(True, "allow", 0)


# ------------------------------------------------------------------ decisions


def test_the_decision_names_the_deciding_statement_and_its_sid() -> None:
    compiled = parse_policy(
        policy(
            allow("bob", "kms:Sign", Sid="Signer"),
            allow(["alice", "bob"], ["kms:Encrypt", "kms:Decrypt"], Sid="Users"),
            deny("*", "kms:RevokeKey", Sid="NoRevoke"),
        )
    )
    assert compiled.evaluate(Request("alice", "kms:Encrypt")) == Decision(True, "allow", 1, "Users")
    assert compiled.evaluate(Request("bob", "kms:Sign")) == Decision(True, "allow", 0, "Signer")
    assert compiled.evaluate(Request("carol", "kms:RevokeKey")) == Decision(False, "explicit-deny", 2, "NoRevoke")
    assert compiled.evaluate(Request("carol", "kms:Encrypt")) == Decision(False, "implicit-deny")


def test_a_wildcard_principal_covers_everyone() -> None:
    compiled = parse_policy(policy(allow("*", "kms:Verify")))
    assert compiled.evaluate(Request("anyone", "kms:Verify")).allowed
    assert not compiled.evaluate(Request("anyone", "kms:Sign")).allowed


def test_an_associated_data_condition_matches_only_that_data() -> None:
    compiled = parse_policy(policy(allow("alice", "kms:Decrypt", Condition=aad_is("payments", "refunds"))))
    assert compiled.evaluate(Request("alice", "kms:Decrypt", b"payments")).allowed
    assert compiled.evaluate(Request("alice", "kms:Decrypt", b"refunds")).allowed
    for other in (b"Payments", b"payments ", b"", None, b"\xff"):
        assert compiled.evaluate(Request("alice", "kms:Decrypt", other)) == Decision(False, "implicit-deny")


def test_a_deny_on_associated_data_applies_only_when_it_matches() -> None:
    compiled = parse_policy(policy(allow("alice", "kms:Decrypt"), deny("alice", "kms:Decrypt", Condition=aad_is("hr"))))
    assert compiled.evaluate(Request("alice", "kms:Decrypt", b"hr")) == Decision(False, "explicit-deny", 1)
    assert compiled.evaluate(Request("alice", "kms:Decrypt", b"payments")).allowed
    assert compiled.evaluate(Request("alice", "kms:Decrypt")).allowed  # AWS: an absent key does not match


def test_an_approvals_condition_says_how_many_are_needed() -> None:
    two = {"NumericGreaterThanEquals": {"kmslib:Approvals": 2}}
    compiled = parse_policy(policy(allow("carol", "kms:RevokeKey", Condition=two, Sid="Dual")))
    assert compiled.evaluate(Request("carol", "kms:RevokeKey")) == Decision(
        False, "implicit-deny", approvals_required=2
    )
    assert compiled.evaluate(Request("carol", "kms:RevokeKey", approvals=1)).approvals_required == 2
    assert compiled.evaluate(Request("carol", "kms:RevokeKey", approvals=2)) == Decision(True, "allow", 0, "Dual")
    assert compiled.evaluate(Request("dave", "kms:RevokeKey")).approvals_required is None


def test_approvals_do_not_lift_an_explicit_deny() -> None:
    two = {"NumericGreaterThanEquals": {"kmslib:Approvals": 2}}
    compiled = parse_policy(policy(allow("carol", "kms:RevokeKey", Condition=two), deny("carol", "kms:RevokeKey")))
    assert compiled.evaluate(Request("carol", "kms:RevokeKey", approvals=5)) == Decision(False, "explicit-deny", 1)


# ------------------------------------------------------------------ properties

_PRINCIPALS = ["alice", "bob", "carol"]
_AAD = ["payments", "hr"]


@st.composite
def statements(draw: st.DrawFn) -> dict[str, object]:
    statement: dict[str, object] = {
        "Effect": draw(st.sampled_from(["Allow", "Deny"])),
        "Principal": draw(st.one_of(st.just("*"), st.lists(st.sampled_from(_PRINCIPALS), min_size=1, max_size=3))),
        "Action": draw(st.one_of(st.just("kms:*"), st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=4))),
    }
    condition: dict[str, object] = {}
    if draw(st.booleans()):
        condition["StringEquals"] = {"kmslib:AssociatedData": draw(st.sampled_from(_AAD))}
    if draw(st.booleans()):
        condition["NumericGreaterThanEquals"] = {"kmslib:Approvals": draw(st.integers(1, 3))}
    if condition:
        statement["Condition"] = condition
    return statement


requests = st.builds(
    Request,
    principal=st.sampled_from(_PRINCIPALS),
    action=st.sampled_from(ACTIONS),
    associated_data=st.one_of(st.none(), st.sampled_from([a.encode() for a in _AAD])),
    approvals=st.integers(0, 3),
)


@given(body=st.lists(statements(), min_size=1, max_size=8), request=requests)
def test_a_deny_for_everyone_and_everything_always_wins(body: list[dict[str, object]], request: Request) -> None:
    for position in (0, len(body)):
        with_deny = [*body[:position], deny("*", "kms:*"), *body[position:]]
        decision = parse_policy(policy(*with_deny)).evaluate(request)
        assert decision.allowed is False
        assert decision.reason == "explicit-deny"


@given(body=st.lists(statements(), min_size=1, max_size=8), request=requests)
def test_any_applicable_deny_wins_over_any_allow(body: list[dict[str, object]], request: Request) -> None:
    matching = deny(request.principal, request.action)
    decision = parse_policy(policy(*body, matching)).evaluate(request)
    assert not decision.allowed
    assert decision.statement is not None
    assert ([*body, matching][decision.statement])["Effect"] == "Deny"


@given(body=st.lists(statements(), min_size=1, max_size=8), request=requests)
def test_a_policy_with_no_statement_for_the_principal_denies(body: list[dict[str, object]], request: Request) -> None:
    others = [s for s in body if s["Principal"] != "*" and request.principal not in s["Principal"]]  # type: ignore[operator]
    if not others:
        others = [allow([p for p in _PRINCIPALS if p != request.principal], "kms:*")]
    assert parse_policy(policy(*others)).evaluate(request) == Decision(False, "implicit-deny", approvals_required=None)


@given(body=st.lists(statements(), min_size=1, max_size=8), request=requests, data=st.data())
def test_the_outcome_does_not_depend_on_statement_order(
    body: list[dict[str, object]], request: Request, data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(body))
    first = parse_policy(policy(*body)).evaluate(request)
    second = parse_policy(policy(*shuffled)).evaluate(request)
    assert (first.allowed, first.reason, first.approvals_required) == (
        second.allowed,
        second.reason,
        second.approvals_required,
    )
    if first.statement is not None:  # the deciding statement applies, with the deciding effect
        assert body[first.statement]["Effect"] == ("Allow" if first.allowed else "Deny")


@given(body=st.lists(statements(), min_size=1, max_size=8), request=requests)
def test_an_allow_decision_comes_from_an_allow_that_covers_the_request(
    body: list[dict[str, object]], request: Request
) -> None:
    decision = parse_policy(policy(*body)).evaluate(request)
    if decision.allowed:
        assert decision.statement is not None
        statement: dict[str, Any] = body[decision.statement]
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] == "*" or request.principal in statement["Principal"]
        assert statement["Action"] == "kms:*" or request.action in statement["Action"]


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ({}, "Statement must be a non-empty list"),
        ({"Statement": []}, "Statement must be a non-empty list"),
        ({"Statement": "x"}, "Statement must be a non-empty list"),
        ({"Statement": [allow("a", "kms:Encrypt")], "Version": "2008-10-17"}, "Version"),
        ({"Statement": [allow("a", "kms:Encrypt")], "Id": 3}, "Id must be a string"),
        ({"Statement": [allow("a", "kms:Encrypt")], "Extra": 1}, "unknown top-level field 'Extra'"),
        (policy("not a statement"), "Statement[0] must be an object"),
        (policy(allow("a", "kms:Encrypt"), {"Effect": "Allow", "Action": "kms:Encrypt"}), "[1] has no Principal"),
        (policy({"Principal": "a", "Action": "kms:Encrypt"}), "Statement[0] has no Effect"),
        (policy({"Effect": "Allow", "Principal": "a"}), "Statement[0] has no Action"),
        (policy(allow("a", "kms:Encrypt", Effect="allow")), "Statement[0].Effect must be 'Allow' or 'Deny'"),
        (policy(allow("a", "kms:Encrypt", Sid=5)), "Statement[0].Sid must be a string"),
        (policy(allow("a", "kms:Encrypt", Resource="arn:aws:kms:x")), "Statement[0].Resource must be '*'"),
        (policy(allow("a", "kms:Encrypt", Extra=1)), "Statement[0] has unknown field 'Extra'"),
        (policy(allow("a", "kms:Encrypt", NotAction="kms:Decrypt")), "uses NotAction"),
        (policy(allow("a", "kms:Encrypt", NotPrincipal="b")), "uses NotPrincipal"),
        (policy(allow("a", "kms:Frobnicate")), "Statement[0].Action names unknown action 'kms:Frobnicate'"),
        (policy(allow("a", "kms:encrypt")), "unknown action 'kms:encrypt'"),
        (policy(allow("a", "kms:Encrypt*")), "unknown action 'kms:Encrypt*'"),
        (policy(allow("a", [])), "Statement[0].Action is an empty list"),
        (policy(allow("a", ["kms:Encrypt", 3])), "Statement[0].Action must be a action or a list"),
        (policy(allow([], "kms:Encrypt")), "Statement[0].Principal is an empty list"),
        (policy(allow({"AWS": "arn:aws:iam::1:root"}, "kms:Encrypt")), "kmslib has no ARNs"),
        (policy(allow("", "kms:Encrypt")), "Statement[0].Principal (a principal name) must not be empty"),
        (policy(allow("a\nb", "kms:Encrypt")), "printable"),
        (policy(allow("x" * 129, "kms:Encrypt")), "limit is 128"),
        (policy(allow("owner", "kms:Encrypt")), "names 'owner'"),
        (policy(allow("a", "kms:Encrypt", Condition={})), "Condition must be a non-empty object"),
        (policy(allow("a", "kms:Encrypt", Condition={"StringLike": {"kmslib:AssociatedData": "x"}})), "StringLike"),
        (policy(allow("a", "kms:Encrypt", Condition={"StringEquals": {"aws:username": "x"}})), "'aws:username'"),
        (policy(allow("a", "kms:Encrypt", Condition={"StringEquals": {"kmslib:AssociatedData": 3}})), "AssociatedData"),
        (policy(allow("a", "kms:Encrypt", Condition={"StringEquals": "x"})), "Condition.StringEquals must hold"),
        (
            policy(allow("a", "kms:Encrypt", Condition={"NumericGreaterThanEquals": {"kmslib:Approvals": 0}})),
            "kmslib:Approvals must be a whole number",
        ),
        (
            policy(allow("a", "kms:Encrypt", Condition={"NumericGreaterThanEquals": {"kmslib:Approvals": True}})),
            "kmslib:Approvals must be a whole number",
        ),
        (
            policy(allow("a", "kms:Encrypt", Condition={"NumericGreaterThanEquals": {"kmslib:Approvals": "2"}})),
            "kmslib:Approvals must be a whole number",
        ),
        (policy(allow("a", "kms:Encrypt", Sid=1.5)), "holds a float"),
        ({1: "x"}, "key that is not a string"),
    ],
)
def test_a_malformed_policy_is_refused_naming_the_problem(document: object, named: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_policy(document)
    assert named in str(caught.value)


@pytest.mark.parametrize("document", [None, "{}", ["Statement"], 3])
def test_a_policy_that_is_no_dict_is_an_argument_type_error(document: object) -> None:
    with pytest.raises(ArgumentTypeError, match="policy must be a dict"):
        parse_policy(document)


def test_a_policy_over_the_byte_limit_is_refused() -> None:
    names = [f"principal-{i:05d}" for i in range(MAX_POLICY_BYTES // 16)]
    with pytest.raises(InvalidInputError, match=f"the limit is {MAX_POLICY_BYTES}"):
        parse_policy(policy(allow(names, "kms:Encrypt")))
    fits = names[: len(names) // 3]
    assert len(json.dumps(policy(allow(fits, "kms:Encrypt")))) < MAX_POLICY_BYTES
    assert parse_policy(policy(allow(fits, "kms:Encrypt"))).evaluate(Request(fits[-1], "kms:Encrypt")).allowed


def test_a_policy_over_the_statement_limit_is_refused() -> None:
    parse_policy(policy(*[allow("a", "kms:Encrypt")] * MAX_STATEMENTS))
    with pytest.raises(InvalidInputError, match=f"{MAX_STATEMENTS + 1} statements; the limit is {MAX_STATEMENTS}"):
        parse_policy(policy(*[allow("a", "kms:Encrypt")] * (MAX_STATEMENTS + 1)))


def test_a_deeply_nested_or_self_referencing_policy_is_refused_without_recursion_error() -> None:
    nested: object = "x"
    for _ in range(10_000):
        nested = [nested]
    with pytest.raises(InvalidInputError, match=f"more than {MAX_DEPTH} levels"):
        parse_policy(policy(allow("a", "kms:Encrypt", Sid=nested)))
    looped: dict[str, object] = {"Effect": "Allow", "Principal": "a", "Action": "kms:Encrypt"}
    looped["Sid"] = looped
    with pytest.raises(InvalidInputError, match="levels deep"):
        parse_policy(policy(looped))


def test_the_deepest_legitimate_policy_fits_the_depth_limit() -> None:
    parse_policy(policy(allow(["a"], ["kms:Encrypt"], Condition=aad_is("x", "y"))))


def test_the_policy_keeps_its_own_copy_and_hands_out_copies() -> None:
    principals = ["alice"]
    document = policy(allow(principals, "kms:Encrypt"))
    compiled = parse_policy(document)
    principals.append("mallory")
    assert not compiled.evaluate(Request("mallory", "kms:Encrypt")).allowed
    copy = compiled.document
    copy["Statement"][0]["Principal"].append("mallory")
    assert compiled.document == policy(allow(["alice"], "kms:Encrypt"))
    assert not compiled.evaluate(Request("mallory", "kms:Encrypt")).allowed


def test_str_subclasses_are_taken_as_their_plain_values() -> None:
    class Sneaky(str):
        __slots__ = ()

        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = str.__hash__

    compiled = parse_policy(policy(allow(Sneaky("alice"), Sneaky("kms:Encrypt"))))
    assert type(compiled.document["Statement"][0]["Principal"]) is str
    assert not compiled.evaluate(Request("bob", "kms:Encrypt")).allowed
    assert compiled.evaluate(Request("alice", "kms:Encrypt")).allowed


def test_the_repr_names_only_the_statement_count() -> None:
    compiled = parse_policy(policy(allow("alice", "kms:Encrypt", Condition=aad_is("secret-ish"))))
    assert repr(compiled) == "KeyPolicy(statements=1)"
    assert len(compiled) == 1
    assert compiled.principals() == {"alice"}


def test_remembered_decisions_equal_fresh_ones() -> None:
    compiled = parse_policy(
        policy(
            allow("alice", "kms:Decrypt", Condition=aad_is("payments")), deny("bob", "kms:*"), allow("*", "kms:Verify")
        )
    )
    for principal in ("alice", "bob", "carol"):
        for action in ACTIONS:
            for aad in (None, b"payments", b"x" * 300):
                fresh = compiled.evaluate(Request(principal, action, aad))
                assert compiled.decide(principal, action, aad) == fresh
                assert compiled.decide(principal, action, aad) == fresh  # the second, remembered
