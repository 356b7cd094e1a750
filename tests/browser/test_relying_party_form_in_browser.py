"""The relying party form (RelyingPartyForm) in JupyterLab in headless Chromium: axe-core clean and keyboard-only.

The test writes its own small notebook into the server's temporary root (the course's notebooks are not touched):
a course PKI whose signer's key is then marked compromised, and ``RelyingPartyForm`` over it.
"""

from __future__ import annotations

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
from test_token_form_in_browser import choose

ROOT = Path(__file__).resolve().parents[2]
Lab = Any  # the lab fixture's type (tests/browser/conftest.py)
NOTEBOOK = "relying_party_form_check.ipynb"
SETUP = f"""\
import sys
sys.path.insert(0, {str(ROOT)!r})  # the kmslib of this checkout
from kmslib.course.certificates import certificate_world
from kmslib.widgets import RelyingPartyForm

world = certificate_world()
world.kms.mark_compromised("invoices", reason="laptop stolen")
"""
FORM_CELL = "RelyingPartyForm(world.root, world.ca, {'invoice': (world.message, world.signature, world.certificate)})"
FORM = ".kmslib-relying-party-form"


def write_notebook(root: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(FORM_CELL)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / NOTEBOOK)


def test_the_relying_party_form_is_axe_clean_and_works_from_the_keyboard(page: Any, lab: Lab) -> None:
    write_notebook(lab.root)
    open_notebook(page, lab, NOTEBOOK)
    run_all(page)
    assert_no_errors(page)
    form = page.locator(FORM).last
    form.scroll_into_view_if_needed()
    for role, name in [
        ("combobox", "Sample"),
        ("textbox", "Message"),
        ("textbox", "Signature"),
        ("textbox", "Certificate (PEM)"),
        ("combobox", "Status source"),
        ("button", "Use this sample"),
        ("button", "Verify as the relying party"),
    ]:
        exact = role != "button"  # a button's name begins with its icon's glyph
        assert form.get_by_role(role, name=name, exact=exact).count() == 1, (role, name)
    assert unreachable_by_tab(page, form) == []  # WCAG 2.1 SC 2.1.1
    assert accessibility_violations(page) == []

    # The public key alone: fooled, and the form says so in an alert.
    press(page, f"{FORM} button.kmslib-verify-button")
    wait_for_status(page, form, "Accepted, and fooled")
    assert form.locator(".kmslib-status-line [role=alert]").count() == 1
    assert "key_compromise" in status_of(form)

    # The CRLs: refused, with the reason and time.
    choose(page, f"{FORM} .kmslib-source select", 1)
    press(page, f"{FORM} button.kmslib-verify-button", "Space")
    wait_for_status(page, form, "was revoked")
    assert "The relying party refuses" in status_of(form)
    assert "What this relying party checked" in form.locator(".kmslib-why").inner_text()

    # OCSP, after the message was edited by keyboard: refused (the signature no longer matches).
    choose(page, f"{FORM} .kmslib-source select", 2)
    tab_to(page, f"{FORM} .kmslib-message textarea")
    page.keyboard.press("End")
    page.keyboard.insert_text(" (paid twice)")
    press(page, f"{FORM} button.kmslib-verify-button")
    wait_for_status(page, form, "refuses")
    assert accessibility_violations(page) == []
