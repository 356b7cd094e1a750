"""The dashboard's state controls in JupyterLab in headless Chromium: axe-core clean and keyboard-only.

The test writes its own small notebook into the server's temporary root (the course's notebooks
are not touched): a custodian with keys in several states, and ``KeyVaultDashboard(kms)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from test_course_in_browser import (
    FOCUSED_MATCHES,
    accessibility_violations,
    assert_no_errors,
    open_notebook,
    run_all,
    shift_tab_to,
    status_of,
    tab_to,
    unreachable_by_tab,
)

ROOT = Path(__file__).resolve().parents[2]
Lab = Any  # the lab fixture's type (tests/browser/conftest.py)
NOTEBOOK = "dashboard_states_check.ipynb"
SETUP = f"""\
import sys
sys.path.insert(0, {str(ROOT)!r})  # the kmslib of this checkout
from datetime import timedelta
from kmslib import KeyCustodian, classroom_clock
from kmslib.widgets import KeyVaultDashboard

clock = classroom_clock()
kms = KeyCustodian(clock=clock)
kms.establish_aes_key("payments")
kms.rotate_key("payments")
kms.establish_aes_key("later", activate_at=clock() + timedelta(days=1))
kms.establish_aes_key("leaked")
kms.mark_compromised("leaked", reason="found on a paste site")
"""
BOARD = ".kmslib-dashboard"


def write_notebook(root: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell("KeyVaultDashboard(kms)")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / NOTEBOOK)


def wait_for_status(page: Any, board: Any, text: str) -> None:
    page.wait_for_function(
        "([el, text]) => el.innerText.includes(text)", arg=[board.locator(".kmslib-status-line").element_handle(), text]
    )


def wait_for_row(page: Any, board: Any, text: str) -> None:
    page.wait_for_function(
        "([el, text]) => el.innerText.replace(/\\s+/g, ' ').includes(text)",
        arg=[board.locator(".kmslib-keys-table").element_handle(), text],
    )


def press(page: Any, selector: str, key: str = "Enter") -> None:
    """Tab to ``selector`` and press ``key``, checking on the way that the focus is visible."""
    tab_to(page, selector)
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    shadow = page.evaluate("() => getComputedStyle(document.activeElement).boxShadow")
    assert outline != "none" or shadow != "none", selector  # WCAG 2.1 SC 2.4.7
    page.keyboard.press(key)


def test_the_dashboards_state_controls_are_axe_clean_and_work_from_the_keyboard(page: Any, lab: Lab) -> None:
    write_notebook(lab.root)
    open_notebook(page, lab, NOTEBOOK)
    run_all(page)
    assert_no_errors(page)
    board = page.locator(BOARD).last
    board.scroll_into_view_if_needed()
    table = board.locator(".kmslib-keys-table").inner_text()
    for words in ("pre-activation (activates 2026-01-02 09:00 UTC)", "compromised", "v1 active, v2 active", "none"):
        assert words in " ".join(table.split()), words
    # The names Chromium computes for assistive technology are the labels a sighted student reads.
    for role, name in [
        ("combobox", "Key"),
        ("combobox", "Apply to"),
        ("textbox", "Reason"),
        ("textbox", "Rotate every (days)"),
        ("textbox", "Deactivate after (days)"),
        ("textbox", "Max uses"),
        ("button", "Suspend"),
        ("button", "Resume"),
        ("button", "Deactivate"),
        ("button", "Mark compromised…"),
        ("button", "Set policy"),
    ]:
        exact = role != "button"  # a button's name begins with its icon's glyph (Font Awesome's CSS content)
        assert board.get_by_role(role, name=name, exact=exact).count() == 1, (role, name)
    assert unreachable_by_tab(page, board) == []  # WCAG 2.1 SC 2.1.1
    assert accessibility_violations(page) == []

    # Suspend, then resume, the chosen key (payments, the first), from the keyboard alone.
    board.locator(".kmslib-key select").focus()  # where a keyboard user arrives after tabbing in
    press(page, f"{BOARD} button.kmslib-suspend-button")
    wait_for_status(page, board, "suspended 'payments'")
    wait_for_row(page, board, "payments aes-256-gcm 2 suspended")
    assert board.locator(".kmslib-status-line [role=status]").count() == 1  # announced, not only shown
    press(page, f"{BOARD} button.kmslib-resume-button", "Space")
    wait_for_status(page, board, "resumed 'payments'")
    wait_for_row(page, board, "payments aes-256-gcm 2 active")

    # A policy typed with a mistake: the error is announced at once, and what was typed stays.
    tab_to(page, f"{BOARD} .kmslib-rotate-every input")
    page.keyboard.insert_text("90")  # one input event, as a paste makes (see the AES keyboard test)
    tab_to(page, f"{BOARD} .kmslib-deactivate-after input")
    page.keyboard.insert_text("30")
    tab_to(page, f"{BOARD} .kmslib-max-uses input")
    page.keyboard.insert_text("-5")
    press(page, f"{BOARD} button.kmslib-policy-button")
    wait_for_status(page, board, "max uses must be from 1 to 2**32")
    assert board.locator(".kmslib-status-line [role=alert]").count() == 1
    assert "Traceback" not in status_of(board)
    assert board.locator(".kmslib-rotate-every input").input_value() == "90"
    shift_tab_to(page, f"{BOARD} .kmslib-max-uses input")
    page.keyboard.press("Control+A")
    page.keyboard.insert_text("1000")
    press(page, f"{BOARD} button.kmslib-policy-button")
    wait_for_row(page, board, "rotate every 90 days; deactivate after 30 days; max uses 1000")

    # Deactivate version 1 alone, chosen from the keyboard. JupyterLab takes a plain arrow key on a closed menu
    # (README, "Known problem"): the choice stays and the focus leaves. Typing a first letter, or Alt+Down
    # then the arrow keys and Enter, choose.
    menu = f"{BOARD} .kmslib-version select"
    version = board.locator(".kmslib-version select")
    board.locator(".kmslib-key select").focus()
    tab_to(page, menu)
    page.keyboard.press("ArrowDown")
    assert not page.evaluate(FOCUSED_MATCHES, menu)
    assert version.evaluate("(el) => el.selectedIndex") == 0
    board.locator(".kmslib-key select").focus()
    tab_to(page, menu)
    page.keyboard.press("o")  # "only version 1"
    page.wait_for_function("(el) => el.selectedIndex === 1", arg=version.element_handle())
    for key in ("Alt+ArrowDown", "ArrowUp", "Enter"):
        page.keyboard.press(key)
    page.wait_for_function("(el) => el.selectedIndex === 0", arg=version.element_handle())
    for key in ("Alt+ArrowDown", "ArrowDown", "Enter"):
        page.keyboard.press(key)
    page.wait_for_function("(el) => el.selectedIndex === 1", arg=version.element_handle())
    tab_to(page, f"{BOARD} .kmslib-reason input")
    page.keyboard.insert_text("its tokens were copied")
    press(page, f"{BOARD} button.kmslib-deactivate-button")
    wait_for_status(page, board, "version 1 of 'payments' is deactivated")
    wait_for_row(page, board, "v1 deactivated, v2 active")

    # Mark it compromised: a confirmation first, axe-clean while it is open, then confirmed by keyboard.
    press(page, f"{BOARD} button.kmslib-compromise-button")
    confirm = board.locator("button.kmslib-confirm-compromise-button")
    confirm.wait_for(state="visible")
    assert "Mark version 1 of payments compromised?" in " ".join(board.inner_text().split())
    assert accessibility_violations(page) == []
    assert unreachable_by_tab(page, board) == []
    board.locator("button.kmslib-compromise-button").focus()
    press(page, f"{BOARD} button.kmslib-confirm-compromise-button")
    wait_for_status(page, board, "version 1 of 'payments' is marked compromised")
    wait_for_row(page, board, "v1 compromised, v2 active")
    confirm.wait_for(state="hidden")

    # A state change the library refuses is shown, announced, in the dashboard.
    board.locator(".kmslib-version select").focus()
    press(page, f"{BOARD} button.kmslib-deactivate-button")
    wait_for_status(page, board, "Wrong key state")
    assert "version 1 of key 'payments' is compromised" in status_of(board)
    assert board.locator(".kmslib-status-line [role=alert]").count() == 1
    assert accessibility_violations(page) == []
