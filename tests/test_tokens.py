"""The token format: syntax, canonical base64, inspect_token, and single-bit flips."""

from __future__ import annotations

import base64
import sys

import pytest

from kmslib import ArgumentTypeError, DecryptionError, KeyCustodian, inspect_token, tokens
from kmslib.errors import DECRYPTION_FAILED
from kmslib.tokens import format_token, parse_token


@pytest.fixture(params=["stdlib", "pybase64"], autouse=True)
def codec(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every token test runs with both base64 codecs: they must accept and refuse the same strings.

    For the standard library's, pybase64 is blocked (as in a default install without the ``fast``
    extra) and kmslib chooses its codec itself, lazily, as it does in use.
    """
    if request.param == "stdlib":
        monkeypatch.setitem(sys.modules, "pybase64", None)  # import pybase64 now raises ImportError
        monkeypatch.setattr(tokens, "_codec", None)
    else:
        monkeypatch.setattr(tokens, "_codec", tokens.pybase64_codec())
    return str(request.param)


def test_the_codec_in_use_is_the_one_the_fixture_meant(codec: str) -> None:
    encode, _decode = tokens._base64()
    assert (encode.__module__ or "").startswith("pybase64") == (codec == "pybase64")


def test_format_and_parse_are_inverse() -> None:
    for version, algorithm, payload in [(1, "aes-256-gcm", b"\x00" * 28), (12345, "rsa-pkcs1v15", b"\xff" * 256)]:
        token = format_token(version, algorithm, payload)
        assert token == f"kms:v{version}:{algorithm}:{base64.b64encode(payload).decode()}"
        assert token.isascii()
        assert parse_token(token) == (version, algorithm, payload)


def test_canonical_padding_variants_are_accepted() -> None:
    for payload in (b"\x01", b"\x01\x02", b"\x01\x02\x03", bytes(range(256))):
        token = format_token(1, "aes-256-gcm", payload)
        assert parse_token(token) == (1, "aes-256-gcm", payload)


def test_the_codec_is_chosen_once_and_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_codec", None)
    first = tokens._base64()
    assert tokens._base64() is first


def test_pasted_token_may_carry_surrounding_newline() -> None:
    token = format_token(1, "aes-256-gcm", bytes(28))
    assert parse_token(f"  {token}\n") == parse_token(token)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "kms",
        "kms:v1:aes-256-gcm:",  # empty payload
        "kms:v0:aes-256-gcm:AAAA",
        "kms:v01:aes-256-gcm:AAAA",  # leading zero: one spelling per version
        "kms:v-1:aes-256-gcm:AAAA",
        "kms:1:aes-256-gcm:AAAA",
        "KMS:v1:aes-256-gcm:AAAA",
        "kms:v1:aes-128-gcm:AAAA",
        "kms:v1:AES-256-GCM:AAAA",
        "kms:v1:aes-256-gcm:AAA",  # not a multiple of 4
        "kms:v1:aes-256-gcm:AA=A",
        "kms:v1:aes-256-gcm:AAA_",  # urlsafe alphabet is not the format's
        "kms:v1:aes-256-gcm:AAB=",  # non-canonical: unused bits set
        "kms:v1:aes-256-gcm:AAAA:extra",
        "kms:v1:aes-256-gcm:AA AA",
        "kms:v1234567890:aes-256-gcm:AAAA",
        "kms:v1:aes-256-gcm:AA===",
        "kms:v1:aes-256-gcm:=AAA",
        "kms:v1:aes-256-gcm:AA==AAAA",
        "kms:v1:aes-256-gcm:AAAA\x00",
        "kms:v1:aes-256-gcm:ÄAAA",
        "kms:v1:aes-256-gcm:AAAAAB==",  # non-canonical in the last quad of a longer payload
        "kms:v1:aes-256-gcm:AAAAAAB=",
        "kms:v1:aes-256-gcm:AAAA=",  # padding after a complete quad (the stdlib's strict mode lets it pass)
        "kms:v1:aes-256-gcm:AAAA==",
        "kms:v1:aes-256-gcm:AAAA===",
        "kms:v1:aes-256-gcm:AAAA====",
        "kms:v1:aes-256-gcm:AAAAAA==A=",
    ],
)
def test_malformed_tokens(bad: str) -> None:
    with pytest.raises(DecryptionError) as err:
        parse_token(bad)
    assert str(err.value) == DECRYPTION_FAILED


def test_non_string_token() -> None:
    with pytest.raises(ArgumentTypeError, match="token must be a str, not NoneType"):
        inspect_token(None)  # type: ignore[arg-type]


def test_inspect_gcm_token(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    token = kms.encrypt_data_aes("k", "twelve bytes")
    info = inspect_token(token)
    raw = base64.b64decode(token.split(":", 3)[3])
    assert (info.version, info.algorithm, info.nonce_name) == (1, "aes-256-gcm", "nonce")
    assert info.nonce == raw[:12]
    assert info.tag == raw[-16:]
    assert info.ciphertext == raw[12:-16]
    assert info.ciphertext_length == 12
    assert info.header == "kms:v1:aes-256-gcm:"
    assert repr(info).startswith("TokenInfo(version=1, algorithm='aes-256-gcm', nonce=")
    assert kms.inspect_token(token) == info


def test_inspect_cbc_token(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k", mode="cbc")
    info = inspect_token(kms.encrypt_data_aes("k", "x" * 20))
    assert (info.nonce_name, len(info.nonce or b""), info.ciphertext_length, info.tag) == ("IV", 16, 32, None)


@pytest.mark.parametrize(
    "payload", [bytes(27), bytes(16), bytes(16 + 15)], ids=["gcm-too-short", "cbc-no-body", "cbc-partial-block"]
)
def test_inspect_rejects_impossible_layouts(payload: bytes) -> None:
    algorithm = "aes-256-gcm" if len(payload) == 27 else "aes-256-cbc"
    with pytest.raises(DecryptionError):
        inspect_token(format_token(1, algorithm, payload))


def test_every_single_bit_flip_in_a_gcm_token_is_rejected(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    token = kms.encrypt_data_aes("k", "bit flips", associated_data="ctx")
    assert kms.decrypt_data_aes("k", token, associated_data="ctx") == "bit flips"
    flips = 0
    for position, char in enumerate(token):
        for bit in range(8):
            flipped = token[:position] + chr(ord(char) ^ (1 << bit)) + token[position + 1 :]
            with pytest.raises(DecryptionError):
                kms.decrypt_data_aes("k", flipped, associated_data="ctx")
            flips += 1
    assert flips == 8 * len(token)


def test_every_single_bit_flip_in_the_gcm_payload_bytes_is_rejected(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    token = kms.encrypt_data_aes("k", "bytes too")
    raw = base64.b64decode(token.split(":", 3)[3])
    for i in range(len(raw) * 8):
        changed = bytearray(raw)
        changed[i // 8] ^= 1 << (i % 8)
        with pytest.raises(DecryptionError):
            kms.decrypt_data_aes("k", format_token(1, "aes-256-gcm", bytes(changed)))


@pytest.mark.parametrize("padding", ["=", "=="])
def test_exactly_the_canonical_last_characters_are_accepted(padding: str) -> None:
    # The oracle: a string is canonical iff decoding and encoding it again gives it back.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    accepted = 0
    for char in alphabet:
        body = "AAAA" + "AAA"[: 3 - len(padding)] + char + padding  # two quads, the last one padded
        canonical = base64.b64encode(base64.b64decode(body)).decode() == body
        token = f"kms:v1:aes-256-gcm:{body}"
        if canonical:
            accepted += 1
            assert parse_token(token)[2] == base64.b64decode(body)
        else:
            with pytest.raises(DecryptionError):
                parse_token(token)
    assert accepted == (16 if padding == "=" else 4)


@pytest.mark.parametrize("bad", ["kms:v1:aes-256-gcm:AAB=", "kms:v1:aes-256-gcm:", "kms:v1:aes-256-gcm:A A="])
def test_surrounding_spaces_do_not_rescue_a_malformed_token(bad: str) -> None:
    with pytest.raises(DecryptionError) as err:
        parse_token(f" \n{bad}\r\n")
    assert str(err.value) == DECRYPTION_FAILED


def test_str_subclass_token_is_read_as_its_text() -> None:
    class Text(str):
        __slots__ = ()

    token = format_token(3, "aes-256-cbc", bytes(32))
    assert parse_token(Text(token)) == parse_token(token)


def test_every_version_length_and_algorithm_parses() -> None:
    for version in (1, 9, 10, 12345, 999_999_999):
        for algorithm in tokens.ALGORITHMS:
            token = format_token(version, algorithm, b"\x01\x02\x03\x04")
            assert parse_token(token) == (version, algorithm, b"\x01\x02\x03\x04")


@pytest.mark.parametrize("mode", ["gcm", "cbc"])
@pytest.mark.parametrize("extra", ["=", "==", "===", "====", "=\n", "A="])
def test_extra_characters_after_a_token_are_refused(kms: KeyCustodian, mode: str, extra: str) -> None:
    kms.establish_aes_key("k", mode=mode)
    for message in ("", "a", "ab", "abc", "y" * 20, "x" * 47):  # payloads of every length modulo 3
        token = kms.encrypt_data_aes("k", message)
        assert kms.decrypt_data_aes("k", token + "\n") == message  # a pasted newline is fine
        with pytest.raises(DecryptionError):
            kms.decrypt_data_aes("k", token + extra)
        with pytest.raises(DecryptionError):
            inspect_token(token + extra)


def test_parse_exact_takes_only_the_canonical_encoding() -> None:
    token = format_token(3, "aes-256-gcm", bytes(range(62)))  # 62 bytes: the base64 ends in "xyz="
    assert tokens.parse_exact(token) == parse_token(token) == (3, "aes-256-gcm", bytes(range(62)))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    low_bit_set = alphabet[alphabet.index(token[-2]) + 1]
    others = [
        " " + token,
        token + "\n",
        "\t" + token + "\r\n",
        token[:-2] + low_bit_set + "=",  # an unused bit set before the padding
        token + "=",
        token[:-1],
        "kms:v03" + token[6:],  # a leading zero in the version
    ]
    assert parse_token(others[0]) == parse_token(token)  # pasted text tokens still pass parse_token
    for other in others:
        assert tokens.parse_exact(other) is None, repr(other)
