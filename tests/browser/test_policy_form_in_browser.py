"""The policy simulator (PolicyForm) in JupyterLab in headless Chromium: axe-core clean and keyboard-only.

The test writes its own small notebook into the server's temporary root (the course's notebooks
are not touched): a custodian with a key under a policy, and ``PolicyForm(kms)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
from test_course_in_browser import (
    accessibility_violations,
    assert_no_errors,
    open_notebook,
    run_all,
    status_of,
    tab_to,
    unreachable_by_tab,
)
from test_dashboard_states_in_browser import press, wait_for_status

ROOT = Path(__file__).resolve().parents[2]
Lab = Any  # the lab fixture's type (tests/browser/conftest.py)
NOTEBOOK = "policy_form_check.ipynb"
POLICY = {
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
    ],
}
SETUP = f"""\
import sys
sys.path.insert(0, {str(ROOT)!r})  # the kmslib of this checkout
from kmslib import KeyCustodian, classroom_clock
from kmslib.widgets import PolicyForm

kms = KeyCustodian(clock=classroom_clock())
kms.establish_aes_key("payments")
kms.set_key_policy("payments", {POLICY!r})
"""
FORM = ".kmslib-policy-form"
DRAFT = json.dumps({"Statement": [POLICY["Statement"][0]]}, indent=2)  # without the Deny
BROKEN = DRAFT.replace('"kms:Decrypt"', '"kms:Fly"')


def write_notebook(root: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell("PolicyForm(kms)")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / NOTEBOOK)


def replace_text(page: Any, selector: str, text: str) -> None:
    """Tab to a text field, select what it holds and type ``text`` over it (one input event, as a paste)."""
    tab_to(page, selector)
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)


def test_the_policy_simulator_is_axe_clean_and_works_from_the_keyboard(page: Any, lab: Lab) -> None:
    write_notebook(lab.root)
    open_notebook(page, lab, NOTEBOOK)
    run_all(page)
    assert_no_errors(page)
    form = page.locator(FORM).last
    form.scroll_into_view_if_needed()
    # The names Chromium computes for assistive technology are the labels a sighted student reads.
    for role, name in [
        ("combobox", "Principal"),  # a text field with a list of suggestions
        ("combobox", "Action"),
        ("combobox", "Key"),
        ("textbox", "Associated data"),
        ("textbox", "Key policy (JSON)"),
        ("button", "Simulate"),
        ("button", "Check policy"),
        ("button", "Apply to key"),
        ("button", "Reload key's policy"),
    ]:
        exact = role != "button"  # a button's name begins with its icon's glyph (Font Awesome's CSS content)
        assert form.get_by_role(role, name=name, exact=exact).count() == 1, (role, name)
    assert json.loads(form.locator(".kmslib-editor textarea").input_value()) == POLICY
    assert unreachable_by_tab(page, form) == []  # WCAG 2.1 SC 2.1.1
    assert accessibility_violations(page) == []

    # Who may decrypt with "orders"? Chosen and simulated with the keyboard alone.
    form.locator(".kmslib-principal input").focus()  # where a keyboard user arrives after tabbing in
    page.keyboard.press("Control+A")
    page.keyboard.insert_text("refunds")
    action = form.locator(".kmslib-action select")
    tab_to(page, f"{FORM} .kmslib-action select")
    for key in ("Alt+ArrowDown", "ArrowDown", "Enter"):  # README, "Known problem": Alt+Down opens a menu
        page.keyboard.press(key)
    page.wait_for_function("(el) => el.value === 'kms:Decrypt'", arg=action.element_handle())
    tab_to(page, f"{FORM} .kmslib-associated-data input")
    page.keyboard.insert_text("orders")
    press(page, f"{FORM} button.kmslib-simulate-button")
    wait_for_status(page, form, "Deny (explicit)")
    assert "Statement[1] (Sid 'NoRefundDecrypt')" in status_of(form)
    assert "the key's current policy" in status_of(form)
    assert form.locator(".kmslib-status-line [role=status]").count() == 1  # announced, not only shown

    # A malformed draft: checked, the place named in an alert, no traceback; what was typed stays.
    replace_text(page, f"{FORM} .kmslib-editor textarea", BROKEN)
    press(page, f"{FORM} button.kmslib-check-button", "Space")
    wait_for_status(page, form, "Statement[0].Action")
    assert form.locator(".kmslib-status-line [role=alert]").count() == 1
    assert "Traceback" not in status_of(form)
    assert form.locator(".kmslib-editor textarea").input_value() == BROKEN
    assert accessibility_violations(page) == []

    # A valid draft without the Deny: simulated before it is applied, and the result says so.
    form.locator(".kmslib-principal input").focus()
    replace_text(page, f"{FORM} .kmslib-editor textarea", DRAFT)
    press(page, f"{FORM} button.kmslib-check-button")
    wait_for_status(page, form, "valid: 1 statement")
    form.locator(".kmslib-principal input").focus()
    press(page, f"{FORM} button.kmslib-simulate-button")
    wait_for_status(page, form, "the draft in the editor (not applied)")
    assert status_of(form).startswith("Allow")
    assert "Statement[0] (Sid 'Users')" in status_of(form)

    # Applied to the key: now the key's current policy gives the same answer.
    press(page, f"{FORM} button.kmslib-apply-button")
    wait_for_status(page, form, "applied to 'payments'")
    form.locator(".kmslib-principal input").focus()
    press(page, f"{FORM} button.kmslib-simulate-button")
    wait_for_status(page, form, "Policy: the key's current policy")
    assert status_of(form).startswith("Allow")
    assert form.locator(".kmslib-status-line [role=status]").count() == 1
    assert accessibility_violations(page) == []
