"""Dual control (contract section 11): approvals from other principals, bound to the call, single use, expiring."""

from __future__ import annotations

from datetime import timedelta

import pytest

from helpers import StepClock, allow, approvals, deny, leaks, policy
from kmslib import AccessDeniedError, ApprovalRequiredError, InvalidInputError, KeyCustodian
from kmslib.principals import APPROVAL_LIFETIME

ADMINS = ["alice", "bob", "carol"]


class Setup:
    def __init__(self, needed: int = 1) -> None:
        self.clock = StepClock()
        self.kms = KeyCustodian(clock=self.clock)
        self.kms.establish_aes_key("prod")
        self.kms.set_key_policy(
            "prod",
            policy(
                allow(ADMINS, "kms:RevokeKey", Condition=approvals(needed), Sid="DualRevoke"),
                allow(ADMINS, "kms:Encrypt", Condition=approvals(needed), Sid="DualEncrypt"),
                allow("eve", "kms:DescribeKey"),
            ),
        )
        self.views = {name: self.kms.as_principal(self.kms.issue_credential(name)) for name in [*ADMINS, "eve"]}

    def __getitem__(self, name: str) -> KeyCustodian:
        return self.views[name]

    def ask(self, name: str = "alice", reason: str = "rotate out") -> str:
        with pytest.raises(ApprovalRequiredError) as caught:
            self[name].invalidate_key("prod", reason=reason)
        return caught.value.request_id


@pytest.fixture
def setup() -> Setup:
    return Setup()


def test_a_call_needing_approval_raises_with_a_request_and_changes_nothing(setup: Setup) -> None:
    request_id = setup.ask()
    assert isinstance(request_id, str)
    assert setup.kms.key_info("prod").state == "active"
    last = setup.kms.audit_log[-1]
    assert (last.operation, last.key_id, last.principal, last.outcome) == (
        "invalidate_key",
        "prod",
        "alice",
        "ApprovalRequiredError",
    )


def test_approved_by_another_the_same_call_succeeds_once(setup: Setup) -> None:
    request_id = setup.ask()
    assert setup.ask() == request_id  # a retry while pending reuses the request
    setup["bob"].approve(request_id)  # type: ignore[attr-defined]
    assert setup["alice"].invalidate_key("prod", reason="rotate out") == "Key Revocation Successful"
    entries = [(e.operation, e.principal, e.outcome) for e in setup.kms.audit_log]
    assert ("approve", "bob", "ok") in entries
    assert entries[-1] == ("invalidate_key", "alice", "ok")
    with pytest.raises(InvalidInputError, match="no pending request"):
        setup["carol"].approve(request_id)  # type: ignore[attr-defined]


def test_an_approval_is_used_up_by_the_call_it_let_through(setup: Setup) -> None:
    with pytest.raises(ApprovalRequiredError) as caught:
        setup["alice"].encrypt_data_aes("prod", "payroll")
    setup["bob"].approve(caught.value.request_id)  # type: ignore[attr-defined]
    setup["alice"].encrypt_data_aes("prod", "payroll")
    with pytest.raises(ApprovalRequiredError) as again:  # replayed after use: a new request
        setup["alice"].encrypt_data_aes("prod", "payroll")
    assert again.value.request_id != caught.value.request_id


def test_a_principal_cannot_approve_its_own_request(setup: Setup) -> None:
    request_id = setup.ask()
    with pytest.raises(AccessDeniedError, match="cannot approve its own request"):
        setup["alice"].approve(request_id)  # type: ignore[attr-defined]
    assert setup.ask() == request_id  # still pending, still unapproved
    assert setup.kms.key_info("prod").state == "active"


def test_an_approver_the_policy_does_not_name_is_refused(setup: Setup) -> None:
    request_id = setup.ask()
    with pytest.raises(AccessDeniedError, match="may not approve"):
        setup["eve"].approve(request_id)  # type: ignore[attr-defined]
    setup.ask()
    assert setup.kms.key_info("prod").state == "active"


