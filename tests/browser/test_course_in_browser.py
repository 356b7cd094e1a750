"""Every notebook of the course, opened and run in JupyterLab in headless Chromium.

What Python-only tests cannot see: widgets that fail to render ("Error displaying widget",
or a text repr instead of a form), and forms that do not respond to clicks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
Lab = Any  # the lab fixture's type (tests/browser/conftest.py)
#: The forms each notebook shows, by their CSS class.
FORMS = {
    "00_start_here.ipynb": ["kmslib-aes-form"],
    "01_aes.ipynb": ["kmslib-aes-form"],
    "02_rsa.ipynb": ["kmslib-rsa-form"],
    "03_diffie_hellman.ipynb": ["kmslib-dh-form"],
    "04_revocation_and_lifecycle.ipynb": ["kmslib-dashboard", "kmslib-aes-form"],
    "05_key_states.ipynb": ["kmslib-dashboard"],
    "06_envelope_encryption.ipynb": ["kmslib-envelope-form"],
    "07_signatures_and_trust.ipynb": ["kmslib-dh-form"],
    "08_sealed_storage.ipynb": ["kmslib-unseal-form"],
    "09_access_control.ipynb": ["kmslib-policy-form"],
    "10_keys_in_hardware.ipynb": ["kmslib-token-form"],
    "11_certificates_and_revocation.ipynb": ["kmslib-relying-party-form"],
    "12_capstone.ipynb": ["kmslib-dashboard"],
}

KERNEL_IDLE = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = panel && panel.sessionContext && panel.sessionContext.session
        && panel.sessionContext.session.kernel;
    return !!kernel && kernel.status === 'idle';
}"""
ALL_RUN = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const prompts = [...panel.node.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
    const done = prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
    return done && panel.sessionContext.session.kernel.status === 'idle';
}"""


def open_notebook(page: Any, lab: Lab, name: str) -> None:
    page.goto(lab.notebook_url(name, workspace=f"test-{name.removesuffix('.ipynb')}"))
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    page.wait_for_function(KERNEL_IDLE)


def run_all(page: Any) -> None:
    page.evaluate("window.jupyterapp.commands.execute('runmenu:run-all')")
    page.wait_for_function(ALL_RUN, timeout=120_000)


def widget_errors(page: Any) -> int:
    """How many outputs say "Error displaying widget" (the course's own prose may mention it)."""
    count: int = page.locator(".jp-OutputArea").get_by_text("Error displaying widget").count()
    return count


def assert_no_errors(page: Any) -> None:
    assert widget_errors(page) == 0
    assert page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0
    assert page.locator(".jp-OutputArea-output .jp-RenderedText[data-mime-type*=error]").count() == 0


#: axe-core's rules for WCAG 2.1 levels A and AA.
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def accessibility_violations(page: Any) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations inside the course's forms (JupyterLab's own chrome is not ours to judge)."""
    from axe_playwright_python.sync_playwright import Axe

    if page.locator(".kmslib-form").count() == 0:
        return []
    results = Axe().run(
        page,
        context={"include": [[".kmslib-form"]]},
        options={"runOnly": {"type": "tag", "values": WCAG_21_AA}},
    )
    return [
        f"{violation['id']}: {violation['help']} ({len(violation['nodes'])} elements: "
        f"{violation['nodes'][0]['target']})"
        for violation in results.response["violations"]
    ]


def status_of(form: Any) -> str:
    text: str = form.locator(".kmslib-status-line").inner_text()
    return text


MARK_CONTROLS = """(form) => {
    const controls = [...form.querySelectorAll('input, select, textarea, button')].filter(
        (el) => !el.disabled && el.offsetParent !== null && el.type !== 'file');
    controls.forEach((el, i) => el.setAttribute('data-tab-check', String(i)));
    if (controls.length) controls[0].focus();
    return controls.length;
}"""
FOCUSED_MARK = "() => document.activeElement && document.activeElement.getAttribute('data-tab-check')"


def unreachable_by_tab(page: Any, form: Any) -> list[str]:
    """The enabled, visible controls of ``form`` that pressing Tab from its first control never reaches."""
    total: int = form.evaluate(MARK_CONTROLS)
    reached = {page.evaluate(FOCUSED_MARK)}
    for _ in range(total + 5):
        page.keyboard.press("Tab")
        reached.add(page.evaluate(FOCUSED_MARK))
    missing = [str(i) for i in range(total) if str(i) not in reached]
    return [form.locator(f"[data-tab-check='{i}']").evaluate("(el) => el.outerHTML.slice(0, 120)") for i in missing]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_and_its_forms_render(page: Any, lab: Lab, name: str) -> None:
    open_notebook(page, lab, name)
    assert widget_errors(page) == 0  # nothing stale before running
    run_all(page)
    assert_no_errors(page)
    for form_class in FORMS[name]:
        form = page.locator(f".{form_class}").last
        form.scroll_into_view_if_needed()
        assert form.is_visible()
        visible = [button for button in form.locator("button").all() if button.is_visible()]
        assert len(visible) >= 2  # (the dashboard's confirm buttons stay hidden until Revoke is clicked)
        assert form.locator("input, textarea, select").count() >= 1
        assert unreachable_by_tab(page, form) == []  # WCAG 2.1 SC 2.1.1: every control, by keyboard
    assert accessibility_violations(page) == []
    # A form is a widget view, never its text repr.
    assert page.locator(".jp-OutputArea").get_by_text("<kmslib.widgets").count() == 0
    assert page.get_by_text("Would you like to receive official Jupyter news").count() == 0


def test_aes_form_encrypts_and_decrypts_what_is_typed(page: Any, lab: Lab) -> None:
    open_notebook(page, lab, "01_aes.ipynb")
    run_all(page)
    form = page.locator(".kmslib-aes-form").last
    form.scroll_into_view_if_needed()
    form.locator(".kmslib-plaintext textarea").fill("typed in the browser")
    form.locator("button.kmslib-encrypt-button").click()
    token = form.locator(".kmslib-token textarea")
    page.wait_for_function("(el) => el.value.startsWith('kms:v1:aes-256-')", arg=token.element_handle())
    assert "ok" in form.locator(".kmslib-status-line .kmslib-status").get_attribute("class")
    form.locator("button.kmslib-decrypt-button").click()
    decrypted = form.locator(".kmslib-decrypted textarea")
    page.wait_for_function("(el) => el.value === 'typed in the browser'", arg=decrypted.element_handle())
    assert (
        "nonce" in form.locator(".kmslib-anatomy").inner_text() or "IV" in form.locator(".kmslib-anatomy").inner_text()
    )
    # Tamper with the token in the page: the form shows the error and keeps working.
    token.fill(token.input_value()[:-6] + "AAAAA=")
    form.locator("button.kmslib-decrypt-button").click()
    page.wait_for_function(
        "(el) => el.innerText.includes('Decryption failed')", arg=form.locator(".kmslib-status-line").element_handle()
    )
    assert "Traceback" not in status_of(form)


def test_revoking_in_the_dashboard_shows_the_revoked_error_in_a_form(page: Any, lab: Lab) -> None:
    open_notebook(page, lab, "04_revocation_and_lifecycle.ipynb")
    run_all(page)
    board = page.locator(".kmslib-dashboard").last
    board.scroll_into_view_if_needed()
    assert "records" in board.locator(".kmslib-keys-table").inner_text()
    board.locator("button.kmslib-revoke-button").click()
    board.locator("button.kmslib-confirm-button").click()
    page.wait_for_function(
        "(el) => el.innerText.includes('Key Revocation Successful')",
        arg=board.locator(".kmslib-status-line").element_handle(),
    )
    assert "revoked" in board.locator(".kmslib-keys-table").inner_text()
    assert "invalidate_key" in board.locator(".kmslib-audit-table").inner_text()
    form = page.locator(".kmslib-aes-form").last
    form.scroll_into_view_if_needed()
    form.locator("button.kmslib-encrypt-button").click()
    page.wait_for_function(
        "(el) => el.innerText.includes('Key revoked')", arg=form.locator(".kmslib-status-line").element_handle()
    )
    assert "records" in status_of(form)


def test_flipping_an_iv_bit_in_the_aes_form_changes_one_character_of_a_cbc_message(page: Any, lab: Lab) -> None:
    open_notebook(page, lab, "01_aes.ipynb")
    run_all(page)
    form = page.locator(".kmslib-aes-form").last
    form.scroll_into_view_if_needed()
    form.locator(".kmslib-key select").select_option("lesson-cbc")
    form.locator(".kmslib-plaintext textarea").fill("to=bob;amt=0100;")
    form.locator("button.kmslib-encrypt-button").click()
    token = form.locator(".kmslib-token textarea")
    page.wait_for_function("(el) => el.value.startsWith('kms:v1:aes-256-cbc:')", arg=token.element_handle())
    before = token.input_value()
    form.locator(".kmslib-flip-byte input").fill("11")
    form.locator(".kmslib-flip-byte input").press("Tab")
    form.locator("button.kmslib-flip-button").click()
    page.wait_for_function("([el, old]) => el.value !== old", arg=[token.element_handle(), before])
    form.locator("button.kmslib-decrypt-button").click()
    decrypted = form.locator(".kmslib-decrypted textarea")
    page.wait_for_function("(el) => el.value === 'to=bob;amt=1100;'", arg=decrypted.element_handle())
    assert "authenticates nothing" in status_of(form)


def test_revoking_one_version_in_the_dashboard(page: Any, lab: Lab) -> None:
    open_notebook(page, lab, "04_revocation_and_lifecycle.ipynb")
    run_all(page)
    board = page.locator(".kmslib-dashboard").last
    board.scroll_into_view_if_needed()
    board.locator(".kmslib-key select").select_option("records")
    board.locator("button.kmslib-rotate-button").click()
    version = board.locator(".kmslib-version select")
    page.wait_for_function("(el) => el.options.length === 2", arg=version.element_handle())
    version.select_option(label="only version 2")
    board.locator(".kmslib-reason input").fill("cryptoperiod over")
    board.locator("button.kmslib-revoke-button").click()
    board.locator("button.kmslib-confirm-button").click()
    page.wait_for_function(
        "(el) => el.innerText.includes('version 2 of')", arg=board.locator(".kmslib-status-line").element_handle()
    )
    assert "the newer versions still work" in status_of(board)
    assert "revoked v1, v2" in board.locator(".kmslib-keys-table").inner_text()


def test_the_envelope_form_rotates_the_kek_without_touching_the_data(page: Any, lab: Lab) -> None:
    open_notebook(page, lab, "06_envelope_encryption.ipynb")
    run_all(page)
    form = page.locator(".kmslib-envelope-form").last
    form.scroll_into_view_if_needed()
    form.locator("button.kmslib-create-button").click()
    page.wait_for_function(
        "(el) => el.innerText.includes('created the KEK')", arg=form.locator(".kmslib-status-line").element_handle()
    )
    form.locator(".kmslib-text textarea").fill("typed into an envelope")
    form.locator("button.kmslib-encrypt-button").click()
    page.wait_for_function(
        "(el) => el.innerText.includes('wrapped data key (v1')", arg=form.locator(".kmslib-anatomy").element_handle()
    )
    form.locator("button.kmslib-rewrap-button").click()
    page.wait_for_function(
        "(el) => el.innerText.includes('unchanged, byte for byte')",
        arg=form.locator(".kmslib-unchanged").element_handle(),
    )
    form.locator("button.kmslib-decrypt-button").click()
    decrypted = form.locator(".kmslib-decrypted textarea")
    page.wait_for_function("(el) => el.value === 'typed into an envelope'", arg=decrypted.element_handle())


def test_signed_public_keys_stop_mallory_in_the_browser(page: Any, lab: Lab) -> None:
    open_notebook(page, lab, "07_signatures_and_trust.ipynb")
    run_all(page)
    form = page.locator(".kmslib-dh-form").last
    form.scroll_into_view_if_needed()
    form.locator(".kmslib-sign-switch input").check()
    form.locator(".kmslib-mallory-switch input").check()
    form.locator("button.kmslib-generate-button").click()
    form.locator("button.kmslib-exchange-button").click()
    page.wait_for_function(
        "(el) => el.innerText.includes('Mallory intercepted')", arg=form.locator(".kmslib-status-line").element_handle()
    )
    form.locator("button.kmslib-derive-button").click()
    page.wait_for_function(
        "(el) => el.innerText.includes('The exchange stops')", arg=form.locator(".kmslib-match").element_handle()
    )
    assert "Signature does not verify" in status_of(form)


def test_the_exchange_form_runs_the_hybrid_kem_flow(page: Any, lab: Lab) -> None:
    open_notebook(page, lab, "03_diffie_hellman.ipynb")
    run_all(page)
    form = page.locator(".kmslib-dh-form").last
    form.scroll_into_view_if_needed()
    form.locator(".kmslib-group select").select_option("x25519mlkem768")
    form.locator("button.kmslib-generate-button").click()
    page.wait_for_function(
        "(el) => el.innerText.includes('Bob will answer')", arg=form.locator(".kmslib-status-line").element_handle()
    )
    form.locator("button.kmslib-exchange-button").click()
    page.wait_for_function(
        "(el) => el.innerText.includes('1216 bytes')", arg=form.locator(".kmslib-status-line").element_handle()
    )
    form.locator("button.kmslib-derive-button").click()
    form.locator("button.kmslib-compare-button").click()
    page.wait_for_function(
        "(el) => el.innerText.includes('the fingerprints match')", arg=form.locator(".kmslib-match").element_handle()
    )


def test_the_unseal_form_takes_shares_one_at_a_time_and_opens_the_store(page: Any, lab: Lab) -> None:
    open_notebook(page, lab, "08_sealed_storage.ipynb")
    run_all(page)
    form = page.locator(".kmslib-unseal-form").last
    form.scroll_into_view_if_needed()
    cell = page.locator(".jp-CodeCell", has=form)
    printed = cell.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stdout']").inner_text()
    shares = {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in printed.splitlines() if ":" in line}
    assert sorted(shares) == ["Ana", "Chen", "Eli"]
    progress = form.locator(".kmslib-progress")
    box = form.locator(".kmslib-share textarea")
    words = shares["Chen"].split()
    words[4] = "academic" if words[4] != "academic" else "acid"
    box.fill(" ".join(words))  # one word wrong: the checksum catches it
    form.locator("button.kmslib-add-button").click()
    page.wait_for_function(
        "(el) => el.innerText.includes('not a valid share')", arg=form.locator(".kmslib-status-line").element_handle()
    )
    assert form.locator(".kmslib-status-line [role=alert]").count() == 1
    for n, holder in enumerate(("Ana", "Chen"), 1):
        box.fill(shares[holder])
        form.locator("button.kmslib-add-button").click()
        page.wait_for_function(f"(el) => el.innerText.includes('{n} of 3 shares given')", arg=progress.element_handle())
        assert box.input_value() == ""  # the share does not stay in the box
    box.fill(shares["Eli"])
    form.locator("button.kmslib-add-button").click()
    page.wait_for_function("(el) => el.innerText.includes('Unsealed: 3 keys')", arg=progress.element_handle())
    dashboard = form.locator(".kmslib-dashboard")
    dashboard.wait_for()
    assert "payroll" in dashboard.inner_text()
    assert accessibility_violations(page) == []  # the unsealed form, dashboard inside, too
    form.locator("button.kmslib-seal-button").click()
    page.wait_for_function("(el) => el.innerText.includes('No shares given yet')", arg=progress.element_handle())


FOCUSED_MATCHES = "(selector) => !!document.activeElement && document.activeElement.matches(selector)"


def tab_to(page: Any, selector: str, limit: int = 40) -> None:
    """Press Tab (only Tab) until the focused element matches ``selector``; fail if it is never reached."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED_MATCHES, selector):
            return
    pytest.fail(f"{selector} cannot be reached with the Tab key")


