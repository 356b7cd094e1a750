"""The dashboard's audit table says who did each thing: the audit log's principal, the owner included."""

from __future__ import annotations

from kmslib import KeyCustodian
from kmslib.errors import AccessDeniedError
from kmslib.widgets.dashboard import audit_html


def test_the_audit_table_names_each_entrys_principal_escaped() -> None:
    kms = KeyCustodian()
    kms.establish_aes_key("k")
    kms.set_key_policy("k", {"Statement": [{"Effect": "Allow", "Principal": "<b>alice</b>", "Action": "kms:Encrypt"}]})
    alice = kms.as_principal(kms.issue_credential("<b>alice</b>"))
    alice.encrypt_data_aes("k", "x")
    try:
        alice.rotate_key("k")
    except AccessDeniedError:
        pass
    entries = list(kms.audit_log)
    table = audit_html(entries, verified=True, total=len(entries))
    assert "<th" in table
    assert ">principal</th>" in table
    rows = table.split("<tr>")[2:]
    assert "owner" in rows[0]  # establish_aes_key
    assert "&lt;b&gt;alice&lt;/b&gt;" in rows[-1]
    assert "AccessDeniedError" in rows[-1]
    assert "<b>alice</b>" not in table
