"""RSA keys: both paddings, exact size limits, import and export, tokens openssl-compatible."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from kmslib import (
    ArgumentTypeError,
    DecryptionError,
    InvalidInputError,
    KeyCustodian,
    KeyExistsError,
    KeyTypeError,
    MessageTooLongError,
    inspect_token,
)

OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


@pytest.fixture
def pair(kms: KeyCustodian, rsa_pems: Callable[[int], str]) -> KeyCustodian:
    kms.import_rsa_key("oaep", rsa_pems(0))
    kms.import_rsa_key("v15", rsa_pems(0), padding="pkcs1v15")
    return kms


def test_generate_defaults(kms: KeyCustodian) -> None:
    info = kms.generate_rsa_pair("r")
    assert (info.kind, info.algorithm, info.version) == ("rsa", "rsa-oaep-sha256", 1)
    public = serialization.load_pem_public_key(kms.export_public_key("r").encode())
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == 2048
    assert public.public_numbers().e == 65537


def test_generate_3072_with_pkcs1v15(kms: KeyCustodian) -> None:
    info = kms.generate_rsa_pair("r", key_size=3072, padding="pkcs1v15")
    assert info.algorithm == "rsa-pkcs1v15"
    token = kms.encrypt_data_rsa("r", "x" * 373)  # 384 - 11
    assert inspect_token(token).ciphertext_length == 384
    assert kms.decrypt_data_rsa("r", token) == "x" * 373


@pytest.mark.parametrize(("key_id", "limit"), [("oaep", 190), ("v15", 245)])
def test_limits_at_the_exact_boundary(pair: KeyCustodian, key_id: str, limit: int) -> None:
    message = bytes(range(256))[:limit]
    assert pair.decrypt_data_rsa(key_id, pair.encrypt_data_rsa(key_id, message), encoding=None) == message
    with pytest.raises(MessageTooLongError, match=f"the message is {limit + 1} bytes; .* at most {limit} bytes"):
        pair.encrypt_data_rsa(key_id, message + b"!")
    with pytest.raises(InvalidInputError):  # MessageTooLongError is an InvalidInputError
        pair.encrypt_data_rsa(key_id, "é" * limit)


def test_oaep_token_is_readable_without_kmslib(pair: KeyCustodian, rsa_pems: Callable[[int], str]) -> None:
    private = serialization.load_pem_private_key(rsa_pems(0).encode(), None)
    assert isinstance(private, rsa.RSAPrivateKey)
    raw = base64.b64decode(pair.encrypt_data_rsa("oaep", "hi").split(":", 3)[3])
    assert private.decrypt(raw, OAEP) == b"hi"
    made_outside = base64.b64encode(private.public_key().encrypt(b"outside", OAEP)).decode()
    assert pair.decrypt_data_rsa("oaep", "kms:v1:rsa-oaep-sha256:" + made_outside) == "outside"


def test_paddings_do_not_mix(pair: KeyCustodian) -> None:
    token = pair.encrypt_data_rsa("v15", "x")
    with pytest.raises(DecryptionError):
        pair.decrypt_data_rsa("oaep", token)
    with pytest.raises(DecryptionError):
        pair.decrypt_data_rsa("oaep", token.replace("rsa-pkcs1v15", "rsa-oaep-sha256"))


def test_oaep_rejects_tampering_and_wrong_length(pair: KeyCustodian) -> None:
    token = pair.encrypt_data_rsa("oaep", "x")
    raw = bytearray(base64.b64decode(token.split(":", 3)[3]))
    raw[100] ^= 0x40
    for bad in (bytes(raw), bytes(raw[:-1]), bytes(raw) + b"\0"):
        with pytest.raises(DecryptionError):
            pair.decrypt_data_rsa("oaep", "kms:v1:rsa-oaep-sha256:" + base64.b64encode(bad).decode())


def test_pkcs1v15_implicit_rejection_never_yields_the_message(pair: KeyCustodian) -> None:
    token = pair.encrypt_data_rsa("v15", "the real message")
    raw = bytearray(base64.b64decode(token.split(":", 3)[3]))
    raw[7] ^= 0x01
    forged = "kms:v1:rsa-pkcs1v15:" + base64.b64encode(bytes(raw)).decode()
    try:
        result = pair.decrypt_data_rsa("v15", forged, encoding=None)
    except DecryptionError:
        return
    assert result != b"the real message"


def test_import_checks(kms: KeyCustodian, rsa_pems: Callable[[int], str]) -> None:
    pem = rsa_pems(0)
    private = serialization.load_pem_private_key(pem.encode(), None)
    encrypted = private.private_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"pw"),
    )
    with pytest.raises(InvalidInputError, match="password"):
        kms.import_rsa_key("r", encrypted)
    with pytest.raises(InvalidInputError, match="password"):
        kms.import_rsa_key("r", encrypted, password="wrong")
    with pytest.raises(InvalidInputError, match="not a PEM private key"):
        kms.import_rsa_key("r", "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n")
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(InvalidInputError, match="not an RSA private key"):
        kms.import_rsa_key("r", ec_pem)
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(InvalidInputError, match="1024 bits; at least 2048"):
        kms.import_rsa_key("r", small)
    with pytest.raises(ArgumentTypeError, match="pem must be PEM text"):
        kms.import_rsa_key("r", 12)  # type: ignore[arg-type]
    assert "r" not in kms
    info = kms.import_rsa_key("r", encrypted, password=b"pw", padding="pkcs1v15")
    assert info.algorithm == "rsa-pkcs1v15"
    with pytest.raises(KeyExistsError):
        kms.import_rsa_key("r", pem)


def test_bad_generation_arguments(kms: KeyCustodian) -> None:
    with pytest.raises(InvalidInputError, match="key_size must be one of 2048, 3072, 4096, not 1024"):
        kms.generate_rsa_pair("r", key_size=1024)
    with pytest.raises(ArgumentTypeError, match="key_size must be an int"):
        kms.generate_rsa_pair("r", key_size="2048")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="padding must be one of 'oaep', 'pkcs1v15'"):
        kms.generate_rsa_pair("r", padding="none")
    assert len(kms) == 0


def test_export_public_key_matches_fingerprint(pair: KeyCustodian) -> None:
    import hashlib

    pem = pair.export_public_key("oaep")
    assert "PRIVATE" not in pem
    public = serialization.load_pem_public_key(pem.encode())
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert pair.key_info("oaep").fingerprint == hashlib.sha256(der).hexdigest()[:16]


def test_rsa_key_refuses_aes_calls(pair: KeyCustodian) -> None:
    with pytest.raises(KeyTypeError, match="RSA key, not AES"):
        pair.encrypt_data_aes("oaep", "x")


def test_import_requires_the_public_exponent_65537(kms: KeyCustodian, rsa_pems: Callable[[int], str]) -> None:
    import math
    import secrets

    e3 = rsa.generate_private_key(public_exponent=3, key_size=2048)
    numbers = serialization.load_pem_private_key(rsa_pems(0).encode(), None).private_numbers()  # type: ignore[union-attr]
    p, q = numbers.p, numbers.q
    phi = (p - 1) * (q - 1)
    e = secrets.randbits(2000) | 1
    while math.gcd(e, phi) != 1:
        e += 2
    d = pow(e, -1, phi)
    big_e = rsa.RSAPrivateNumbers(
        p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(e, p * q)
    ).private_key()
    for key, exponent in ((e3, "3"), (big_e, "a 2000-bit")):
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        with pytest.raises(InvalidInputError, match=r"public exponent is .*; kmslib accepts only 65537"):
            kms.import_rsa_key("r", pem)
        assert exponent
    assert "r" not in kms
    assert kms.import_rsa_key("r", rsa_pems(0)).kind == "rsa"


def test_encrypt_with_only_the_exported_public_key(kms: KeyCustodian, rsa_pems: Callable[[int], str]) -> None:
    from kmslib import encrypt_with_public_key

    kms.import_rsa_key("alice", rsa_pems(0))
    kms.import_rsa_key("legacy", rsa_pems(0), padding="pkcs1v15")
    pem = kms.export_public_key("alice")
    token = encrypt_with_public_key(pem, "for Alice's eyes only")
    assert token.startswith("kms:v1:rsa-oaep-sha256:")
    assert kms.decrypt_data_rsa("alice", token) == "for Alice's eyes only"
    legacy = encrypt_with_public_key(kms.export_public_key("legacy").encode(), b"\x00\xff", padding="pkcs1v15")
    assert kms.decrypt_data_rsa("legacy", legacy, encoding=None) == b"\x00\xff"
    kms.rotate_key("alice")
    newer = encrypt_with_public_key(kms.export_public_key("alice"), "v2", version=kms.key_info("alice").version)
    assert kms.decrypt_data_rsa("alice", newer) == "v2"
    assert encrypt_with_public_key(pem, "x" * 190)
    with pytest.raises(
        MessageTooLongError, match="191 bytes; rsa-oaep-sha256 with a 2048-bit key encrypts at most 190"
    ):
        encrypt_with_public_key(pem, "x" * 191)
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    small = (
        rsa.generate_private_key(public_exponent=65537, key_size=1024)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    e3 = (
        rsa.generate_private_key(public_exponent=3, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for bad in (ec_pem, small, e3, "not a pem", rsa_pems(0)):
        with pytest.raises(InvalidInputError):
            encrypt_with_public_key(bad, "x")
    with pytest.raises(InvalidInputError, match="padding"):
        encrypt_with_public_key(pem, "x", padding="none")
    with pytest.raises(InvalidInputError, match="version"):
        encrypt_with_public_key(pem, "x", version=0)
    with pytest.raises(ArgumentTypeError):
        encrypt_with_public_key(pem, "x", version=True)
    with pytest.raises(ArgumentTypeError):
        encrypt_with_public_key(42, "x")  # type: ignore[arg-type]
