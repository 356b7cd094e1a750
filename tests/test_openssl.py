"""Interoperability with the openssl command line (OpenSSL 3)."""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kmslib import KeyCustodian, load_public_key

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl command line is not installed")


def openssl(*args: str | Path, stdin: bytes | None = None) -> bytes:
    assert OPENSSL is not None
    result = subprocess.run([OPENSSL, *map(str, args)], input=stdin, capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


@pytest.mark.parametrize(
    ("padding", "options", "message"),
    [
        ("oaep", ["rsa_padding_mode:oaep", "rsa_oaep_md:sha256", "rsa_mgf1_md:sha256"], b"m" * 190),
        ("pkcs1v15", ["rsa_padding_mode:pkcs1"], b"m" * 245),
    ],
)
def test_openssl_encrypts_to_an_exported_rsa_key(
    tmp_path: Path, rsa_pems: Callable[[int], str], padding: str, options: list[str], message: bytes
) -> None:
    kms = KeyCustodian()
    kms.import_rsa_key("r", rsa_pems(1), padding=padding)
    public = tmp_path / "public.pem"
    public.write_text(kms.export_public_key("r"))
    pkeyopts = [arg for option in options for arg in ("-pkeyopt", option)]
    ciphertext = openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", public, *pkeyopts, stdin=message)
    algorithm = "rsa-oaep-sha256" if padding == "oaep" else "rsa-pkcs1v15"
    token = f"kms:v1:{algorithm}:{base64.b64encode(ciphertext).decode()}"
    assert kms.decrypt_data_rsa("r", token, encoding=None) == message


@pytest.mark.parametrize(
    ("group", "heading"), [("ffdhe2048", "DH Public-Key: (2048 bit)"), ("x25519", "X25519 Public-Key:")]
)
def test_openssl_reads_the_public_keys_kmslib_writes(tmp_path: Path, group: str, heading: str) -> None:
    _, public = KeyCustodian().generate_diffie_hellman_params_and_key(group=group)
    path = tmp_path / "public.pem"
    path.write_text(public.pem)
    text = openssl("pkey", "-pubin", "-in", path, "-noout", "-text").decode()
    assert text.splitlines()[0].strip() == heading


@pytest.mark.parametrize("group", ["ffdhe2048", "ffdhe3072", "ffdhe4096"])
def test_kmslib_primes_are_openssls_rfc7919_groups(tmp_path: Path, group: str) -> None:
    private = tmp_path / "private.pem"
    openssl("genpkey", "-algorithm", "DHX", "-pkeyopt", f"group:{group}", "-out", private)
    public = load_public_key(openssl("pkey", "-in", private, "-pubout"))
    assert public.group == group  # kmslib names the group only when p and g match its own constants


@pytest.mark.parametrize(("group", "algorithm"), [("ffdhe2048", "DHX"), ("x25519", "X25519")])
def test_key_agreement_with_openssl(tmp_path: Path, group: str, algorithm: str) -> None:
    """Alice uses kmslib; Bob uses openssl. They end up with the same AES key."""
    bob_private = tmp_path / "bob.pem"
    options = ["-pkeyopt", f"group:{group}"] if algorithm == "DHX" else []
    openssl("genpkey", "-algorithm", algorithm, *options, "-out", bob_private)
    bob_public_pem = openssl("pkey", "-in", bob_private, "-pubout")

    alice = KeyCustodian()
    a_private, a_public = alice.generate_diffie_hellman_params_and_key(group=group)
    alice.derive_shared_key("shared", a_private, bob_public_pem)
    alice_public = tmp_path / "alice.pem"
    alice_public.write_text(a_public.pem)

    # pad:1 keeps the finite-field secret's leading zero bytes, as RFC 7919 and kmslib do.
    pad = ["-pkeyopt", "pad:1"] if algorithm == "DHX" else []
    secret = openssl("pkeyutl", "-derive", "-inkey", bob_private, "-peerkey", alice_public, *pad)
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"kmslib key exchange").derive(secret)
    bob = KeyCustodian()
    bob.import_aes_key("shared", key)
    assert bob.key_info("shared").fingerprint == alice.key_info("shared").fingerprint
    assert bob.decrypt_data_aes("shared", alice.encrypt_data_aes("shared", "from kmslib")) == "from kmslib"
