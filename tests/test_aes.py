"""AES keys: both modes, associated data, the one DecryptionError, key ids, import."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmslib import (
    ArgumentTypeError,
    DecryptionError,
    InvalidInputError,
    KeyCustodian,
    KeyExistsError,
    KeyNotFoundError,
    KeyRevokedError,
    KeyTypeError,
    inspect_token,
)
from kmslib.errors import DECRYPTION_FAILED
from kmslib.tokens import format_token

KEY = bytes(range(32))


def payload(token: str) -> bytes:
    return base64.b64decode(token.split(":", 3)[3])


@pytest.mark.parametrize(("mode", "algorithm"), [("gcm", "aes-256-gcm"), ("cbc", "aes-256-cbc")])
def test_round_trip_and_metadata(kms: KeyCustodian, mode: str, algorithm: str) -> None:
    info = kms.establish_aes_key("k", mode=mode)
    assert (info.kind, info.algorithm, info.version, info.state) == ("aes", algorithm, 1, "active")
    assert info.created_at.utcoffset() is not None
    token = kms.encrypt_data_aes("k", "héllo wörld")
    assert token.startswith(f"kms:v1:{algorithm}:")
    assert kms.decrypt_data_aes("k", token) == "héllo wörld"
    assert kms.decrypt_data_aes("k", token, encoding=None) == "héllo wörld".encode()


def test_default_mode_is_gcm(kms: KeyCustodian) -> None:
    assert kms.establish_aes_key("k").algorithm == "aes-256-gcm"


def test_fresh_nonce_every_time(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    tokens = {kms.encrypt_data_aes("k", "same") for _ in range(50)}
    assert len(tokens) == 50
    assert len({inspect_token(t).nonce for t in tokens}) == 50


def test_gcm_token_is_readable_without_kmslib(kms: KeyCustodian) -> None:
    kms.import_aes_key("k", KEY)
    raw = payload(kms.encrypt_data_aes("k", b"data", associated_data=b"ctx"))
    assert AESGCM(KEY).decrypt(raw[:12], raw[12:], b"ctx") == b"data"


def test_cbc_token_is_readable_without_kmslib(kms: KeyCustodian) -> None:
    kms.import_aes_key("k", KEY, mode="cbc")
    raw = payload(kms.encrypt_data_aes("k", b"sixteen bytes!!!"))
    assert len(raw) == 16 + 32  # a full block of padding after a whole block
    decryptor = Cipher(algorithms.AES(KEY), modes.CBC(raw[:16])).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    padded = decryptor.update(raw[16:]) + decryptor.finalize()
    assert unpadder.update(padded) + unpadder.finalize() == b"sixteen bytes!!!"


def test_token_built_by_hand_decrypts(kms: KeyCustodian) -> None:
    kms.import_aes_key("k", KEY)
    nonce = bytes(12)
    raw = nonce + AESGCM(KEY).encrypt(nonce, b"by hand", None)
    assert kms.decrypt_data_aes("k", "kms:v1:aes-256-gcm:" + base64.b64encode(raw).decode()) == "by hand"


def test_associated_data_binds(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    token = kms.encrypt_data_aes("k", "secret", associated_data="user=alice")
    assert kms.decrypt_data_aes("k", token, associated_data=b"user=alice") == "secret"
    for wrong in (None, "user=bob", ""):
        with pytest.raises(DecryptionError) as err:
            kms.decrypt_data_aes("k", token, associated_data=wrong)
        assert str(err.value) == DECRYPTION_FAILED


def test_cbc_refuses_associated_data(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k", mode="cbc")
    with pytest.raises(InvalidInputError, match="cannot bind associated_data"):
        kms.encrypt_data_aes("k", "x", associated_data=b"")
    token = kms.encrypt_data_aes("k", "x")
    with pytest.raises(InvalidInputError, match="cannot bind associated_data"):
        kms.decrypt_data_aes("k", token, associated_data="ctx")


def test_cbc_bad_padding_and_wrong_key_fail_alike(kms: KeyCustodian) -> None:
    kms.import_aes_key("a", KEY, mode="cbc")
    kms.import_aes_key("b", bytes(range(1, 33)), mode="cbc")
    token = kms.encrypt_data_aes("a", "attack at dawn")
    raw = bytearray(payload(token))
    raw[-1] ^= 0x01  # the last byte of the last block: the padding is now wrong
    bad_padding = "kms:v1:aes-256-cbc:" + base64.b64encode(bytes(raw)).decode()
    errors = []
    for key_id, tok in (("a", bad_padding), ("b", token)):
        with pytest.raises(DecryptionError) as err:
            kms.decrypt_data_aes(key_id, tok)
        errors.append((type(err.value), str(err.value)))
    assert errors[0] == errors[1] == (DecryptionError, DECRYPTION_FAILED)


def test_binary_plaintext_needs_encoding_none(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    token = kms.encrypt_data_aes("k", b"\xff\xfe\x00")
    with pytest.raises(DecryptionError, match="encoding=None"):
        kms.decrypt_data_aes("k", token)
    assert kms.decrypt_data_aes("k", token, encoding=None) == b"\xff\xfe\x00"
    assert kms.decrypt_data_aes("k", kms.encrypt_data_aes("k", "é"), encoding="latin-1") == "Ã©"


def test_one_algorithm_per_key(kms: KeyCustodian) -> None:
    kms.import_aes_key("gcm", KEY)
    kms.import_aes_key("cbc", KEY, mode="cbc")
    with pytest.raises(DecryptionError):
        kms.decrypt_data_aes("cbc", kms.encrypt_data_aes("gcm", "x"))
    relabelled = kms.encrypt_data_aes("gcm", "x").replace("aes-256-gcm", "aes-256-cbc")
    with pytest.raises(DecryptionError):
        kms.decrypt_data_aes("gcm", relabelled)


def test_version_that_never_existed_is_a_decryption_error(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    token = kms.encrypt_data_aes("k", "x").replace("kms:v1:", "kms:v2:")
    with pytest.raises(DecryptionError):
        kms.decrypt_data_aes("k", token)


def test_errors_of_lookup(kms: KeyCustodian) -> None:
    with pytest.raises(KeyNotFoundError, match="no key with id 'nope'"):
        kms.encrypt_data_aes("nope", "x")
    with pytest.raises(KeyNotFoundError):
        kms.decrypt_data_aes("nope", "kms:v1:aes-256-gcm:AAAA")
    kms.establish_aes_key("k")
    with pytest.raises(KeyExistsError, match="'k' is taken"):
        kms.establish_aes_key("k")
    kms.invalidate_key("k")
    with pytest.raises(KeyExistsError, match="never reused"):
        kms.establish_aes_key("k")
    with pytest.raises(KeyRevokedError):
        kms.encrypt_data_aes("k", "x")


def test_kind_mismatch(kms: KeyCustodian, rsa_pems: object) -> None:
    kms.establish_aes_key("aes")
    with pytest.raises(KeyTypeError, match="AES key, not RSA"):
        kms.encrypt_data_rsa("aes", "x")
    with pytest.raises(KeyTypeError, match="AES key, not RSA"):
        kms.decrypt_data_rsa("aes", kms.encrypt_data_aes("aes", "x"))
    with pytest.raises(TypeError):  # KeyTypeError is a TypeError too
        kms.export_public_key("aes")


@pytest.mark.parametrize(
    ("key_id", "error", "message"),
    [
        ("", InvalidInputError, "empty"),
        ("   ", InvalidInputError, "only spaces"),
        ("x" * 129, InvalidInputError, "129 characters"),
        ("tab\there", InvalidInputError, "printable"),
        ("new\nline", InvalidInputError, "printable"),
        (None, ArgumentTypeError, "key_id must be a str, not NoneType"),
        (42, ArgumentTypeError, "key_id must be a str, not int"),
        (b"bytes", ArgumentTypeError, "not bytes"),
    ],
)
def test_bad_key_ids(kms: KeyCustodian, key_id: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        kms.establish_aes_key(key_id)  # type: ignore[arg-type]
    assert len(kms) == 0


def test_good_key_ids(kms: KeyCustodian) -> None:
    for key_id in ("x" * 128, " padded ", "ключ-1", "terminal_123", "a b/c:d"):
        kms.establish_aes_key(key_id)
        assert kms.key_info(key_id).key_id == key_id


def test_bad_argument_values_and_types(kms: KeyCustodian) -> None:
    with pytest.raises(InvalidInputError, match="mode must be one of 'gcm', 'cbc', not 'ecb'"):
        kms.establish_aes_key("k", mode="ecb")
    assert "k" not in kms
    kms.establish_aes_key("k")
    with pytest.raises(ArgumentTypeError, match="plaintext must be str or bytes, not int"):
        kms.encrypt_data_aes("k", 5)  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match="associated_data"):
        kms.encrypt_data_aes("k", "x", associated_data=5)  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match="token must be a str, not bytes"):
        kms.decrypt_data_aes("k", b"kms:v1:aes-256-gcm:AAAA")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="not a known text encoding"):
        kms.decrypt_data_aes("k", kms.encrypt_data_aes("k", "x"), encoding="klingon")
    with pytest.raises(InvalidInputError, match="cannot be encoded"):
        kms.encrypt_data_aes("k", "\ud800")
    with pytest.raises(TypeError):  # ArgumentTypeError is a TypeError as well as a KMSError
        kms.encrypt_data_aes("k", None)  # type: ignore[arg-type]


def test_import_aes_key(kms: KeyCustodian) -> None:
    with pytest.raises(InvalidInputError, match="exactly 32 bytes, not 16"):
        kms.import_aes_key("k", bytes(16))
    with pytest.raises(ArgumentTypeError, match="key_bytes must be bytes, not str"):
        kms.import_aes_key("k", "0" * 32)  # type: ignore[arg-type]
    assert "k" not in kms
    info = kms.import_aes_key("k", bytearray(KEY))
    same = KeyCustodian().import_aes_key("other", KEY)
    other = KeyCustodian().import_aes_key("other", bytes(range(1, 33)))
    assert info.fingerprint == same.fingerprint != other.fingerprint
    assert KEY.hex()[:16] not in info.fingerprint


def test_empty_plaintext(kms: KeyCustodian) -> None:
    for mode in ("gcm", "cbc"):
        kms.establish_aes_key(mode, mode=mode)
        assert kms.decrypt_data_aes(mode, kms.encrypt_data_aes(mode, "")) == ""


@pytest.mark.parametrize("size", [(1 << 16) - 29, (1 << 16) - 28, 1 << 16, (1 << 20) + 1])
def test_large_messages_round_trip_and_are_still_authenticated(kms: KeyCustodian, size: int) -> None:
    # GCM copies small payloads and works in place on large ones: both ways must be the same recipe.
    kms.import_aes_key("k", KEY)
    message = bytes(range(256)) * (size // 256) + bytes(size % 256)
    token = kms.encrypt_data_aes("k", message, associated_data="ctx")
    raw = payload(token)
    assert AESGCM(KEY).decrypt(raw[:12], raw[12:], b"ctx") == message
    assert kms.decrypt_data_aes("k", token, associated_data="ctx", encoding=None) == message
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 1
    forged = "kms:v1:aes-256-gcm:" + base64.b64encode(bytes(flipped)).decode()
    with pytest.raises(DecryptionError):
        kms.decrypt_data_aes("k", forged, associated_data="ctx", encoding=None)
    with pytest.raises(DecryptionError):
        kms.decrypt_data_aes("k", token, associated_data="other", encoding=None)


@pytest.mark.parametrize("byte", [0x00, 0x01, 0x41, 0xFF])
def test_a_key_of_one_repeated_byte_is_refused(kms: KeyCustodian, byte: int) -> None:
    for key in (bytes([byte]) * 32, bytearray([byte]) * 32, memoryview(bytes([byte]) * 32)):
        with pytest.raises(InvalidInputError, match="one byte repeated"):
            kms.import_aes_key("k", key)
    assert "k" not in kms
    assert kms.import_aes_key("k", bytes([byte]) * 31 + bytes([byte ^ 1])).version == 1


# ---------------------------------------------------------------- CBC is a padding oracle (contract section 4)


def padding_oracle_attack(oracle: Callable[[bytes], bool], previous: bytes, block: bytes) -> bytes:
    """Recover the plaintext of ``block`` from success or failure alone (Vaudenay 2002).

    ``oracle(iv + block)`` says whether that two-block payload decrypts with valid padding.
    The decryption of ``block`` is ``D(block) = P xor previous``; forging the IV byte by byte
    until the padding is valid reveals ``D(block)``, hence ``P``.
    """
    intermediate = bytearray(16)
    for pad in range(1, 17):
        position = 16 - pad
        for guess in range(256):
            forged = bytearray(16)
            for j in range(position + 1, 16):
                forged[j] = intermediate[j] ^ pad
            forged[position] = guess
            if not oracle(bytes(forged) + block):
                continue
            if pad == 1:  # rule out a longer valid padding by chance: change the byte before it
                forged[position - 1] ^= 1
                if not oracle(bytes(forged) + block):
                    continue
            intermediate[position] = guess ^ pad
            break
        else:
            raise AssertionError("no guess gave valid padding")
    return bytes(a ^ b for a, b in zip(intermediate, previous, strict=True))


def oracle_for(kms: KeyCustodian, key_id: str, algorithm: str) -> tuple[Callable[[bytes], bool], list[int]]:
    queries = [0]

    def oracle(payload: bytes) -> bool:
        queries[0] += 1
        try:
            kms.decrypt_data_aes(key_id, format_token(1, algorithm, payload), encoding=None)
        except DecryptionError:
            return False
        return True

    return oracle, queries


def test_cbc_with_a_uniform_error_is_still_a_padding_oracle(kms: KeyCustodian) -> None:
    # The one DecryptionError removes the error-message oracle, not the padding oracle: success
    # against failure is enough to read a block. This is why CBC is unsafe wherever an attacker
    # can submit tokens, and why GCM is the default.
    kms.establish_aes_key("legacy", mode="cbc")
    secret = "PIN=4921;amt=100 and more after"
    token = kms.encrypt_data_aes("legacy", secret)
    parts = inspect_token(token)
    assert parts.nonce is not None
    oracle, queries = oracle_for(kms, "legacy", "aes-256-cbc")
    first = padding_oracle_attack(oracle, parts.nonce, parts.ciphertext[:16])
    assert first == secret.encode()[:16]
    assert queries[0] <= 16 * 256 + 1
    second = padding_oracle_attack(oracle, parts.ciphertext[:16], parts.ciphertext[16:32])
    assert second == secret.encode()[16:] + b"\x01"  # the last block, with its padding


def test_gcm_gives_the_attack_nothing(kms: KeyCustodian) -> None:
    kms.establish_aes_key("modern")
    token = kms.encrypt_data_aes("modern", "PIN=4921;amt=100")
    parts = inspect_token(token)
    assert parts.nonce is not None
    assert parts.tag is not None
    oracle, queries = oracle_for(kms, "modern", "aes-256-gcm")
    body = parts.ciphertext + parts.tag
    # Every forged nonce, as the attack's first step tries them, fails: the tag covers everything.
    assert not any(oracle(bytes([guess]) + parts.nonce[1:] + body) for guess in range(256) if guess != parts.nonce[0])
    with pytest.raises(AssertionError, match="no guess"):
        padding_oracle_attack(lambda payload: oracle(payload[:12] + body), parts.nonce, parts.ciphertext[:16])
    assert queries[0] == 255 + 256