def test_the_aes_form_works_from_the_keyboard_alone(page: Any, lab: Lab) -> None:
    # WCAG 2.1 SC 2.1.1 (keyboard) and 2.4.7 (focus visible): one whole exercise, no mouse from the first field on.
    open_notebook(page, lab, "01_aes.ipynb")
    run_all(page)
    form = page.locator(".kmslib-aes-form").last
    form.scroll_into_view_if_needed()
    # The names Chromium computes for assistive technology are the labels a sighted student reads.
    for role, name in [("textbox", "New key id"), ("combobox", "Mode"), ("combobox", "Key"), ("textbox", "Plaintext")]:
        assert form.get_by_role(role, name=name, exact=True).count() == 1, (role, name)
    form.locator(".kmslib-new-key-id input").focus()  # where a keyboard user arrives after tabbing in
    page.keyboard.press("Control+A")
    # One input event, as a paste makes: ipywidgets holds back a model's later updates while one is pending,
    # and a button's message can overtake them (typing at machine speed, then Enter, would race).
    page.keyboard.insert_text("keyboard-key")
    tab_to(page, ".kmslib-aes-form button.kmslib-create-button")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    shadow = page.evaluate("() => getComputedStyle(document.activeElement).boxShadow")
    assert outline != "none" or shadow != "none"  # the focused button shows it has the focus
    page.keyboard.press("Enter")
    chooser = form.locator(".kmslib-key select")
    page.wait_for_function("(el) => el.value === 'keyboard-key'", arg=chooser.element_handle())
    tab_to(page, ".kmslib-aes-form .kmslib-plaintext textarea")
    page.keyboard.press("Control+A")
    page.keyboard.insert_text("typed with the keyboard alone")
    tab_to(page, ".kmslib-aes-form button.kmslib-encrypt-button")
    page.keyboard.press("Enter")
    token = form.locator(".kmslib-token textarea")
    page.wait_for_function("(el) => el.value.startsWith('kms:v1:aes-256-')", arg=token.element_handle())
    tab_to(page, ".kmslib-aes-form button.kmslib-decrypt-button")
    page.keyboard.press("Space")
    decrypted = form.locator(".kmslib-decrypted textarea")
    page.wait_for_function("(el) => el.value === 'typed with the keyboard alone'", arg=decrypted.element_handle())
    status = form.locator(".kmslib-status-line [role=status]")
    assert status.count() == 1  # the result was announced, not only shown


