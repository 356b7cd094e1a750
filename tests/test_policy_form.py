"""PolicyForm, the policy simulator: driven through its plain methods and its buttons, read from its widgets."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import ipywidgets as w
import pytest

from kmslib import KeyCustodian
from kmslib.policy import ACTIONS

PAYMENTS_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Users",
            "Effect": "Allow",
            "Principal": ["checkout", "refunds"],
            "Action": ["kms:Encrypt", "kms:Decrypt"],
            "Condition": {"StringEquals": {"kmslib:AssociatedData": "orders"}},
        },
        {"Sid": "NoRefundDecrypt", "Effect": "Deny", "Principal": "refunds", "Action": "kms:Decrypt"},
        {
            "Sid": "RevokeWithTwo",
            "Effect": "Allow",
            "Principal": "secops",
            "Action": "kms:RevokeKey",
            "Condition": {"NumericGreaterThanEquals": {"kmslib:Approvals": 2}},
        },
        {"Effect": "Allow", "Principal": "secops", "Action": "kms:RotateKey"},
    ],
}


@pytest.fixture
def kms_with_policy(kms: KeyCustodian) -> KeyCustodian:
    kms.establish_aes_key("payments")
    kms.set_key_policy("payments", PAYMENTS_POLICY)
    kms.establish_aes_key("archive")
    return kms


def make(kms: KeyCustodian, **kwargs: Any) -> Any:
    from kmslib.widgets import PolicyForm

    return PolicyForm(kms, **kwargs)


def is_error(form: Any, text: str = "") -> bool:
    return "kmslib-error" in form.status.value and 'role="alert"' in form.status.value and text in form.status.value


def announced(form: Any, text: str) -> bool:
    status = form.status.value
    return 'role="status"' in status and 'aria-live="polite"' in status and text in status


# ------------------------------------------------------------------ simulation


def test_an_allow_names_the_statement_that_decided_it(kms_with_policy: KeyCustodian) -> None:
    form = make(kms_with_policy)
    result = form.simulate("checkout", "kms:Encrypt", "payments", "orders")
    assert result.startswith("Allow")
    assert "Statement[0]" in result
    assert "Sid 'Users'" in result
    assert "the key's current policy" in result
    assert announced(form, "Allow")


def test_an_explicit_deny_wins_and_names_its_statement(kms_with_policy: KeyCustodian) -> None:
    form = make(kms_with_policy)
    result = form.simulate("refunds", "kms:Decrypt", "payments", "orders")  # Statement[0] allows; [1] denies
    assert result.startswith("Deny (explicit)")
    assert "Statement[1]" in result
    assert "Sid 'NoRefundDecrypt'" in result
    assert announced(form, "Deny (explicit)")


def test_an_implicit_deny_names_no_statement(kms_with_policy: KeyCustodian) -> None:
    form = make(kms_with_policy)
    result = form.simulate("checkout", "kms:Encrypt", "payments", "")  # no associated data: the condition fails
    assert result.startswith("Deny (implicit)")
    assert "Statement[" not in result
    assert form.simulate("checkout", "kms:Encrypt", "payments", "invoices").startswith("Deny (implicit)")
    assert form.simulate("checkout", "kms:RotateKey", "payments").startswith("Deny (implicit)")


def test_a_statement_without_a_sid_is_named_by_its_index(kms_with_policy: KeyCustodian) -> None:
    result = make(kms_with_policy).simulate("secops", "kms:RotateKey", "payments")
    assert result.startswith("Allow")
    assert "Statement[3] (no Sid)" in result


def test_dual_control_says_how_many_approvals_and_which_statement(kms_with_policy: KeyCustodian) -> None:
    result = make(kms_with_policy).simulate("secops", "kms:RevokeKey", "payments")
    assert result.startswith("Approvals required")
    assert "2 approvals" in result
    assert "Statement[2]" in result
    assert "Sid 'RevokeWithTwo'" in result


def test_the_owner_and_a_key_without_a_policy(kms_with_policy: KeyCustodian) -> None:
    form = make(kms_with_policy)
    assert form.simulate("owner", "kms:RevokeKey", "payments").startswith("Allow")
    assert "owner" in form.simulate("owner", "kms:RevokeKey", "payments")
    result = form.simulate("checkout", "kms:Encrypt", "archive", "orders")
    assert result.startswith("Deny (implicit)")
    assert "has no key policy" in result


def test_the_simulation_agrees_with_the_custodian(kms_with_policy: KeyCustodian) -> None:
    kms = kms_with_policy
    form = make(kms)
    checkout = kms.as_principal(kms.issue_credential("checkout"))
    token = checkout.encrypt_data_aes("payments", "x", associated_data="orders")
    assert form.simulate("checkout", "kms:Encrypt", "payments", "orders").startswith("Allow")
    assert form.simulate("checkout", "kms:Decrypt", "payments", "orders").startswith("Allow")
    assert checkout.decrypt_data_aes("payments", token, associated_data="orders") == "x"
    assert form.simulate("checkout", "kms:RotateKey", "payments").startswith("Deny")
    from kmslib.errors import AccessDeniedError

    with pytest.raises(AccessDeniedError):
        checkout.rotate_key("payments")


def test_the_button_simulates_what_the_controls_say(kms_with_policy: KeyCustodian) -> None:
    form = make(kms_with_policy, key_ids=["payments"])
    assert form.key.value == "payments"
    assert set(form.principal.options) == {"checkout", "refunds", "secops"}  # the names in the key's policy
    assert tuple(form.action.options) == ACTIONS
    form.principal.value = "refunds"
    form.action.value = "kms:Decrypt"
    form.associated_data.value = "orders"
    form.simulate_button.click()
    assert announced(form, "Deny (explicit)")
    assert "Statement[1]" in form.status.value


def test_key_ids_and_principals_can_be_given(kms_with_policy: KeyCustodian) -> None:
    form = make(kms_with_policy, key_ids=["archive", "payments"], principals=["mallory", "checkout"])
    assert tuple(form.key.options) == ("archive", "payments")
    assert tuple(form.principal.options) == ("mallory", "checkout")
    default = make(kms_with_policy)
    assert tuple(default.key.options) == ("payments", "archive")  # the custodian's keys


def test_bad_simulation_input_is_a_clear_message(kms_with_policy: KeyCustodian) -> None:
    form = make(kms_with_policy)
    cases = [
        (("", "kms:Encrypt", "payments"), "principal"),
        (("x" * 100_000, "kms:Encrypt", "payments"), "limit is 128"),
        (("check\x00out", "kms:Encrypt", "payments"), "printable"),
        (("checkout", "kms:Encrypt", "payments", "\ud800orders"), "UTF-8"),
        (("checkout", "kms:Fly", "payments"), "unknown action"),
        (("checkout", "kms:Encrypt", "nope"), "nope"),
        (("checkout", "kms:Encrypt", None), "choose a key"),
    ]
    for args, words in cases:
        result = form.simulate(*args)
        assert is_error(form, words), (args, form.status.value)
        assert words in result
        assert "Traceback" not in form.status.value
    huge = form.simulate("checkout", "kms:Encrypt", "payments", "orders" * 200_000)
    assert huge.startswith("Deny (implicit)")
    assert len(form.status.value) < 2_000  # the associated data is not echoed in full


def test_a_custodian_without_keys_or_closed_is_said_in_the_form(kms: KeyCustodian) -> None:
    form = make(kms)
    assert form.key.value is None
    assert form.editor.value.strip() != ""  # the template
    assert form.status.value == ""  # nothing to say yet
    assert "choose a key first" in form.simulate("checkout", "kms:Encrypt", form.key.value)
    assert "choose a key first" in form.apply()
    kms.establish_aes_key("payments")
    kms.close()
    closed = make(kms)
    assert is_error(closed, "closed")
    assert closed.key.options == ()
    assert "closed" in make(kms, key_ids=["payments"]).simulate("checkout", "kms:Encrypt", "payments")


# ------------------------------------------------------------------ the policy editor


def test_the_editor_shows_the_keys_policy_as_pretty_json_or_a_template(kms_with_policy: KeyCustodian) -> None:
    form = make(kms_with_policy)
    assert form.key.value == "payments"
    assert json.loads(form.editor.value) == PAYMENTS_POLICY
    assert "\n    " in form.editor.value  # indented
    form.key.value = "archive"
    template = json.loads(form.editor.value)
    assert template["Version"] == "2012-10-17"
    assert template["Statement"] == []


def test_check_policy_counts_statements_or_names_the_place(kms_with_policy: KeyCustodian) -> None:
    form = make(kms_with_policy)
    assert form.check_policy() == "valid: 4 statements"
    assert announced(form, "valid: 4 statements")
    broken = json.loads(json.dumps(PAYMENTS_POLICY))
    broken["Statement"][1]["Action"] = "kms:Fly"
    message = form.check_policy(json.dumps(broken))
    assert "Statement[1].Action" in message
    assert is_error(form, "Statement[1].Action")
    assert form.editor.value == json.dumps(broken)  # what was typed stays
    assert "Traceback" not in form.status.value


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"Version": "2012-10-17", "Statement": [}', "line 1, column"),
        ("[1, 2]", "must be a dict"),
        ("", "empty"),
        ('{"Statement": [{"Effect": "Allow", "Principal": "a", "Action": "kms:*", "Sid": 1e999}]}', "Sid"),
        ('{"Statement": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested"),
        ('{"Id": ' + "9" * 10_000 + "}", "number"),
        ('{"Id": "\\ud800", "Statement": []}', "UTF-8"),
        ("{}\ud800", "UTF-8"),
        (" " * 2_000_000, "characters"),
    ],
    ids=["syntax", "list", "empty", "infinity", "deep", "huge-number", "escaped-surrogate", "surrogate", "huge"],
)
def test_odd_policy_text_is_a_clear_message(kms_with_policy: KeyCustodian, text: str, words: str) -> None:
    form = make(kms_with_policy)
    message = form.check_policy(text)
    assert is_error(form, words), form.status.value[:500]
    assert words in message
    assert len(form.status.value) < 2_000
    assert "Traceback" not in form.status.value


def test_a_malformed_draft_is_not_applied_and_the_old_policy_stays(kms_with_policy: KeyCustodian) -> None:
    kms = kms_with_policy
    form = make(kms)
    form.editor.value = form.editor.value.replace('"kms:RotateKey"', '"kms:RotateKeys"')
    message = form.apply()
    assert "Statement[3].Action" in message
    assert is_error(form, "Statement[3].Action")
    assert kms.get_key_policy("payments") == PAYMENTS_POLICY


def test_a_policy_the_custodian_refuses_leaves_the_old_one(kms_with_policy: KeyCustodian) -> None:
    kms = kms_with_policy
    form = make(kms)
    form.editor.value = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "owner", "Action": "kms:*"}]})
    message = form.apply()
    assert "Statement[0].Principal" in message
    assert is_error(form, "owner")
    assert kms.get_key_policy("payments") == PAYMENTS_POLICY


def test_apply_sets_the_draft_on_the_key(kms_with_policy: KeyCustodian) -> None:
    kms = kms_with_policy
    form = make(kms)
    form.key.value = "archive"
    draft = {"Statement": [{"Sid": "Reader", "Effect": "Allow", "Principal": "auditor", "Action": "kms:Decrypt"}]}
    form.editor.value = json.dumps(draft)
    result = form.apply()
    assert "archive" in result
    assert announced(form, "archive")
    assert kms.get_key_policy("archive") == draft
    assert "auditor" in form.principal.options
    assert form.simulate("auditor", "kms:Decrypt", "archive").startswith("Allow")
    assert "the key's current policy" in form.simulate("auditor", "kms:Decrypt", "archive")


def test_the_buttons_check_and_apply(kms_with_policy: KeyCustodian) -> None:
    kms = kms_with_policy
    form = make(kms)
    form.key.value = "archive"
    form.editor.value = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "auditor", "Action": "kms:*"}]})
    form.check_button.click()
    assert announced(form, "valid: 1 statement")
    assert kms.get_key_policy("archive") is None  # checking changes nothing
    form.apply_button.click()
    assert kms.get_key_policy("archive") is not None


def test_the_simulation_uses_a_valid_draft_and_says_so(kms_with_policy: KeyCustodian) -> None:
    kms = kms_with_policy
    form = make(kms)
    draft = json.loads(json.dumps(PAYMENTS_POLICY))
    draft["Statement"].append({"Sid": "Rotate", "Effect": "Allow", "Principal": "checkout", "Action": "kms:RotateKey"})
    form.editor.value = json.dumps(draft, indent=2)
    result = form.simulate("checkout", "kms:RotateKey", "payments")
    assert result.startswith("Allow")
    assert "Statement[4]" in result
    assert "the draft in the editor (not applied)" in result
    assert kms.get_key_policy("payments") == PAYMENTS_POLICY  # simulating applies nothing
    # Another key than the one the editor belongs to: its own current policy.
    other = form.simulate("checkout", "kms:RotateKey", "archive")
    assert other.startswith("Deny (implicit)")
    assert "has no key policy" in other
    assert "draft" not in other


def test_an_invalid_draft_falls_back_to_the_current_policy_and_says_why(kms_with_policy: KeyCustodian) -> None:
    form = make(kms_with_policy)
    form.editor.value = '{"Statement": ['
    result = form.simulate("checkout", "kms:Encrypt", "payments", "orders")
    assert result.startswith("Allow")
    assert "the key's current policy" in result
    assert "draft in the editor is not valid" in result


def test_an_unedited_editor_is_the_current_policy(kms_with_policy: KeyCustodian) -> None:
    form = make(kms_with_policy)
    assert "the key's current policy" in form.simulate("checkout", "kms:Encrypt", "payments", "orders")
    form.key.value = "archive"  # the empty template: no draft
    result = form.simulate("checkout", "kms:Encrypt", "archive", "orders")
    assert "has no key policy" in result
    assert "not valid" not in result


def test_choosing_a_key_loads_its_policy_and_its_principals(kms_with_policy: KeyCustodian) -> None:
    kms = kms_with_policy
    kms.set_key_policy("archive", {"Statement": [{"Effect": "Allow", "Principal": "auditor", "Action": "kms:Decrypt"}]})
    form = make(kms)
    form.key.value = "archive"
    assert json.loads(form.editor.value)["Statement"][0]["Principal"] == "auditor"
    assert tuple(form.principal.options) == ("auditor",)
    assert form.principal.value == "checkout"  # the name chosen for payments stays chosen
    form.principal.value = "mallory"  # typed: not in the policy
    form.key.value = "payments"
    assert form.principal.value == "mallory"
    form.key.value = "payments"
    assert json.loads(form.editor.value) == PAYMENTS_POLICY


# ------------------------------------------------------------------ accessibility and hygiene


def _controls(widget: Any) -> list[Any]:
    found = []
    for child in getattr(widget, "children", ()):
        found.extend(_controls(child))
    if isinstance(widget, (w.Text, w.Textarea, w.Dropdown, w.Checkbox, w.ToggleButtons, w.IntText, w.Password)):
        found.append(widget)
    return found


def test_every_control_has_a_label_and_the_form_its_class(kms_with_policy: KeyCustodian) -> None:
    form = make(kms_with_policy)
    assert "kmslib-policy-form" in form.widget._dom_classes
    controls = _controls(form.widget)
    assert len(controls) == 5  # principal, action, key, associated data, the policy editor
    assert [c for c in controls if not c.description] == []
    for button in (form.simulate_button, form.check_button, form.apply_button):
        assert button.description
    bundle = form._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == form.widget.model_id


def test_the_form_shows_no_credential(kms_with_policy: KeyCustodian) -> None:
    kms = kms_with_policy
    credential = kms.issue_credential("checkout")
    form = make(kms)
    form.simulate("checkout", "kms:Encrypt", "payments", "orders")
    form.check_policy()
    form.apply()
    shown = [str(getattr(c, "value", "")) for c in _walk(form.widget)] + [str(form.principal.options)]
    assert not any(credential in text for text in shown)


def _walk(widget: Any) -> list[Any]:
    found = [widget]
    for child in getattr(widget, "children", ()):
        found.extend(_walk(child))
    return found


def test_import_kmslib_imports_no_ipywidgets_and_the_form_imports_no_course() -> None:
    code = "import sys, kmslib; print('ipywidgets' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
    import kmslib.widgets.policy_form as module

    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert "kmslib.widgets._common" in imported  # the check reads the real imports
    assert [name for name in imported if name.startswith("kmslib.course")] == []
