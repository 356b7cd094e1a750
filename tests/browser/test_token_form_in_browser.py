"""The token form (TokenForm) in JupyterLab in headless Chromium: axe-core clean and keyboard-only.

The test writes its own small notebook into the server's temporary root (the course's notebooks are not
touched): a practice SoftHSM2 token, two kmslib keys in it, a careless target, and ``TokenForm(token, kms)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
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

from kmslib.softhsm import unavailable

ROOT = Path(__file__).resolve().parents[2]
Lab = Any  # the lab fixture's type (tests/browser/conftest.py)
NOTEBOOK = "token_form_check.ipynb"
SETUP = f"""\
import sys
sys.path.insert(0, {str(ROOT)!r})  # the kmslib of this checkout
from kmslib import KeyCustodian, classroom_clock
from kmslib.course import hardware
from kmslib.widgets import TokenForm

token = hardware.practice_token()
kms = KeyCustodian(clock=classroom_clock(), hsm=token)
kms.establish_aes_key("payments", protection="hsm")
kms.generate_signing_key("invoices", algorithm="ecdsa-p256-sha256", protection="hsm")
target = hardware.extractable_target(token)  # the careless demo's key: sensitive, but extractable
"""
FORM = ".kmslib-token-form"


def write_notebook(root: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell("TokenForm(token, kms)")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / NOTEBOOK)


def choose(page: Any, selector: str, index: int) -> None:
    """Choose option ``index`` of the select at ``selector`` with the keyboard alone (Alt+Down opens its menu)."""
    select = page.locator(selector)
    current: int = select.evaluate("(el) => el.selectedIndex")
    tab_to(page, selector)
    page.keyboard.press("Alt+ArrowDown")
    for _ in range(abs(index - current)):
        page.keyboard.press("ArrowDown" if index > current else "ArrowUp")
    page.keyboard.press("Enter")
    page.wait_for_function("([el, i]) => el.selectedIndex === i", arg=[select.element_handle(), index])


def test_the_token_form_is_axe_clean_and_works_from_the_keyboard(page: Any, lab: Lab) -> None:
    if unavailable() is not None:
        pytest.skip(unavailable())
    write_notebook(lab.root)
    open_notebook(page, lab, NOTEBOOK)
    run_all(page)
    assert_no_errors(page)
    form = page.locator(FORM).last
    form.scroll_into_view_if_needed()
    for role, name in [
        ("combobox", "Key to export"),
        ("combobox", "kmslib key"),
        ("textbox", "Message"),
        ("textbox", "Token (output)"),
        ("button", "List objects"),
        ("button", "Try to export"),
        ("button", "Encrypt in the token"),
    ]:
        exact = role != "button"  # a button's name begins with its icon's glyph (Font Awesome's CSS content)
        assert form.get_by_role(role, name=name, exact=exact).count() == 1, (role, name)
    table = form.locator(".kmslib-token-table")
    assert table.locator("tbody tr, tr").count() >= 5  # a header and four objects
    assert "EXTRACTABLE" in table.inner_text()
    assert unreachable_by_tab(page, form) == []  # WCAG 2.1 SC 2.1.1
    assert accessibility_violations(page) == []

    # kmslib's AES key: both ways out refused, said in words.
    # (ipywidgets shows an option's spaces as no-break spaces)
    options = [text.replace("\xa0", " ") for text in form.locator(".kmslib-chosen select option").all_text_contents()]
    kmslibs = next(n for n, text in enumerate(options) if ": secret key, kmslib:" in text)
    choose(page, f"{FORM} .kmslib-chosen select", kmslibs)
    press(page, f"{FORM} button.kmslib-export-button")
    wait_for_status(page, form, "Export of kmslib:")
    assert "refused (AttributeSensitive)" in status_of(form)
    assert "refused (KeyUnextractable)" in status_of(form)
    assert form.locator(".kmslib-status-line [role=status]").count() == 1

    # The careless target: it leaves the token, wrapped, and the form says so in an alert.
    careless = next(n for n, text in enumerate(options) if text.endswith(", target"))
    choose(page, f"{FORM} .kmslib-chosen select", careless)
    press(page, f"{FORM} button.kmslib-export-button", "Space")
    wait_for_status(page, form, "LEFT the token")
    assert form.locator(".kmslib-status-line [role=alert]").count() == 1
    assert "The key left the token" in status_of(form)
    assert accessibility_violations(page) == []

    # One operation in the token: a message typed and encrypted, the kmslib token shown.
    tab_to(page, f"{FORM} .kmslib-message input")
    page.keyboard.press("Control+A")
    page.keyboard.insert_text("order 17")
    press(page, f"{FORM} button.kmslib-encrypt-button")
    wait_for_status(page, form, "the key did not move")
    assert form.locator(".kmslib-output textarea").input_value().startswith("kms:v1:aes-256-gcm:")
    assert "by 'payments'" in status_of(form)
    assert accessibility_violations(page) == []