def shift_tab_to(page: Any, selector: str, limit: int = 20) -> None:
    """Press Shift+Tab until the focused element matches ``selector``; fail if it is never reached."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab")
        if page.evaluate(FOCUSED_MATCHES, selector):
            return
    pytest.fail(f"{selector} cannot be reached with Shift+Tab")


def test_the_store_can_be_unsealed_from_the_keyboard_alone(page: Any, lab: Lab) -> None:
    # WCAG 2.1 SC 2.1.1: the three holders paste their shares and press Add with the keyboard only.
    open_notebook(page, lab, "08_sealed_storage.ipynb")
    run_all(page)
    form = page.locator(".kmslib-unseal-form").last
    form.scroll_into_view_if_needed()
    printed = page.locator(".jp-CodeCell", has=form).locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stdout']"
    )
    shares = [line.split(":", 1)[1].strip() for line in printed.inner_text().splitlines() if ":" in line]
    assert form.get_by_role("textbox", name="Share", exact=True).count() == 1
    box = ".kmslib-unseal-form .kmslib-share textarea"
    form.locator(".kmslib-share textarea").focus()
    progress = form.locator(".kmslib-progress")
    for n, share in enumerate(shares, 1):
        page.keyboard.insert_text(share)  # one input event, as a paste makes
        tab_to(page, ".kmslib-unseal-form button.kmslib-add-button")
        page.keyboard.press("Enter" if n % 2 else "Space")
        expected = "Unsealed: 3 keys" if n == len(shares) else f"{n} of 3 shares given"
        page.wait_for_function(f"(el) => el.innerText.includes('{expected}')", arg=progress.element_handle())
        if n < len(shares):
            shift_tab_to(page, box)
    assert form.locator(".kmslib-progress [role=status]").count() == 1  # announced, not only shown


def test_mallory_can_be_switched_in_from_the_keyboard(page: Any, lab: Lab) -> None:
    open_notebook(page, lab, "03_diffie_hellman.ipynb")
    run_all(page)
    form = page.locator(".kmslib-dh-form").last
    form.scroll_into_view_if_needed()
    switch = form.locator(".kmslib-mallory-switch input[type=checkbox]")
    form.locator("button").first.focus()
    tab_to(page, ".kmslib-dh-form .kmslib-mallory-switch input[type=checkbox]")
    page.keyboard.press("Space")
    page.wait_for_function("(el) => el.checked", arg=switch.element_handle())
