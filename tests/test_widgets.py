"""The course's forms, driven as a student would: set values, click, read what is visible."""

from __future__ import annotations

import base64
import dataclasses
import html
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import ipywidgets as w
import pytest

import kmslib
from kmslib import DecryptionError, KeyCustodian, SignatureError, inspect_token
from kmslib.course import rechain
from kmslib.widgets import AESForm, DHExchangeForm, EnvelopeForm, KeyVaultDashboard, RSAForm
from kmslib.widgets._common import COLOURS


def is_error(form: object, text: str = "") -> bool:
    status = form.status.value  # type: ignore[attr-defined]
    return "kmslib-error" in status and text in status


def is_ok(form: object) -> bool:
    return "kmslib-ok" in form.status.value  # type: ignore[attr-defined]


# ---------------------------------------------------------------- AES


def test_aes_form_round_trip_by_clicks(kms: KeyCustodian) -> None:
    form = AESForm(kms)
    form.new_key_id.value = "class-key"
    form.create_button.click()
    assert is_ok(form)
    assert form.key.value == "class-key"
    form.plaintext.value = "Confidential Communication"
    form.encrypt_button.click()
    assert form.token.value.startswith("kms:v1:aes-256-gcm:")
    assert "nonce" in form.anatomy.value
    assert "tag" in form.anatomy.value
    assert inspect_token(form.token.value).nonce.hex(" ") in form.anatomy.value  # type: ignore[union-attr]
    form.decrypt_button.click()
    assert form.decrypted.value == "Confidential Communication"
    assert is_ok(form)


def test_aes_form_methods_return_what_they_show(kms: KeyCustodian) -> None:
    form = AESForm(kms)
    assert form.create_key() == "student-key"
    token = form.encrypt()
    assert token == form.token.value
    assert form.decrypt() == form.decrypted.value == "Confidential Communication"


def test_aes_form_cbc_shows_blocks_and_padding(kms: KeyCustodian) -> None:
    form = AESForm(kms)
    form.mode.value = "cbc"
    form.new_key_id.value = "cbc"
    form.create_key()
    form.plaintext.value = "exactly 16 bytes"
    form.encrypt()
    assert "IV" in form.anatomy.value
    assert "tag" not in form.anatomy.value
    assert "16 bytes of plaintext + 16 bytes of PKCS7 padding (each byte = 0x10) = 2 block(s)" in form.blocks.value
    assert form.blocks.value.count("block ") == 2
    form.decrypt()
    assert form.decrypted.value == "exactly 16 bytes"
    assert "CBC authenticates nothing" in form.status.value


