"""Project Wycheproof vectors, through kmslib's public API only.

For each vector: import the vector's key, build the token from the vector's bytes by the
documented format, and decrypt. ``valid`` vectors must give the vector's message,
``invalid`` ones must fail. The vectors are vendored in ``tests/vectors/wycheproof`` (see its
SOURCE.md and LICENSE); if they are missing, collection fails loudly rather than skipping.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from helpers import VECTORS
from kmslib import DecryptionError, InvalidPeerKeyError, KeyCustodian
from kmslib.tokens import format_token


def load(name: str) -> dict[str, Any]:
    path = VECTORS / name
    if not path.is_file():
        raise FileNotFoundError(
            f"Wycheproof vectors not found at {path}: they are vendored in tests/vectors/wycheproof"
        )
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def cases(name: str, applicable: Any) -> list[Any]:
    """One pytest param per applicable (group, test), with the tcId as its id."""
    data = load(name)
    params = [
        pytest.param(group, test, id=f"tc{test['tcId']}")
        for group in data["testGroups"]
        for test in group["tests"]
        if applicable(group, test)
    ]
    assert params, f"no applicable vectors in {name}"
    return params


def h(text: str) -> bytes:
    return bytes.fromhex(text)


GCM = cases("aes_gcm_test.json", lambda g, t: (g["keySize"], g["ivSize"], g["tagSize"]) == (256, 96, 128))
CBC = cases("aes_cbc_pkcs5_test.json", lambda g, t: (g["keySize"], g["ivSize"]) == (256, 128))
OAEP = cases("rsa_oaep_2048_sha256_mgf1sha256_test.json", lambda g, t: t["label"] == "")
PKCS1 = cases("rsa_pkcs1_2048_test.json", lambda g, t: True)
X25519 = cases("x25519_test.json", lambda g, t: g["curve"] == "curve25519")


def test_every_applicable_vector_is_collected() -> None:
    """The subsets are what the issue names; nothing falls out unnoticed."""
    assert (len(GCM), len(CBC), len(OAEP), len(PKCS1), len(X25519)) == (66, 72, 29, 67, 518)


def expect(kms: KeyCustodian, decrypt: Any, test: dict[str, Any]) -> None:
    if test["result"] == "valid":
        assert decrypt() == h(test["msg"])
    elif test["result"] == "invalid":
        with pytest.raises(DecryptionError):
            decrypt()
    else:  # acceptable: either outcome, but success must be right
        try:
            assert decrypt() == h(test["msg"])
        except DecryptionError:
            pass


@pytest.mark.parametrize(("group", "test"), GCM)
def test_aes_256_gcm(group: dict[str, Any], test: dict[str, Any]) -> None:
    kms = KeyCustodian()
    kms.import_aes_key("k", h(test["key"]))
    token = format_token(1, "aes-256-gcm", h(test["iv"]) + h(test["ct"]) + h(test["tag"]))
    expect(kms, lambda: kms.decrypt_data_aes("k", token, associated_data=h(test["aad"]), encoding=None), test)


@pytest.mark.parametrize(("group", "test"), CBC)
def test_aes_256_cbc_pkcs5(group: dict[str, Any], test: dict[str, Any]) -> None:
    kms = KeyCustodian()
    kms.import_aes_key("k", h(test["key"]), mode="cbc")
    payload = h(test["iv"]) + h(test["ct"])
    token = "kms:v1:aes-256-cbc:" + base64.b64encode(payload).decode()
    expect(kms, lambda: kms.decrypt_data_aes("k", token, encoding=None), test)


_RSA: dict[tuple[str, str], KeyCustodian] = {}


def rsa_custodian(group: dict[str, Any], padding: str) -> KeyCustodian:
    """One custodian per vector key (importing a key is the slow part)."""
    pem = group["privateKeyPem"]
    if (pem, padding) not in _RSA:
        kms = KeyCustodian()
        kms.import_rsa_key("k", pem, padding=padding)
        _RSA[pem, padding] = kms
    return _RSA[pem, padding]


@pytest.mark.parametrize(("group", "test"), OAEP)
def test_rsa_oaep_sha256(group: dict[str, Any], test: dict[str, Any]) -> None:
    kms = rsa_custodian(group, "oaep")
    token = format_token(1, "rsa-oaep-sha256", h(test["ct"]))
    expect(kms, lambda: kms.decrypt_data_rsa("k", token, encoding=None), test)


@pytest.mark.parametrize(("group", "test"), PKCS1)
def test_rsa_pkcs1v15(group: dict[str, Any], test: dict[str, Any]) -> None:
    kms = rsa_custodian(group, "pkcs1v15")
    token = format_token(1, "rsa-pkcs1v15", h(test["ct"]))
    if test["result"] == "valid":
        assert kms.decrypt_data_rsa("k", token, encoding=None) == h(test["msg"])
        return
    # Implicit rejection: an invalid ciphertext may decrypt to pseudo-random bytes, never to the message.
    try:
        result = kms.decrypt_data_rsa("k", token, encoding=None)
    except DecryptionError:
        return
    assert result != h(test["msg"])


def hkdf(shared: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"kmslib key exchange").derive(shared)


@pytest.mark.parametrize(("group", "test"), X25519)
def test_x25519_through_derive_shared_key(group: dict[str, Any], test: dict[str, Any]) -> None:
    kms = KeyCustodian()
    private = x25519.X25519PrivateKey.from_private_bytes(h(test["private"]))
    peer = x25519.X25519PublicKey.from_public_bytes(h(test["public"]))
    if "ZeroSharedSecret" in test["flags"]:
        with pytest.raises(InvalidPeerKeyError):
            kms.derive_shared_key("k", private, peer)
        assert "k" not in kms
        return
    assert test["result"] in {"valid", "acceptable"}  # the file has no other kind of X25519 vector
    kms.derive_shared_key("k", private, peer)
    reference = KeyCustodian()
    reference.import_aes_key("k", hkdf(h(test["shared"])))
    assert kms.key_info("k").fingerprint == reference.key_info("k").fingerprint
    assert reference.decrypt_data_aes("k", kms.encrypt_data_aes("k", "agreed")) == "agreed"


def test_vectors_are_the_documented_copy() -> None:
    source = (VECTORS / "SOURCE.md").read_text()
    assert "C2SP/wycheproof" in source
    assert Path(VECTORS / "LICENSE").is_file()