def test_the_approval_is_bound_to_the_exact_call_and_principal(setup: Setup) -> None:
    request_id = setup.ask(reason="rotate out")
    setup["bob"].approve(request_id)  # type: ignore[attr-defined]
    other = setup.ask(reason="something else")  # other arguments: another request
    assert other != request_id
    carol_s = setup.ask(name="carol", reason="rotate out")  # the same call by another principal: its own request
    assert carol_s not in {request_id, other}
    assert setup.kms.key_info("prod").state == "active"
    setup["alice"].invalidate_key("prod", reason="rotate out")
    assert setup.kms.key_info("prod").state == "revoked"


def test_approvals_expire_after_24_hours_by_the_custodian_s_clock(setup: Setup) -> None:
    assert timedelta(hours=24) == APPROVAL_LIFETIME
    request_id = setup.ask()
    setup["bob"].approve(request_id)  # type: ignore[attr-defined]
    setup.clock.now += timedelta(hours=24, seconds=1)
    fresh = setup.ask()
    assert fresh != request_id
    with pytest.raises(InvalidInputError, match="no pending request"):
        setup["carol"].approve(request_id)  # type: ignore[attr-defined]
    assert setup.kms.key_info("prod").state == "active"


def test_an_approval_within_the_day_still_counts(setup: Setup) -> None:
    request_id = setup.ask()
    setup.clock.now += timedelta(hours=23)
    setup["bob"].approve(request_id)  # type: ignore[attr-defined]
    setup["alice"].invalidate_key("prod", reason="rotate out")
    assert setup.kms.key_info("prod").state == "revoked"


def test_two_approvals_need_two_other_principals() -> None:
    setup = Setup(needed=2)
    request_id = setup.ask()
    setup["bob"].approve(request_id)  # type: ignore[attr-defined]
    setup["bob"].approve(request_id)  # type: ignore[attr-defined]
    assert setup.ask() == request_id  # one approver twice is one approval
    setup["carol"].approve(request_id)  # type: ignore[attr-defined]
    setup["alice"].invalidate_key("prod", reason="rotate out")
    assert setup.kms.key_info("prod").state == "revoked"


def test_the_owner_may_approve(setup: Setup) -> None:
    request_id = setup.ask()
    setup.kms.approve(request_id)
    setup["alice"].invalidate_key("prod", reason="rotate out")
    assert setup.kms.key_info("prod").state == "revoked"


def test_an_explicit_deny_is_no_request_for_approval(setup: Setup) -> None:
    document = setup.kms.get_key_policy("prod")
    assert document is not None
    document["Statement"].append(deny("alice", "kms:RevokeKey"))
    setup.kms.set_key_policy("prod", document)
    with pytest.raises(AccessDeniedError) as caught:
        setup["alice"].invalidate_key("prod", reason="rotate out")
    assert type(caught.value) is AccessDeniedError


def test_a_revoked_approver_or_requester_gets_nothing(setup: Setup) -> None:
    request_id = setup.ask()
    setup.kms.revoke_credential("bob")
    with pytest.raises(AccessDeniedError):
        setup["bob"].approve(request_id)  # type: ignore[attr-defined]
    setup["carol"].approve(request_id)  # type: ignore[attr-defined]
    setup.kms.revoke_credential("alice")
    with pytest.raises(AccessDeniedError) as caught:
        setup["alice"].invalidate_key("prod", reason="rotate out")
    assert type(caught.value) is AccessDeniedError
    assert setup.kms.key_info("prod").state == "active"


def test_a_pending_request_keeps_no_argument_and_its_error_leaks_none(setup: Setup) -> None:
    with pytest.raises(ApprovalRequiredError) as caught:
        setup["alice"].encrypt_data_aes("prod", "TOP-SECRET-PAYROLL")
    assert "TOP-SECRET-PAYROLL" not in str(caught.value)
    assert leaks(caught.value, [b"TOP-SECRET-PAYROLL"]) == []
    (pending,) = setup.kms._access._pending.values()
    assert b"TOP-SECRET-PAYROLL" not in repr(pending).encode()
    assert len(pending.binding) == 32  # an HMAC-SHA256 of the call, not the call
