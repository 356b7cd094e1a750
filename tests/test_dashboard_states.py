"""The dashboard's key states and rotation policies (contract section 13), driven through its plain methods.

A button's click swallows its handler's errors, so each test calls the method the button calls
(``board.suspend()``, ``board.set_policy()`` ...) and reads what the dashboard shows.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest

from kmslib import ClassroomClock, KeyCustodian, classroom_clock
from kmslib.widgets import KeyVaultDashboard


def words(html_text: str) -> str:
    """What a piece of HTML says with its tags (and so its colours) taken away."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html_text))).strip()


def rows(board: KeyVaultDashboard) -> dict[str, dict[str, str]]:
    """The key table as text: ``{key id: {column heading: cell text}}``."""
    table = board.keys_table.value
    heads = [words(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", table)]
    found = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table)[1:]:
        cells = [words(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        found[cells[0]] = dict(zip(heads, cells, strict=True))
    return found


def is_error(board: KeyVaultDashboard, *texts: str) -> bool:
    """Whether the status line shows an error (announced at once) that says each of ``texts``."""
    status = board.status.value
    return 'role="alert"' in status and "kmslib-error" in status and all(t in words(status) for t in texts)


def is_ok(board: KeyVaultDashboard, *texts: str) -> bool:
    """Whether the status line shows a success (announced politely) that says each of ``texts``."""
    status = board.status.value
    return 'aria-live="polite"' in status and "kmslib-ok" in status and all(t in words(status) for t in texts)


@pytest.fixture
def clock() -> ClassroomClock:
    return classroom_clock()


@pytest.fixture
def kms(clock: ClassroomClock) -> KeyCustodian:
    return KeyCustodian(clock=clock)


# ---------------------------------------------------------------- what the table says


def test_the_table_names_every_state_in_words(kms: KeyCustodian, clock: ClassroomClock) -> None:
    # WCAG 2.1 SC 1.4.1: the state is written out, whatever its colour.
    kms.establish_aes_key("later", activate_at=clock() + timedelta(days=1))
    for key_id in ("on", "paused", "retired", "leaked", "gone"):
        kms.establish_aes_key(key_id)
    kms.suspend_key("paused")
    kms.deactivate_key("retired")
    kms.mark_compromised("leaked", reason="found on a paste site")
    kms.invalidate_key("gone")
    board = KeyVaultDashboard(kms)
    states = {key_id: row["state"] for key_id, row in rows(board).items()}
    assert states == {
        "later": "pre-activation (activates 2026-01-02 09:00 UTC)",
        "on": "active",
        "paused": "suspended",
        "retired": "deactivated",
        "leaked": "compromised",
        "gone": "revoked",
    }


def test_the_table_shows_each_version_state_and_the_rotation_policy(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    kms.rotate_key("k")
    kms.rotate_key("k")
    kms.rotate_key("k")
    kms.deactivate_key("k", version=1)
    kms.mark_compromised("k", version=2, reason="copied")
    kms.invalidate_key("k", version=3)
    kms.establish_aes_key("plain")
    kms.set_rotation_policy("k", rotate_every=timedelta(days=90), deactivate_after=timedelta(hours=12), max_uses=1000)
    board = KeyVaultDashboard(kms)
    row = rows(board)["k"]
    assert row["versions"] == "v1 deactivated, v2 compromised, v3 revoked, v4 active"
    assert row["rotation policy"] == "rotate every 90 days; deactivate after 0.5 days; max uses 1000"
    assert rows(board)["plain"]["rotation policy"] == "none"
    kms.set_rotation_policy("plain", rotate_every=timedelta(days=1))
    assert rows(board)["plain"]["rotation policy"] == "rotate every 1 day"  # a change in code, shown at once


# ---------------------------------------------------------------- suspend and resume


def test_suspend_and_resume_from_the_dashboard(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    board = KeyVaultDashboard(kms)
    board.reason.value = "incident 42 under investigation"
    info = board.suspend()
    assert info is not None
    assert (kms.key_info("k").state, kms.key_info("k").reason) == ("suspended", "incident 42 under investigation")
    assert is_ok(board, "suspended 'k'", "resume")
    assert rows(board)["k"]["state"] == "suspended"
    assert board.key.value == "k"  # a suspended key can still be chosen, to resume it
    assert "suspend_key" in board.audit_table.value
    info = board.resume()
    assert info is not None
    assert info.state == "active"
    assert kms.key_info("k").state == "active"
    assert is_ok(board, "resumed 'k'")
    assert rows(board)["k"]["state"] == "active"


def test_a_refused_suspension_or_resumption_says_why_and_changes_nothing(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    board = KeyVaultDashboard(kms)
    assert board.resume() is None
    assert is_error(board, "Wrong key state", "key 'k' is active", "only a suspended key can be resumed")
    assert "Traceback" not in board.status.value
    kms.deactivate_key("k")
    assert board.suspend() is None
    assert is_error(board, "Wrong key state", "key 'k' is deactivated", "cannot become suspended")
    assert kms.key_info("k").state == "deactivated"
    board.reason.value = "x" * 501  # too long: the library's own refusal, shown the same way
    kms.establish_aes_key("other")
    board.key.value = "other"
    assert board.suspend() is None
    assert is_error(board, "Invalid input", "limit is 500")
    assert kms.key_info("other").state == "active"
    assert board.reason.value == "x" * 501  # what was typed is kept


# ---------------------------------------------------------------- deactivate


def test_deactivate_the_whole_key_or_an_older_version(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    old = kms.encrypt_data_aes("k", "old record")
    kms.rotate_key("k")
    kms.rotate_key("k")
    board = KeyVaultDashboard(kms)
    assert [value for _, value in board.version.options] == [0, 1, 2]  # the newest alone is not offered
    board.version.value = 1
    board.reason.value = "cryptoperiod over"
    info = board.deactivate()
    assert info is not None
    assert dict(info.version_states)[1] == "deactivated"
    assert is_ok(board, "version 1 of 'k' is deactivated", "decrypts")
    assert rows(board)["k"]["versions"] == "v1 deactivated, v2 active, v3 active"
    assert ("only version 1 (deactivated)", 1) in board.version.options  # the state, in the label
    assert kms.decrypt_data_aes("k", old) == "old record"
    assert board.deactivate() is None  # again: the library refuses, the dashboard says so
    assert is_error(board, "Wrong key state", "version 1 of key 'k' is deactivated")
    board.version.value = 0
    info = board.deactivate()
    assert info is not None
    assert info.state == "deactivated"
    assert is_ok(board, "'k' is deactivated", "never encrypts")
    assert rows(board)["k"]["state"] == "deactivated"
    assert kms.key_info("k").reason == "cryptoperiod over"
    assert board.deactivate() is None
    assert is_error(board, "Wrong key state", "key 'k' is deactivated")


# ---------------------------------------------------------------- mark compromised


def test_mark_compromised_needs_a_reason_and_a_confirmation(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    board = KeyVaultDashboard(kms)
    assert board.request_compromise() is None
    assert is_error(board, "Invalid input", "reason")
    assert board.compromise_box.layout.display == "none"
    board.reason.value = "   "
    assert board.request_compromise() is None
    assert is_error(board, "reason")
    board.reason.value = "laptop stolen"
    assert board.request_compromise() == "k"
    assert kms.key_info("k").state == "active"  # nothing happens before the confirmation
    assert board.compromise_box.layout.display == "flex"
    assert "Mark k compromised?" in words(board.compromise_text.value)
    assert "allow_compromised=True" in words(board.compromise_text.value)
    board.cancel_compromise()
    assert board.compromise_box.layout.display == "none"
    assert kms.key_info("k").state == "active"
    assert board.confirm_compromise() is None  # nothing awaits confirmation any more
    assert is_error(board, "click Mark compromised first")
    assert kms.key_info("k").state == "active"
    board.request_compromise()
    info = board.confirm_compromise()
    assert info is not None
    assert (kms.key_info("k").state, kms.key_info("k").reason) == ("compromised", "laptop stolen")
    assert board.compromise_box.layout.display == "none"
    assert is_ok(board, "'k' is marked compromised")
    assert rows(board)["k"]["state"] == "compromised"
    assert "mark_compromised" in board.audit_table.value


def test_mark_one_version_compromised_confirms_what_was_asked(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    kms.rotate_key("k")
    board = KeyVaultDashboard(kms)
    board.version.value = 1
    board.reason.value = "v1 tokens leaked"
    board.request_compromise()
    assert "Mark version 1 of k compromised?" in words(board.compromise_text.value)
    board.version.value = 0  # changed after asking: what is confirmed is what was shown
    board.reason.value = "something else"
    assert board.confirm_compromise() is not None
    info = kms.key_info("k")
    assert (info.state, dict(info.version_states)[1]) == ("active", "compromised")
    assert info.version_reasons == ((1, "v1 tokens leaked"),)
    assert is_ok(board, "version 1 of 'k' is marked compromised")
    assert rows(board)["k"]["versions"] == "v1 compromised, v2 active"


def test_a_refused_compromise_is_shown_and_closes_the_confirmation(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    board = KeyVaultDashboard(kms)
    board.reason.value = "leaked"
    board.request_compromise()
    kms.mark_compromised("k", reason="marked in code meanwhile")
    assert board.confirm_compromise() is None
    assert is_error(board, "Wrong key state", "key 'k' is compromised")
    assert board.compromise_box.layout.display == "none"
    assert kms.key_info("k").reason == "marked in code meanwhile"


def test_only_one_confirmation_is_open_at_a_time(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    board = KeyVaultDashboard(kms)
    board.reason.value = "leaked"
    board.request_revoke()
    board.request_compromise()
    assert (board.confirm_box.layout.display, board.compromise_box.layout.display) == ("none", "flex")
    assert board.confirm_revoke() is None
    assert kms.key_info("k").state == "active"
    board.request_revoke()
    assert (board.confirm_box.layout.display, board.compromise_box.layout.display) == ("flex", "none")
    assert board.confirm_compromise() is None
    assert kms.key_info("k").state == "active"


def test_revoke_confirms_the_version_that_was_shown(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    kms.rotate_key("k")
    board = KeyVaultDashboard(kms)
    board.version.value = 1
    board.request_revoke()
    assert "Revoke version 1 of <b>k</b>?" in board.confirm_text.value
    board.version.value = 0  # changed after asking: confirming must not revoke the whole key
    board.confirm_revoke()
    info = kms.key_info("k")
    assert (info.state, info.revoked_versions) == ("active", (1,))


# ---------------------------------------------------------------- rotation policy


def test_set_a_rotation_policy_in_days_and_uses(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    board = KeyVaultDashboard(kms)
    board.rotate_every.value = "90"
    board.deactivate_after.value = " 30.5 "
    board.max_uses.value = "1000000"
    info = board.set_policy()
    assert info is not None
    assert info.policy is not None
    policy = kms.key_info("k").policy
    assert policy is not None
    assert (policy.rotate_every, policy.deactivate_after, policy.max_uses) == (
        timedelta(days=90),
        timedelta(days=30.5),
        1000000,
    )
    assert is_ok(board, "'k'", "rotate every 90 days; deactivate after 30.5 days; max uses 1000000")
    assert rows(board)["k"]["rotation policy"] == "rotate every 90 days; deactivate after 30.5 days; max uses 1000000"
    assert "set_rotation_policy" in board.audit_table.value
    board.deactivate_after.value = ""  # blank: none
    board.max_uses.value = ""
    board.set_policy()
    policy = kms.key_info("k").policy
    assert policy is not None
    assert (policy.rotate_every, policy.deactivate_after, policy.max_uses) == (timedelta(days=90), None, None)
    board.rotate_every.value = ""
    board.set_policy()
    assert kms.key_info("k").policy is None  # all blank: no policy
    assert is_ok(board, "'k' has no rotation policy")
    assert rows(board)["k"]["rotation policy"] == "none"


@pytest.mark.parametrize(
    ("field", "typed", "said"),
    [
        ("rotate_every", "ninety", "a number of days"),
        ("rotate_every", "-3", "more than 0"),
        ("rotate_every", "0", "more than 0"),
        ("rotate_every", "nan", "a number of days"),
        ("rotate_every", "inf", "a number of days"),
        ("rotate_every", "1e400", "a number of days"),
        ("deactivate_after", "1e12", "at most 999999999"),
        ("deactivate_after", "1e-12", "more than 0"),
        ("deactivate_after", "30 days", "a number of days"),
        ("max_uses", "2.5", "a whole number"),
        ("max_uses", "-1", "from 1 to 2**32"),
        ("max_uses", "0", "from 1 to 2**32"),
        ("max_uses", "many", "a whole number"),
        ("max_uses", str(2**32 + 1), "from 1 to 2**32"),
    ],
)
def test_bad_policy_input_says_what_is_wrong_and_loses_nothing(
    kms: KeyCustodian, field: str, typed: str, said: str
) -> None:
    kms.establish_aes_key("k")
    kms.set_rotation_policy("k", rotate_every=timedelta(days=7))
    board = KeyVaultDashboard(kms)
    board.rotate_every.value, board.deactivate_after.value, board.max_uses.value = "90", "30", "500"
    getattr(board, field).value = typed
    entries = len(kms.audit_log)
    assert board.set_policy() is None
    assert is_error(board, "Invalid input", said)
    assert "Traceback" not in board.status.value
    policy = kms.key_info("k").policy
    assert policy is not None
    assert policy.rotate_every == timedelta(days=7)
    assert policy.max_uses is None
    typed_now = (board.rotate_every.value, board.deactivate_after.value, board.max_uses.value)
    expected = {"rotate_every": "90", "deactivate_after": "30", "max_uses": "500"} | {field: typed}
    assert typed_now == tuple(expected.values())  # nothing typed is lost
    assert len(kms.audit_log) == entries  # refused before the custodian was asked


def test_the_policy_fields_show_the_chosen_keys_policy_and_a_refresh_keeps_what_is_typed(kms: KeyCustodian) -> None:
    kms.establish_aes_key("a")
    kms.establish_aes_key("b")
    kms.set_rotation_policy("b", rotate_every=timedelta(days=90), max_uses=10)
    board = KeyVaultDashboard(kms)
    assert (board.rotate_every.value, board.deactivate_after.value, board.max_uses.value) == ("", "", "")
    board.key.value = "b"
    assert (board.rotate_every.value, board.deactivate_after.value, board.max_uses.value) == ("90", "", "10")
    board.rotate_every.value = "45"  # being typed ...
    kms.encrypt_data_aes("a", "meanwhile, in code")  # ... when a change elsewhere refreshes the dashboard
    kms.establish_aes_key("c")
    assert board.key.value == "b"
    assert board.rotate_every.value == "45"


def test_setting_the_policy_shown_again_keeps_it(kms: KeyCustodian) -> None:
    kms.establish_aes_key("a")
    kms.establish_aes_key("b")
    period = timedelta(days=1, seconds=1, microseconds=7)  # an odd period, set in code
    kms.set_rotation_policy("b", rotate_every=period, deactivate_after=timedelta(hours=1), max_uses=3)
    before = kms.key_info("b").policy
    board = KeyVaultDashboard(kms)
    board.key.value = "b"
    assert board.set_policy() is not None  # nothing edited
    assert kms.key_info("b").policy == before


# ---------------------------------------------------------------- the chooser and changes made in code


def test_the_key_chooser_offers_every_key_that_is_not_revoked(kms: KeyCustodian, clock: ClassroomClock) -> None:
    board = KeyVaultDashboard(kms)
    assert board.suspend() is None
    assert is_error(board, "no active key")
    kms.establish_aes_key("later", activate_at=clock() + timedelta(days=1))
    for key_id in ("paused", "retired", "leaked", "gone"):
        kms.establish_aes_key(key_id)
    kms.suspend_key("paused")
    kms.deactivate_key("retired")
    kms.mark_compromised("leaked", reason="r")
    kms.invalidate_key("gone")
    assert list(board.key.options) == ["later", "paused", "retired", "leaked"]
    board.key.value = "later"
    board.reason.value = "the new key leaked before its first day"
    board.request_compromise()
    assert board.confirm_compromise() is not None
    assert kms.key_info("later").state == "compromised"


def test_changes_made_in_code_and_by_the_clock_appear_by_themselves(kms: KeyCustodian, clock: ClassroomClock) -> None:
    kms.establish_aes_key("k")
    board = KeyVaultDashboard(kms)
    kms.suspend_key("k")
    assert rows(board)["k"]["state"] == "suspended"
    kms.resume_key("k")
    assert rows(board)["k"]["state"] == "active"
    board.rotate_every.value, board.deactivate_after.value = "90", "30"
    board.set_policy()
    clock.advance(timedelta(days=90))
    kms.encrypt_data_aes("k", "first use after the period")  # rotates by policy, audited: the board follows
    assert rows(board)["k"]["version"] == "2"
    assert "rotate_key_by_policy" in board.audit_table.value
    clock.advance(timedelta(days=30))
    kms.encrypt_data_aes("k", "and after deactivate_after")
    assert rows(board)["k"]["versions"] == "v1 deactivated, v2 active"
    assert "deactivate_key_by_policy" in board.audit_table.value
