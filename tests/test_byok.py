"""Wrapped import (contract section 12): AWS's RSA_AES_KEY_WRAP_SHA_256, made by openssl and by raw pyca."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import kmslib
from helpers import StepClock, leaks, view
from kmslib import AccessDeniedError, ArgumentTypeError, InvalidInputError, KeyCustodian, KeyExistsError
from kmslib.byok import MAX_PENDING_IMPORTS, UNWRAP_FAILED
from kmslib.tokens import format_token

OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def pyca_wrap(public_pem: str, material: bytes, aes_key: bytes | None = None) -> bytes:
    """What the key's owner runs: RSA-OAEP-SHA256 of a fresh AES-256 key, then AES-KWP of the material under it."""
    aes_key = aes_key or os.urandom(32)
    public = serialization.load_pem_public_key(public_pem.encode())
    return public.encrypt(aes_key, OAEP) + keywrap.aes_key_wrap_with_padding(aes_key, material)  # type: ignore[union-attr, arg-type]


def proves_material(kms: KeyCustodian, key_id: str, material: bytes) -> None:
    """The imported key decrypts a token made in software with ``material``: the bytes arrived intact."""
    nonce = os.urandom(12)
    token = format_token(1, "aes-256-gcm", nonce + AESGCM(material).encrypt(nonce, b"made outside", None))
    assert kms.decrypt_data_aes(key_id, token, encoding=None) == b"made outside"


def test_a_key_wrapped_with_raw_pyca_imports_intact(kms: KeyCustodian) -> None:
    public_pem, token = kms.get_import_parameters("byok")
    public = serialization.load_pem_public_key(public_pem.encode())
    assert public.key_size == 3072  # type: ignore[union-attr]
    material = os.urandom(32)
    info = kms.import_wrapped_key("byok", pyca_wrap(public_pem, material), token)
    assert info.algorithm == "aes-256-gcm"
    proves_material(kms, "byok", material)
    assert kms.decrypt_data_aes("byok", kms.encrypt_data_aes("byok", "round trip")) == "round trip"
    operations = [e.operation for e in kms.audit_log if e.key_id == "byok"]
    assert operations[:2] == ["get_import_parameters", "import_wrapped_key"]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed (apt-get install openssl)")
def test_a_key_wrapped_with_the_openssl_cli_imports_intact(kms: KeyCustodian, tmp_path: Path) -> None:
    public_pem, token = kms.get_import_parameters("byok")
    material, aes_key = os.urandom(32), os.urandom(32)
    (tmp_path / "public.pem").write_text(public_pem)
    (tmp_path / "material.bin").write_bytes(material)
    (tmp_path / "aes.bin").write_bytes(aes_key)

    def openssl(*arguments: str) -> None:
        subprocess.run(["openssl", *arguments], cwd=tmp_path, check=True, capture_output=True)

    openssl(
        "pkeyutl", "-encrypt", "-pubin", "-inkey", "public.pem", "-in", "aes.bin", "-out", "aes.wrapped",
        "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256",
    )  # fmt: skip
    openssl(
        "enc", "-id-aes256-wrap-pad", "-K", aes_key.hex(), "-iv", "A65959A6", "-in", "material.bin",
        "-out", "material.wrapped",
    )  # fmt: skip
    wrapped = (tmp_path / "aes.wrapped").read_bytes() + (tmp_path / "material.wrapped").read_bytes()
    assert (tmp_path / "material.wrapped").read_bytes() == keywrap.aes_key_wrap_with_padding(aes_key, material)
    kms.import_wrapped_key("byok", wrapped, token, mode="cbc")
    assert kms.key_info("byok").algorithm == "aes-256-cbc"
    assert kms.decrypt_data_aes("byok", kms.encrypt_data_aes("byok", "cbc too")) == "cbc too"


def test_an_import_token_is_used_once_and_for_its_key_only(kms: KeyCustodian) -> None:
    public_pem, token = kms.get_import_parameters("a")
    with pytest.raises(InvalidInputError, match="unknown, used, expired or for another key id"):
        kms.import_wrapped_key("b", pyca_wrap(public_pem, os.urandom(32)), token)
    with pytest.raises(InvalidInputError, match="unknown, used"):  # presented once: gone
        kms.import_wrapped_key("a", pyca_wrap(public_pem, os.urandom(32)), token)
    public_pem, token = kms.get_import_parameters("a")
    kms.import_wrapped_key("a", pyca_wrap(public_pem, os.urandom(32)), token)
    with pytest.raises(KeyExistsError):
        kms.import_wrapped_key("a", pyca_wrap(public_pem, os.urandom(32)), token)
    with pytest.raises(InvalidInputError, match="unknown, used"):
        kms.import_wrapped_key("c", b"x" * 424, "made-up-token")


