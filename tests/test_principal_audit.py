"""Whose name the audit log writes: the clock's changes are the owner's, a failed authentication is a denial."""

from __future__ import annotations

from datetime import timedelta

import pytest

from helpers import StepClock, leaks
from kmslib import AccessDeniedError, InvalidInputError, KeyCustodian
from kmslib.principals import UNAUTHENTICATED


def policy(*actions: str) -> dict[str, object]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "app", "Action": list(actions)}]}


def principal_of(kms: KeyCustodian, operation: str) -> list[str]:
    return [entry.principal for entry in kms.audit_log if entry.operation == operation]


def test_a_rotation_by_policy_during_a_principal_s_call_is_the_owner_s() -> None:
    clock = StepClock()
    kms = KeyCustodian(clock=clock)
    kms.establish_aes_key("k")
    kms.set_rotation_policy("k", rotate_every=timedelta(days=1))
    kms.set_key_policy("k", policy("kms:Encrypt"))
    app = kms.as_principal(kms.issue_credential("app"))
    clock.now += timedelta(days=2)
    assert app.encrypt_data_aes("k", "x").startswith("kms:v2:")  # the call rotated the key first
    assert principal_of(kms, "rotate_key_by_policy") == ["owner"]
    assert principal_of(kms, "encrypt_data_aes") == ["app"]


def test_an_activation_and_deactivation_by_the_clock_during_a_principal_s_call_are_the_owner_s() -> None:
    clock = StepClock()
    kms = KeyCustodian(clock=clock)
    kms.establish_aes_key("k", activate_at=clock.now + timedelta(hours=1))
    kms.set_key_policy("k", policy("kms:Encrypt", "kms:DescribeKey"))
    app = kms.as_principal(kms.issue_credential("app"))
    clock.now += timedelta(hours=2)
    app.key_info("k")
    app.encrypt_data_aes("k", "x")
    assert principal_of(kms, "activate_key") == ["owner"]
    kms.rotate_key("k")
    kms.set_rotation_policy("k", deactivate_after=timedelta(days=1))
    clock.now += timedelta(days=2)
    app.encrypt_data_aes("k", "x")
    assert principal_of(kms, "deactivate_key_by_policy") == ["owner"]
    assert set(principal_of(kms, "encrypt_data_aes")) == {"app"}


@pytest.mark.parametrize(
    "credential",
    ["kmslib-credential:0123456789abcdef:not-the-secret", "nonsense", 42, None],
    ids=["forged", "mistyped", "int", "none"],
)
def test_a_failed_authentication_is_audited_as_a_denial_without_the_credential(credential: object) -> None:
    kms = KeyCustodian(clock=StepClock())
    with pytest.raises(AccessDeniedError):
        kms.as_principal(credential)  # type: ignore[arg-type]
    entry = kms.audit_log[-1]
    assert (entry.operation, entry.key_id, entry.outcome, entry.principal) == (
        "as_principal",
        None,
        "AccessDeniedError",
        UNAUTHENTICATED,
    )
    assert kms.audit_log.verify()
    exported = "".join(str(e.to_dict()) for e in kms.audit_log)
    assert "not-the-secret" not in exported


def test_a_revoked_credential_s_authentication_is_audited_without_its_secret() -> None:
    kms = KeyCustodian(clock=StepClock())
    credential = kms.issue_credential("app")
    kms.revoke_credential("app")
    with pytest.raises(AccessDeniedError) as raised:
        kms.as_principal(credential)
    assert leaks(raised.value, [credential.encode(), credential.rsplit(":", 1)[1].encode()]) == []
    assert kms.audit_log[-1].principal == UNAUTHENTICATED
    assert credential.rsplit(":", 1)[1] not in "".join(str(e.to_dict()) for e in kms.audit_log)


def test_no_principal_may_be_called_by_the_unauthenticated_name() -> None:
    with pytest.raises(InvalidInputError):
        KeyCustodian().issue_credential(UNAUTHENTICATED)
