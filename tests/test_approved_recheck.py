"""A call let through by approvals is checked again after its cryptography, against the policy as it is then.

Like every other use: a Deny added, or the approving statement removed, while the call runs makes it fail.
"""

from __future__ import annotations

from typing import Any

import pytest

from kmslib import AccessDeniedError, ApprovalRequiredError, KeyCustodian

NEEDS_ONE = {
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": ["bob", "carol"],
            "Action": "kms:Encrypt",
            "Condition": {"NumericGreaterThanEquals": {"kmslib:Approvals": 1}},
        }
    ]
}
DENY_BOB = {"Statement": [*NEEDS_ONE["Statement"], {"Effect": "Deny", "Principal": "bob", "Action": "kms:Encrypt"}]}
CAROL_ONLY = {"Statement": [{"Effect": "Allow", "Principal": "carol", "Action": "kms:*"}]}


@pytest.mark.parametrize("meanwhile", [DENY_BOB, CAROL_ONLY, None], ids=["deny-added", "allow-removed", "unchanged"])
def test_a_policy_changed_while_an_approved_call_runs_is_obeyed(meanwhile: dict[str, Any] | None) -> None:
    kms = KeyCustodian()
    kms.establish_aes_key("k")
    kms.set_key_policy("k", NEEDS_ONE)
    encrypt = kms.encrypt_data_aes

    def changing_the_policy(*args: Any, **kwargs: Any) -> Any:
        if meanwhile is not None:
            kms.set_key_policy("k", meanwhile)  # the owner, while bob's cryptography runs
        return encrypt(*args, **kwargs)

    kms.encrypt_data_aes = changing_the_policy  # type: ignore[method-assign]
    bob, carol = (kms.as_principal(kms.issue_credential(n)) for n in ("bob", "carol"))
    with pytest.raises(ApprovalRequiredError) as raised:
        bob.encrypt_data_aes("k", "x")
    carol.approve(raised.value.request_id)
    if meanwhile is None:
        assert bob.encrypt_data_aes("k", "x").startswith("kms:")
        return
    with pytest.raises(AccessDeniedError):
        bob.encrypt_data_aes("k", "x")
    assert kms.audit_log[-1].outcome == "AccessDeniedError"
    assert kms.audit_log[-1].principal == "bob"