def test_an_import_token_expires_after_24_hours(clock: StepClock) -> None:
    kms = KeyCustodian(clock=clock)
    public_pem, token = kms.get_import_parameters("late")
    clock.now += timedelta(hours=24)
    with pytest.raises(InvalidInputError, match="expired"):
        kms.import_wrapped_key("late", pyca_wrap(public_pem, os.urandom(32)), token)
    assert "late" not in kms
    public_pem, token = kms.get_import_parameters("in-time")
    clock.now += timedelta(hours=23, minutes=59)
    kms.import_wrapped_key("in-time", pyca_wrap(public_pem, os.urandom(32)), token)


def test_every_unwrap_failure_is_one_error_and_uses_the_token(kms: KeyCustodian) -> None:
    """A flipped byte in the RSA layer or in the AES-KWP layer, a wrong length: the same error, the same words."""
    messages = set()
    for damage in ("rsa", "kwp", "short", "long", "16-byte material", "repeated byte", "wrong key"):
        public_pem, token = kms.get_import_parameters("k")
        material = bytes(32) if damage == "repeated byte" else os.urandom(16 if damage == "16-byte material" else 32)
        other_pem = KeyCustodian().get_import_parameters("x")[0]
        wrapped = bytearray(pyca_wrap(other_pem if damage == "wrong key" else public_pem, material))
        if damage == "rsa":
            wrapped[10] ^= 1
        elif damage == "kwp":
            wrapped[-3] ^= 1
        elif damage == "short":
            wrapped = wrapped[:-8]
        elif damage == "long":
            wrapped += b"\0" * 8
        with pytest.raises(InvalidInputError) as caught:
            kms.import_wrapped_key("k", bytes(wrapped), token)
        assert leaks(caught.value, [material]) == [], damage
        messages.add(str(caught.value))
        with pytest.raises(InvalidInputError, match="unknown, used"):
            kms.import_wrapped_key("k", bytes(wrapped), token)
    assert messages == {UNWRAP_FAILED}
    assert "k" not in kms


def test_pending_imports_are_bounded(kms: KeyCustodian) -> None:
    for n in range(MAX_PENDING_IMPORTS):
        kms.get_import_parameters(f"k{n}")
    with pytest.raises(InvalidInputError, match=f"{MAX_PENDING_IMPORTS} imports are pending"):
        kms.get_import_parameters("one-more")


def test_bad_arguments_are_typed_errors(kms: KeyCustodian) -> None:
    _, token = kms.get_import_parameters("k")
    with pytest.raises(ArgumentTypeError, match="wrapped must be bytes"):
        kms.import_wrapped_key("k", "text", token)  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match="import_token must be a str"):
        kms.import_wrapped_key("k", b"x", 42)  # type: ignore[arg-type]
    kms.establish_aes_key("taken")
    with pytest.raises(KeyExistsError):
        kms.get_import_parameters("taken")


def test_importing_is_the_owners_alone(kms: KeyCustodian) -> None:
    app = view(kms, "app")
    with pytest.raises(AccessDeniedError):
        app.get_import_parameters("k")


def test_an_imported_key_persists_in_a_sealed_store(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    kmslib.init_store(path, passphrase="pass phrase")
    material = os.urandom(32)
    with KeyCustodian.open(path, passphrase="pass phrase") as kms:
        public_pem, token = kms.get_import_parameters("byok")
        kms.import_wrapped_key("byok", pyca_wrap(public_pem, material), token)
    with KeyCustodian.open(path, passphrase="pass phrase") as kms:
        proves_material(kms, "byok", material)


def test_a_key_id_beyond_ascii_imports_too(kms: KeyCustodian) -> None:
    """The import token's key id is compared as UTF-8 bytes (hmac.compare_digest refuses non-ASCII str)."""
    material = os.urandom(32)
    public_pem, token = kms.get_import_parameters("clé-été")
    info = kms.import_wrapped_key("clé-été", pyca_wrap(public_pem, material), token)
    assert info.key_id == "clé-été"
    proves_material(kms, "clé-été", material)