def words(html_text: str) -> str:
    """What a page says with its colours taken away: the text alone."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html_text)).replace("&larr;", "←")


def test_colour_is_never_the_only_carrier_of_meaning(kms: KeyCustodian) -> None:
    # WCAG 2.1 SC 1.4.1: each colour in the forms says its meaning in words as well.
    form = AESForm(kms)
    form.mode.value = "cbc"
    form.new_key_id.value = "cbc"
    form.create_key()
    form.plaintext.value = "thirteen byte"
    form.encrypt()
    assert "block 1: " in words(form.blocks.value)
    assert "← the last 3 bytes are padding" in words(form.blocks.value)  # the red bytes, named
    for part in ("header", "IV", "ciphertext"):
        assert part in words(form.anatomy.value)
    board = KeyVaultDashboard(kms)
    kms.invalidate_key("cbc")
    board.refresh()
    keys, audit = words(board.keys_table.value), words(board.audit_table.value)
    assert "revoked" in keys
    assert "ok" in audit
    assert "✔ hash chain verified" in audit


def test_aes_form_associated_data(kms: KeyCustodian) -> None:
    form = AESForm(kms)
    form.create_key()
    form.associated_data.value = "user=alice"
    form.encrypt()
    form.associated_data.value = "user=mallory"
    form.decrypt_button.click()
    assert is_error(form, "Decryption failed")
    assert form.decrypted.value == ""
    form.associated_data.value = "user=alice"
    form.decrypt_button.click()
    assert form.decrypted.value == "Confidential Communication"


def test_aes_form_shows_a_tampered_token_as_an_error_and_keeps_working(kms: KeyCustodian) -> None:
    form = AESForm(kms)
    form.create_key()
    form.encrypt()
    header, payload = form.token.value.rsplit(":", 1)
    raw = bytearray(base64.b64decode(payload))
    raw[13] ^= 1
    form.token.value = f"{header}:{base64.b64encode(bytes(raw)).decode()}"
    form.decrypt_button.click()
    assert is_error(form, "Decryption failed")
    assert "decryption failed" not in form.status.value  # the title is not repeated
    assert "the token is malformed or was tampered with" in form.status.value
    assert "Traceback" not in form.status.value
    form.token.value = "not a token at all"
    form.decrypt_button.click()
    assert is_error(form, "Decryption failed")
    form.encrypt_button.click()
    form.decrypt_button.click()
    assert form.decrypted.value == "Confidential Communication"


def test_aes_form_empty_input_and_missing_key(kms: KeyCustodian) -> None:
    form = AESForm(kms)
    form.encrypt_button.click()
    assert is_error(form, "create or choose a key first")
    form.create_key()
    form.plaintext.value = ""
    form.encrypt_button.click()
    assert is_error(form, "type a message")
    assert form.encrypt() is None
    form.token.value = ""
    form.decrypt_button.click()
    assert is_error(form, "paste a token")
    form.new_key_id.value = ""
    form.create_button.click()
    assert is_error(form, "Invalid input")
    form.new_key_id.value = "student-key"
    form.create_button.click()
    assert is_error(form, "That key id is taken")


def test_aes_form_revoked_key(kms: KeyCustodian) -> None:
    form = AESForm(kms)
    form.create_key()
    form.encrypt()
    kms.invalidate_key("student-key")
    form.decrypt_button.click()
    assert is_error(form, "Key revoked")
    assert form.decrypted.value == ""
    form.refresh_keys()
    assert form.key.label == "student-key (revoked)"


def test_aes_form_offers_keys_made_in_code(kms: KeyCustodian) -> None:
    kms.establish_aes_key("made-in-code")
    kms.generate_rsa_pair("an-rsa-key")
    form = AESForm(kms)
    assert [value for _, value in form.key.options] == ["made-in-code"]
    assert form.key.value == "made-in-code"  # chosen, not an empty chooser
    form.encrypt_button.click()
    assert form.token.value.startswith("kms:v1:")


def test_aes_form_prefers_an_active_key(kms: KeyCustodian) -> None:
    kms.establish_aes_key("old")
    kms.establish_aes_key("new")
    kms.invalidate_key("old")
    assert AESForm(kms).key.value == "new"
    kms.invalidate_key("new")
    form = AESForm(kms)
    assert form.key.value == "old"  # only revoked keys: show one, and its error when used
    form.encrypt_button.click()
    assert is_error(form, "Key revoked")


# ---------------------------------------------------------------- RSA


def test_rsa_form_generate_encrypt_decrypt(kms: KeyCustodian) -> None:
    form = RSAForm(kms)
    form.generate_button.click()
    assert form.public_pem.value.startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in form.public_pem.value
    form.message.value = "Classified Information"
    assert "22 / 190 bytes for 'student-rsa' (rsa-oaep-sha256, 2048 bits): fits" in form.byte_count.value
    form.encrypt_button.click()
    assert form.token.value.startswith("kms:v1:rsa-oaep-sha256:")
    form.decrypt_button.click()
    assert form.decrypted.value == "Classified Information"


def test_rsa_form_live_count_and_limit_error(kms: KeyCustodian) -> None:
    form = RSAForm(kms)
    form.padding.value = "pkcs1v15"
    assert "/ 245 bytes for a new rsa-pkcs1v15 key of 2048 bits" in form.byte_count.value
    form.key_size.value = 3072
    assert "/ 373 bytes for a new rsa-pkcs1v15 key of 3072 bits" in form.byte_count.value
    form.key_size.value = 2048
    form.padding.value = "oaep"
    assert "/ 190 bytes for a new rsa-oaep-sha256 key" in form.byte_count.value
    form.generate()
    form.message.value = "x" * 190
    assert "190 / 190 bytes for 'student-rsa'" in form.byte_count.value
    assert "fits" in form.byte_count.value
    form.message.value = "é" * 100  # 200 bytes in UTF-8
    assert "200 / 190 bytes for 'student-rsa' (rsa-oaep-sha256, 2048 bits): too long" in form.byte_count.value
    form.encrypt_button.click()
    assert is_error(form, "Message too long")
    assert "at most 190 bytes" in form.status.value
    form.message.value = "short again"
    form.encrypt_button.click()
    form.decrypt_button.click()
    assert form.decrypted.value == "short again"


def test_rsa_form_order_and_empty_input(kms: KeyCustodian) -> None:
    form = RSAForm(kms)
    form.encrypt_button.click()
    assert is_error(form, "generate a key pair (or choose one) first")
    form.generate()
    form.message.value = ""
    form.encrypt_button.click()
    assert is_error(form, "type a message")
    form.token.value = "kms:v1:rsa-oaep-sha256:AAAA"
    form.decrypt_button.click()
    assert is_error(form, "Decryption failed")
    form.generate_button.click()
    assert is_error(form, "That key id is taken")


def test_rsa_form_key_chooser_and_the_counter_follow_the_chosen_key(kms: KeyCustodian) -> None:
    kms.generate_rsa_pair("legacy", padding="pkcs1v15")
    kms.establish_aes_key("not-rsa")
    form = RSAForm(kms)
    assert list(form.key.options) == ["legacy"]
    assert form.key.value == "legacy"
    assert form.public_pem.value == "" or form.public_pem.value.startswith("-----BEGIN PUBLIC KEY-----")
    form.message.value = "m"
    assert "1 / 245 bytes for 'legacy' (rsa-pkcs1v15, 2048 bits)" in form.byte_count.value
    form.padding.value = "oaep"  # the choice for a new key does not change the chosen key's limit
    assert "/ 245 bytes for 'legacy'" in form.byte_count.value
    form.key_id.value = "modern"
    form.generate()
    assert form.key.value == "modern"
    assert "/ 190 bytes for 'modern'" in form.byte_count.value
    form.key.value = "legacy"
    assert form.public_pem.value == kms.export_public_key("legacy")
    assert "/ 245 bytes for 'legacy'" in form.byte_count.value
    token = form.encrypt()
    assert token is not None
    assert token.startswith("kms:v1:rsa-pkcs1v15:")
    exports = sum(1 for entry in kms.audit_log if entry.operation == "export_public_key")
    form.message.value = "typing more"  # counting reads no key again
    assert sum(1 for entry in kms.audit_log if entry.operation == "export_public_key") == exports


def test_rsa_form_says_it_is_busy_while_it_generates(kms: KeyCustodian, monkeypatch: pytest.MonkeyPatch) -> None:
    form = RSAForm(kms)
    seen: list[tuple[bool, str, str]] = []
    original = kms.generate_rsa_pair

    def watched(*args: object, **kwargs: object) -> object:
        seen.append((form.generate_button.disabled, form.generate_button.description, form.status.value))
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(kms, "generate_rsa_pair", watched)
    form.key_size.value = 3072
    form.generate()
    (disabled, label, status) = seen[0]
    assert disabled
    assert label == "Generating…"
    assert "generating a 3072-bit key pair: this can take several seconds" in status
    assert not form.generate_button.disabled
    assert form.generate_button.description == "Generate key pair"
    assert is_ok(form)


# ---------------------------------------------------------------- Diffie-Hellman


@pytest.mark.parametrize("group", ["x25519", "ffdhe2048"])
def test_dh_form_alice_and_bob_agree(group: str) -> None:
    form = DHExchangeForm()
    form.group.value = group
    form.generate_button.click()
    form.exchange_button.click()
    form.derive_button.click()
    assert "Do they match?" in form.match.value  # no verdict before the students compare
    assert "✔" not in form.match.value
    form.compare_button.click()
    assert "the fingerprints match" in form.match.value
    fingerprint = form.alice.key_info("shared").fingerprint
    assert fingerprint == form.bob.key_info("shared").fingerprint
    assert form.alice_panel.value.count(fingerprint) == 1
    assert form.bob_panel.value.count(fingerprint) == 1
    form.message.value = "hello Bob"
    form.send_button.click()
    assert form.bob_received.value == "hello Bob"
    assert form.token.value.startswith("kms:v1:aes-256-gcm:")
    assert form.token_to_bob.value == form.token.value  # one leg, the same token
    assert "hello Bob" not in form.mallory_read.value
    assert is_ok(form)


def test_dh_form_mallory_in_the_middle_is_visible() -> None:
    form = DHExchangeForm()
    form.mallory_switch.value = True
    form.generate_button.click()
    form.exchange_button.click()
    assert "Mallory intercepted" in form.status.value
    form.derive_button.click()
    assert "differ" not in form.match.value
    alice, bob = form.alice.key_info("shared"), form.bob.key_info("shared")
    assert alice.fingerprint != bob.fingerprint
    assert form.mallory.key_info("with-alice").fingerprint == alice.fingerprint
    assert form.mallory.key_info("with-bob").fingerprint == bob.fingerprint
    assert "Mallory (in the middle)" in form.mallory_panel.value
    for peer in ("alice", "bob"):  # both keys she received, and what she sent each side
        assert form._keys[peer][1].fingerprint in form.mallory_panel.value
    assert form._keys["to-alice"][1].fingerprint in form.mallory_panel.value
    assert form._keys["to-bob"][1].fingerprint in form.mallory_panel.value
    form.message.value = "the vault code is 1234"
    form.send_button.click()
    assert form.bob_received.value == "the vault code is 1234"
    assert form.mallory_read.value == "the vault code is 1234"
    assert form.token_to_bob.value != form.token.value  # two legs: Mallory re-encrypted
    assert "Mallory read it too" in form.status.value
    assert form.compare() is False
    assert "the fingerprints differ" in form.match.value


def test_dh_form_mallory_switch_acts_at_any_step() -> None:
    # On after the key pairs are made, before the exchange: she is in the middle.
    form = DHExchangeForm()
    form.generate()
    form.mallory_switch.value = True
    assert "waiting on the wire" in form.mallory_panel.value
    form.exchange()
    form.derive()
    assert form.send() == "Meet me at noon"
    assert form.mallory_read.value == "Meet me at noon"
    # Off again after she intercepted the exchange: the keys Alice and Bob hold do not match.
    form.mallory_switch.value = False
    assert "now off the wire" in form.mallory_panel.value
    assert form.send() is None
    assert is_error(form, "Decryption failed")
    # On only after the keys were agreed: she is too late.
    late = DHExchangeForm()
    late.generate()
    late.exchange()
    late.derive()
    late.mallory_switch.value = True
    assert "arrived after the exchange" in late.mallory_panel.value
    assert late.send() == "Meet me at noon"
    assert "she holds no key" in late.mallory_read.value
    assert late.compare() is True
    assert DHExchangeForm().compare() is None


def test_dh_form_steps_in_order() -> None:
    form = DHExchangeForm()
    form.send_button.click()
    assert is_error(form, "derive the shared key first")
    form.exchange_button.click()
    assert is_error(form, "generate the key pairs first")
    form.generate_button.click()
    form.derive_button.click()
    assert is_error(form, "exchange the public keys first")
    assert form.run_all() == "Meet me at noon"
    form.derive_button.click()
    assert is_error(form, "already derived")
    form.message.value = ""
    form.send_button.click()
    assert is_error(form, "type a message")


def test_aes_form_iv_bit_flip_changes_one_character_in_cbc_and_fails_in_gcm(kms: KeyCustodian) -> None:
    form = AESForm(kms)
    form.mode.value = "cbc"
    form.new_key_id.value = "legacy"
    form.create_key()
    form.plaintext.value = "to=bob;amt=0100;"
    form.encrypt()
    form.flip_byte.value = 11
    form.flip_button.click()
    assert "flipped the lowest bit of IV byte 11" in form.status.value
    form.decrypt_button.click()
    assert form.decrypted.value == "to=bob;amt=1100;"  # '0' ^ 1 == '1': one character, no error
    assert is_ok(form)
    assert "authenticates nothing" in form.status.value
    for hint in ("tamper", "garbage", "detect"):
        assert hint not in form.status.value
    form.mode.value = "gcm"
    form.new_key_id.value = "modern"
    form.create_key()
    form.encrypt()
    form.flip_byte.value = 11
    form.flip_iv_bit()
    assert "nonce byte 11" in form.status.value
    form.decrypt()
    assert is_error(form, "Decryption failed")
    assert form.decrypted.value == ""
    form.flip_byte.value = 12  # a GCM nonce has 12 bytes
    assert form.flip_iv_bit() is None
    assert is_error(form, "bytes 0 to 11")
    form.token.value = ""
    assert form.flip_iv_bit() is None
    assert is_error(form, "encrypt a message first")


def test_aes_form_key_list_follows_the_custodian(kms: KeyCustodian) -> None:
    form = AESForm(kms)
    assert list(form.key.options) == []
    kms.establish_aes_key("made-in-code")
    assert ("made-in-code", "made-in-code") in list(form.key.options)
    assert form.key.value == "made-in-code"
    board = KeyVaultDashboard(kms)
    board.key.value = "made-in-code"
    board.request_revoke()
    board.confirm_revoke()
    assert ("made-in-code (revoked)", "made-in-code") in list(form.key.options)
    form.close()
    kms.establish_aes_key("after-close")
    assert "after-close" not in [value for _, value in form.key.options]


# ---------------------------------------------------------------- dashboard


def test_dashboard_reflects_rotation_and_revocation(kms: KeyCustodian) -> None:
    kms.establish_aes_key("payments")
    kms.establish_aes_key("reports", mode="cbc")
    board = KeyVaultDashboard(kms)
    assert "payments" in board.keys_table.value
    assert "aes-256-cbc" in board.keys_table.value
    assert board.key.value == "payments"  # the first active key is chosen
    board.rotate_button.click()
    assert kms.key_info("payments").version == 2
    assert "rotated 'payments'" in board.status.value
    assert "rotate_key" in board.audit_table.value
    board.revoke_button.click()
    assert kms.key_info("payments").active  # nothing happens before confirmation
    assert board.confirm_box.layout.display == "flex"
    assert "Revoke <b>payments</b>?" in board.confirm_text.value
    board.cancel_button.click()
    assert kms.key_info("payments").active
    assert board.confirm_box.layout.display == "none"
    board.reason.value = "key leaked"
    board.revoke_button.click()
    board.confirm_button.click()
    info = kms.key_info("payments")
    assert (info.state, info.reason) == ("revoked", "key leaked")
    assert "Key Revocation Successful" in board.status.value
    assert "revoked" in board.keys_table.value
    assert "payments" not in board.key.options
    assert "✔ hash chain verified against the head saved" in board.audit_table.value


def test_dashboard_follows_actions_taken_in_code(kms: KeyCustodian) -> None:
    board = KeyVaultDashboard(kms)
    assert "no keys yet" in board.keys_table.value
    kms.establish_aes_key("from-code")
    assert "from-code" in board.keys_table.value
    assert "from-code" in board.key.options
    with pytest.raises(DecryptionError):
        kms.decrypt_data_aes("from-code", "garbage")
    assert "DecryptionError" in board.audit_table.value
    kms.rotate_key("from-code")
    assert ">2<" in board.keys_table.value
    board.close()
    kms.establish_aes_key("after-close")
    assert "after-close" not in board.keys_table.value


def test_dashboard_errors_stay_in_the_form(kms: KeyCustodian) -> None:
    board = KeyVaultDashboard(kms)
    board.rotate_button.click()
    assert is_error(board, "no active key")
    board.confirm_button.click()
    assert is_error(board, "click Revoke first")
    kms.establish_aes_key("k")
    board.key.value = "k"
    board.request_revoke()
    kms.invalidate_key("k")  # revoked in code meanwhile
    board.confirm_button.click()
    assert is_error(board, "Key revoked")


def test_dashboard_shows_version_revocation_and_limits_the_log(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    for _ in range(3):
        kms.rotate_key("k")
    kms.invalidate_key("k", version=1)
    board = KeyVaultDashboard(kms, audit_rows=3)
    assert "active (revoked v1)" in board.keys_table.value
    assert "the last 3 of 5 entries" in board.audit_table.value


def test_dashboard_revokes_one_version_after_rewrapping_a_token(kms: KeyCustodian) -> None:
    kms.establish_aes_key("records")
    old = kms.encrypt_data_aes("records", "patient 1041")
    board = KeyVaultDashboard(kms)
    assert [value for _, value in board.version.options] == [0]  # one version: only the whole key
    board.rotate_button.click()
    assert [value for _, value in board.version.options] == [0, 1]  # the newest cannot be revoked alone
    board.token.value = old
    board.rewrap_button.click()
    new = board.rewrapped.value
    assert new.startswith("kms:v2:aes-256-gcm:")
    assert "rewrapped under version 2" in board.status.value
    assert "patient 1041" not in board.status.value + board.rewrapped.value
    board.version.value = 1
    board.reason.value = "laptop stolen"
    board.revoke_button.click()
    assert "Revoke version 1 of <b>records</b>?" in board.confirm_text.value
    board.confirm_button.click()
    info = kms.key_info("records")
    assert (info.state, info.revoked_versions, info.version_reasons) == ("active", (1,), ((1, "laptop stolen"),))
    assert "the newer versions still work" in board.status.value
    assert [value for _, value in board.version.options] == [0]
    assert kms.decrypt_data_aes("records", new) == "patient 1041"
    board.token.value = old
    board.rewrap()
    assert is_error(board, "Key revoked")
    board.token.value = ""
    assert board.rewrap() is None
    assert is_error(board, "paste a token")


def test_the_chain_tick_checks_against_a_head_saved_earlier(kms: KeyCustodian) -> None:
    import dataclasses

    kms.establish_aes_key("k")
    kms.rotate_key("k")
    board = KeyVaultDashboard(kms)
    assert (board.saved_head, board.saved_at) == (kms.audit_log.head, 2)
    assert "✔ hash chain verified against the head saved after entry #1" in board.audit_table.value
    kms.encrypt_data_aes("k", "growth after the saved head")
    assert "✔ hash chain verified against the head saved after entry #1" in board.audit_table.value
    # Rewrite entry 0 inside the log and recompute every hash: consistent, but not what was saved.
    log = kms.audit_log
    entries = list(log)
    log._entries[:] = rechain([dataclasses.replace(entries[0], key_id="someone-else"), *entries[1:]])
    assert log.verify()  # on its own, the rewritten chain is consistent
    board.refresh()
    assert "✘ hash chain BROKEN" in board.audit_table.value
    assert f'class="kmslib-chain" style="color:{COLOURS["padding"]}"' in board.audit_table.value
    board.save_head_button.click()  # saving a head after the rewrite vouches for it: the lesson
    assert board.saved_at == 3
    assert "saved the head after entry #2" in board.status.value
    assert "✔ hash chain verified against the head saved after entry #2" in board.audit_table.value
    assert "from the empty log" in KeyVaultDashboard(KeyCustodian()).audit_table.value


# ---------------------------------------------------------------- every form


def _unsealed_form(kms: KeyCustodian) -> object:
    """An UnsealForm over a new store, unsealed, so that its dashboard shows too."""
    from kmslib.widgets import UnsealForm

    path = Path(tempfile.mkdtemp()) / "form.db"
    shares = kmslib.init_store(path, shares=3, threshold=2)
    form = UnsealForm(path)
    for share in shares[:2]:
        form.add_share(share)
    assert form.custodian is not None
    return form


FORMS: list[Callable[[KeyCustodian], object]] = [
    AESForm,
    RSAForm,
    lambda kms: DHExchangeForm(),
    KeyVaultDashboard,
    EnvelopeForm,
    _unsealed_form,
]
FORM_IDS = ["aes", "rsa", "dh", "dashboard", "envelope", "unseal"]


@pytest.mark.parametrize("make", FORMS, ids=FORM_IDS)
def test_each_form_is_a_widget_tree_that_displays_itself(
    kms: KeyCustodian, make: Callable[[KeyCustodian], object]
) -> None:
    form = make(kms)
    assert isinstance(form.widget, w.VBox)  # type: ignore[attr-defined]
    bundle = form._repr_mimebundle_()  # type: ignore[attr-defined]
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == form.widget.model_id  # type: ignore[attr-defined]


def _controls(widget: w.Widget) -> list[w.Widget]:
    """Every control in a widget tree: what a keyboard user tabs to or a screen reader names."""
    found = []
    for child in getattr(widget, "children", ()):
        found.extend(_controls(child))
    if isinstance(widget, (w.Text, w.Textarea, w.Dropdown, w.Checkbox, w.ToggleButtons, w.IntText, w.Password)):
        found.append(widget)
    return found


@pytest.mark.parametrize("make", FORMS, ids=FORM_IDS)
def test_every_control_has_a_name_assistive_technology_reads(
    kms: KeyCustodian, make: Callable[[KeyCustodian], object]
) -> None:
    # WCAG 2.1 SC 1.3.1 and 4.1.2: a control's name is programmatic, not only a label beside it.
    # ipywidgets renders ``description`` as a <label for=...> tied to the control.
    form = make(kms)
    controls = _controls(form.widget)  # type: ignore[attr-defined]
    assert len(controls) >= 2
    unnamed = [
        f"{type(c).__name__}({c.placeholder if hasattr(c, 'placeholder') else ''!r})"
        for c in controls
        if not c.description
    ]
    assert unnamed == []


def test_status_messages_are_announced(kms: KeyCustodian) -> None:
    # WCAG 2.1 SC 4.1.3: a status message reaches a screen reader without taking the focus.
    form = AESForm(kms)
    form.create_button.click()
    assert 'role="status"' in form.status.value
    assert 'aria-live="polite"' in form.status.value
    form.token.value = "kms:v1:not-a-token"
    form.decrypt_button.click()
    assert 'role="alert"' in form.status.value


def test_import_kmslib_still_imports_no_ipywidgets() -> None:
    code = "import sys, kmslib; print('ipywidgets' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# ---------------------------------------------------------------- envelope


def test_envelope_form_encrypts_text_rotates_the_kek_and_decrypts(kms: KeyCustodian) -> None:
    from kmslib.widgets import EnvelopeForm

    form = EnvelopeForm(kms)
    assert form.encrypt() is None
    assert is_error(form, "create or choose a KEK first")
    form.create_button.click()
    assert form.kek.value == "student-kek"
    form.text.value = "the quarterly report"
    form.associated_data.value = "file=report.txt"
    form.encrypt_button.click()
    assert is_ok(form)
    assert form.envelope is not None
    for part in ("header", "wrapped data key (v1 of the KEK)", "nonce", "ciphertext", "tag"):
        assert part in form.anatomy.value
    assert "20 bytes" in form.anatomy.value  # the ciphertext is as long as the text
    form.rewrap_button.click()
    assert "unchanged, byte for byte" in form.unchanged.value
    assert "wrapped data key (v2 of the KEK)" in form.anatomy.value
    assert kms.key_info("student-kek").version == 2
    form.decrypt_button.click()
    assert form.decrypted.value == "the quarterly report"
    form.associated_data.value = "file=other.txt"
    form.decrypt()
    assert is_error(form, "Decryption failed")


def test_envelope_form_takes_an_uploaded_file(kms: KeyCustodian) -> None:
    from kmslib.widgets import EnvelopeForm

    kms.establish_aes_key("kek")
    kms.establish_aes_key("legacy", mode="cbc")
    form = EnvelopeForm(kms)
    assert list(form.kek.options) == ["kek"]  # only AES-256-GCM keys may wrap data keys
    content = bytes(range(256)) * 4
    when = datetime(2026, 1, 5, tzinfo=UTC)
    upload = {"name": "photo.bin", "type": "", "size": len(content), "content": memoryview(content)}
    form.upload.value = ({**upload, "last_modified": when},)
    assert form.encrypt() is not None
    assert "photo.bin (1024 bytes)" in form.status.value
    assert form.decrypt() == content
    assert form.decrypted.value == "(1024 bytes of binary data)"
    assert EnvelopeForm(KeyCustodian()).rotate_and_rewrap() is None


def test_signed_public_keys_stop_mallory_and_let_an_honest_exchange_through() -> None:
    honest = DHExchangeForm()
    honest.sign_switch.value = True
    assert honest.run_all() == "Meet me at noon"
    assert "received a signature over the transcript" in honest.alice_panel.value
    assert "received a signature over the transcript" in honest.bob_panel.value
    assert honest.compare() is True
    attacked = DHExchangeForm()
    attacked.sign_switch.value = True
    attacked.mallory_switch.value = True
    attacked.generate()
    attacked.exchange()
    assert attacked.derive() is None
    assert is_error(attacked, "Signature does not verify")
    assert "does not verify with the signing key" in attacked.match.value
    assert "The exchange stops; no key was derived" in attacked.match.value
    assert "shared" not in attacked.alice
    assert "shared" not in attacked.bob
    assert attacked.send() is None  # nothing to send with
    unsigned = DHExchangeForm()
    unsigned.mallory_switch.value = True
    unsigned.run_all()
    assert unsigned.mallory_read.value == "Meet me at noon"  # without signatures, Mallory reads along


@pytest.mark.parametrize("group", ["x25519", "ffdhe2048", "x25519mlkem768"])
def test_the_signed_exchange_signs_the_transcript_not_the_bare_key(group: str) -> None:
    # Contract section 8: a signature over one's own public key alone could be replayed, or passed on to another
    # peer. The form's signatures cover the transcript (both names, both keys, the ciphertext), and the keys bind it.
    from kmslib import verify_signature
    from kmslib.kex import Transcript, verify_transcript

    form = DHExchangeForm()
    form.group.value = group
    form.sign_switch.value = True
    assert form.run_all() == "Meet me at noon"
    bob_signature, alice_signature = form._signatures["alice"], form._signatures["bob"]
    alice_public, received = form._keys["alice"][1], form._received["alice"]
    bare = received.pem if group != "x25519mlkem768" else received.printable
    with pytest.raises(SignatureError):
        verify_signature(form._trusted["alice"], bare, bob_signature)
    transcript = Transcript.of(alice_public, received, initiator="alice", responder="bob")
    verify_transcript(form._trusted["alice"], transcript, bob_signature, role="responder")
    verify_transcript(form._trusted["bob"], transcript, alice_signature, role="initiator")
    with pytest.raises(SignatureError):  # the same signature in an exchange with Carol
        verify_transcript(
            form._trusted["alice"],
            Transcript.of(alice_public, received, initiator="carol", responder="bob"),
            bob_signature,
            role="responder",
        )
    assert form.alice.key_info("shared").fingerprint == form.bob.key_info("shared").fingerprint


def test_dashboard_signs_a_checkpoint_and_checks_the_log_against_it(kms: KeyCustodian) -> None:
    board = KeyVaultDashboard(kms)
    assert board.sign_checkpoint() is None
    assert is_error(board, "make a signing key first")
    kms.generate_signing_key("auditor")
    kms.establish_aes_key("k")
    assert board.signer.value == "auditor"
    board.checkpoint_button.click()
    assert board.checkpoint.value.startswith("kmslib-checkpoint:v1:2:")
    kms.encrypt_data_aes("k", "growth")
    board.check_button.click()
    assert "✔ the exported log extends the signed checkpoint" in board.checkpoint_verdict.value
    entries = list(kms.audit_log)
    kms.audit_log._entries[:] = rechain([dataclasses.replace(entries[0], key_id="someone-else"), *entries[1:]])
    assert board.verify_against_checkpoint() is False
    assert "does NOT match the signed checkpoint" in board.checkpoint_verdict.value


def test_dh_form_hybrid_group_follows_the_kem_flow() -> None:
    form = DHExchangeForm()
    form.group.value = "x25519mlkem768"
    form.generate_button.click()
    assert "Bob will answer her public key" in form.status.value
    assert "bob" not in form._keys  # the responder makes no key pair
    form.exchange_button.click()
    assert "Alice sent her public key (1216 bytes); Bob replied" in form.status.value
    assert "(1120 bytes)" in form.status.value
    assert "shared" in form.bob  # Bob holds his key from his reply on
    assert "shared" not in form.alice
    form.derive_button.click()
    assert form.compare() is True
    assert form.send() == "Meet me at noon"
    attacked = DHExchangeForm()
    attacked.group.value = "x25519mlkem768"
    attacked.mallory_switch.value = True
    attacked.run_all()
    assert "answered Alice herself" in attacked.mallory_panel.value
    assert "received Bob's reply" in attacked.mallory_panel.value
    assert attacked.mallory_read.value == "Meet me at noon"
    assert attacked.compare() is False
    signed = DHExchangeForm()
    signed.group.value = "x25519mlkem768"
    signed.sign_switch.value = True
    assert signed.run_all() == "Meet me at noon"
    stopped = DHExchangeForm()
    stopped.group.value = "x25519mlkem768"
    stopped.sign_switch.value = True
    stopped.mallory_switch.value = True
    stopped.generate()
    assert stopped.exchange() is not None  # Bob can sign his transcript only once he has replied
    assert stopped.derive() is None
    assert is_error(stopped, "Signature does not verify")
    assert "Alice checked the signature" in stopped.match.value
    assert "The exchange stops" in stopped.match.value
    assert "shared" not in stopped.alice
    assert stopped.bob.key_info("shared").state == "revoked"  # Alice never signed: Bob drops the key of his reply
    assert "(revoked)" in stopped.bob_panel.value
    assert stopped.send() is None


# ---------------------------------------------------------------- unseal


@pytest.fixture
def team_store(tmp_path: Path) -> tuple[Path, list[str]]:
    path = tmp_path / "team.db"
    shares = kmslib.init_store(path, shares=5, threshold=3)
    with KeyCustodian.open(path, shares=shares[:3]) as kms:
        kms.establish_aes_key("payroll")
        kms.generate_signing_key("auditor")
    return path, shares


def test_unseal_form_counts_shares_one_at_a_time_then_shows_the_stored_keys(team_store: tuple[Path, list[str]]) -> None:
    from kmslib.widgets import UnsealForm

    path, shares = team_store
    form = UnsealForm(path)
    assert "No shares given yet: sealed." in form.progress.value
    assert 'role="status"' in form.progress.value
    form.share.value = shares[3]
    form.add_button.click()
    assert form.share.value == ""  # a pasted share never stays in the box
    assert "1 of 3 shares given: still sealed." in form.progress.value
    form.add_share("  " + shares[3].replace(" ", "\n") + "  ")  # the same share again, pasted with line breaks
    assert "given already" in form.status.value
    assert form.shares_given == 1
    form.add_share(shares[0])
    assert "2 of 3 shares given" in form.progress.value
    assert form.custodian is None
    form.add_share(shares[4])
    assert form.custodian is not None
    assert "Unsealed: 2 keys" in form.progress.value
    assert form.shares_given == 0  # forgotten once the store is open
    board = form.dashboard_box.children[0]
    assert "payroll" in html.unescape(str(board.children))  # the dashboard shows the stored keys
    form.seal_button.click()
    assert form.custodian is None
    assert form.dashboard_box.children == ()
    assert "Sealed" in form.status.value
    with KeyCustodian.open(path, shares=shares[1:4]) as kms:  # sealing released the store
        assert [e.operation for e in kms.audit_log][-2:] == ["close", "open"]


def test_unseal_form_names_a_mistyped_share_and_a_share_of_another_set(team_store: tuple[Path, list[str]]) -> None:
    from kmslib.widgets import UnsealForm

    path, shares = team_store
    form = UnsealForm(path)
    words = shares[1].split()
    words[10] = "academic" if words[10] != "academic" else "acid"
    form.add_share(" ".join(words))
    assert 'role="alert"' in form.status.value
    assert "this share is not a valid share" in form.status.value
    assert "checksum" in form.status.value
    assert form.shares_given == 0
    other = kmslib.init_store(path.with_name("other.db"), shares=5, threshold=3)
    form.add_share(shares[1])
    form.add_share(other[0])
    assert "belongs to another set" in form.status.value
    assert form.shares_given == 1
    form.forget_button.click()
    assert form.shares_given == 0
    for share in other[:3]:  # a whole set, of another store
        form.add_share(share)
    assert "Still sealed" in form.status.value
    assert "do not unseal this store" in form.status.value
    assert form.custodian is None
    assert "No shares given yet" in form.progress.value


def test_the_dashboard_of_a_closed_custodian_says_so(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    board = KeyVaultDashboard(kms)
    kms.close()  # the dashboard follows the log, and the close is logged
    assert "the custodian is closed" in board.keys_table.value
    assert board.key.options == ()
