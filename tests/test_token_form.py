"""TokenForm: a token's objects listed, an export refused (or not, for a careless key), one encryption in the token.

Driven through its plain methods and its buttons (``Button.click`` swallows a handler's errors, so each click is
followed by a look at what the form shows), read from its widgets.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from kmslib import ArgumentTypeError, HardwareToken, KeyCustodian
from kmslib.course import hardware


@pytest.fixture
def hsm_keys(hsm_kms: KeyCustodian) -> KeyCustodian:
    hsm_kms.establish_aes_key("payments", protection="hsm")
    hsm_kms.generate_signing_key("invoices", algorithm="ecdsa-p256-sha256", protection="hsm")
    hsm_kms.establish_aes_key("soft")
    return hsm_kms


def make(token: object, kms: object) -> Any:
    from kmslib.widgets import TokenForm

    return TokenForm(token, kms)  # type: ignore[arg-type]


def test_the_listing_shows_each_object_and_its_attributes(hsm_keys: KeyCustodian, token: HardwareToken) -> None:
    form = make(token, hsm_keys)
    items = form.refresh()
    assert [item.object_class for item in items] == ["secret key", "private key", "public key"]
    table = form.table.value
    assert table.count("<tr>") == 1 + 3
    assert "<caption>" in table
    assert '<th scope="col">EXTRACTABLE</th>' in table
    assert "<td>yes</td>" in table  # words, not colours alone
    assert "<td>no</td>" in table
    assert [label for label, _ in form.chosen.options] == [
        f"0: secret key, {items[0].label}",
        f"1: private key, {items[1].label}",
    ]  # a public key is not offered: it is public
    assert form.key.options == ("payments",)  # the token's AES keys, not 'soft'
    assert "holds 3 objects" in form.status.value


def test_an_export_of_a_kmslib_key_is_refused_both_ways(hsm_keys: KeyCustodian, token: HardwareToken) -> None:
    form = make(token, hsm_keys)
    for number in (0, 1):
        said = form.try_export(number)
        assert said.startswith("Export of kmslib:")
        assert "refused (AttributeSensitive)" in said
        assert "refused (KeyUnextractable)" in said
        assert 'role="status"' in form.status.value
    assert len(token.objects()) == 3  # the wrapping key made for the attempt is gone


def test_a_careless_key_is_shown_leaving_the_token(hsm_keys: KeyCustodian, token: HardwareToken) -> None:
    """The control: the form's export can succeed, and then it says so, as an alert."""
    hardware.extractable_target(token)
    form = make(token, hsm_keys)
    number = next(n for n, item in enumerate(form.refresh()) if item.label == "target")
    said = form.try_export(number)
    assert "LEFT the token" in said
    assert "40 bytes came out" in said  # wrapped, with AES key wrap with padding
    assert 'role="alert"' in form.status.value
    assert "The key left the token" in form.status.value


def test_an_encryption_in_the_token_gives_a_kmslib_token(hsm_keys: KeyCustodian, token: HardwareToken) -> None:
    form = make(token, hsm_keys)
    form.message.value = "card 4111"
    form.encrypt_button.click()
    output = form.output.value
    assert output.startswith("kms:v1:aes-256-gcm:")
    assert hsm_keys.decrypt_data_aes("payments", output) == "card 4111"
    assert "by 'payments'" in form.status.value
    assert "the key did not move" in form.status.value


def test_mistakes_are_said_in_the_form(hsm_keys: KeyCustodian, token: HardwareToken) -> None:
    form = make(token, hsm_keys)
    assert "software key" in form.encrypt("soft")
    assert 'role="alert"' in form.status.value
    assert "no key with id" in form.encrypt("nope")
    assert "at most" in form.encrypt("payments", "x" * 5000)
    assert "choose a key to export" in form.try_export(99)
    assert "public key" in form.try_export(2)
    hsm_keys.invalidate_key("payments", reason="retired")
    form.refresh()
    assert form.key.options == ()
    assert "choose a kmslib key" in form.encrypt()
    token.close()
    form.refresh_button.click()
    assert "was closed" in form.status.value
    assert form.table.value == "<p>The token holds no objects.</p>"


def test_it_takes_only_a_token_and_a_custodian(token: HardwareToken) -> None:
    with pytest.raises(ArgumentTypeError, match="HardwareToken"):
        make("token", KeyCustodian())
    with pytest.raises(ArgumentTypeError, match="KeyCustodian"):
        make(token, "kms")


def test_widgets_never_import_the_course() -> None:
    source = (Path(__file__).parent.parent / "kmslib" / "widgets" / "token_form.py").read_text()
    imported = [node.module for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom) and node.module]
    assert not [name for name in imported if name.startswith("kmslib.course")]


def test_a_message_or_key_id_that_is_not_text_is_said_in_the_form(hsm_keys: KeyCustodian, token: HardwareToken) -> None:
    form = make(token, hsm_keys)
    for key_id, message in (("payments", b"PLAINTEXT"), ("payments", 5), (7, "hello")):
        said = form.encrypt(key_id, message)  # type: ignore[arg-type]
        assert "text (str)" in said
        assert "Invalid input" in form.status.value
    assert form.output.value == ""  # nothing was encrypted
