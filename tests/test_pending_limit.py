"""A principal cannot flood the custodian (and its store) with approval requests: at most 16 pending at once."""

from __future__ import annotations

import pytest

from kmslib import AccessDeniedError, ApprovalRequiredError, KeyCustodian
from kmslib.principals import MAX_PENDING_PER_PRINCIPAL


def test_a_principal_has_at_most_so_many_pending_requests() -> None:
    kms = KeyCustodian()
    kms.establish_aes_key("k")
    kms.set_key_policy(
        "k",
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": ["bob", "carol", "dave"],
                    "Action": "kms:Encrypt",
                    "Condition": {"NumericGreaterThanEquals": {"kmslib:Approvals": 1}},
                }
            ]
        },
    )
    bob, carol, dave = (kms.as_principal(kms.issue_credential(n)) for n in ("bob", "carol", "dave"))
    requests = []
    for n in range(MAX_PENDING_PER_PRINCIPAL):
        with pytest.raises(ApprovalRequiredError) as raised:
            bob.encrypt_data_aes("k", f"message {n}")
        requests.append(raised.value.request_id)
    with pytest.raises(ApprovalRequiredError) as again:
        bob.encrypt_data_aes("k", "message 0")  # a retry of a pending call is no new request
    assert again.value.request_id == requests[0]
    with pytest.raises(AccessDeniedError, match="pending") as refused:
        bob.encrypt_data_aes("k", "one too many")
    assert not isinstance(refused.value, ApprovalRequiredError)
    with pytest.raises(ApprovalRequiredError):
        dave.encrypt_data_aes("k", "another principal's own request")  # one principal's flood blocks nobody else
    carol.approve(requests[0])
    bob.encrypt_data_aes("k", "message 0")  # used up: room for one more
    with pytest.raises(ApprovalRequiredError):
        bob.encrypt_data_aes("k", "one too many")
    assert any(e.outcome == "AccessDeniedError" and e.principal == "bob" for e in kms.audit_log)
