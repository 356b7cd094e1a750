"""Signatures (contract section 8): sign and verify, the lifecycle, signed audit checkpoints, Wycheproof, openssl."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from helpers import VECTORS, leaks
from kmslib import (
    ArgumentTypeError,
    AuditLog,
    InvalidInputError,
    KeyCustodian,
    KeyRevokedError,
    KeyTypeError,
    SignatureError,
    StoreError,
    verify_signature,
)
from kmslib.course import rewrite_log
from kmslib.errors import SIGNATURE_INVALID
from kmslib.signing import SigningKeyVersion
from kmslib.tokens import format_token, parse_token

ALGORITHMS = ["ed25519", "ecdsa-p256-sha256", "rsa-pss-sha256", "ml-dsa-65"]


@pytest.fixture
def kms(kms: KeyCustodian) -> KeyCustodian:
    for algorithm in ALGORITHMS:
        kms.generate_signing_key(algorithm, algorithm=algorithm)
    return kms


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sign_and_verify_in_the_custodian_and_with_only_the_public_key(kms: KeyCustodian, algorithm: str) -> None:
    info = kms.key_info(algorithm)
    assert (info.kind, info.algorithm, info.version) == ("signing", algorithm, 1)
    signature = kms.sign(algorithm, "pay Bob 10")
    version, name, raw = parse_token(signature)
    assert (version, name) == (1, algorithm)
    assert len(raw) == {"ed25519": 64, "rsa-pss-sha256": 256, "ml-dsa-65": 3309}.get(algorithm, len(raw))
    assert kms.verify(algorithm, "pay Bob 10", signature) is None
    assert kms.verify(algorithm, b"pay Bob 10", signature) is None
    pem = kms.export_public_key(algorithm)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert verify_signature(pem, "pay Bob 10", signature) is None
    assert kms.sign(algorithm, "pay Bob 10") != signature or algorithm == "ed25519"  # Ed25519 is deterministic
    assert len(pem) > 2000 or algorithm != "ml-dsa-65"  # a 1952-byte ML-DSA-65 public key


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_wrong_signature_is_the_one_error_without_cause(kms: KeyCustodian, algorithm: str) -> None:
    signature = kms.sign(algorithm, "pay Bob 10")
    other = next(a for a in ALGORITHMS if a != algorithm)
    flipped = bytearray(parse_token(signature)[2])
    flipped[len(flipped) // 2] ^= 1
    wrong = [
        ("pay Bob 1000", signature),  # a changed message
        ("pay Bob 10", format_token(1, algorithm, bytes(flipped))),  # a changed signature
        ("pay Bob 10", kms.sign(other, "pay Bob 10").replace(other, algorithm, 1)),  # another key's, relabelled
        ("pay Bob 10", "kms:v1:ed25519:!!!"),  # not even a token
    ]
    with pytest.raises(SignatureError):  # a version that never existed: the custodian knows its versions
        kms.verify(algorithm, "pay Bob 10", "kms:v7:" + signature.split(":", 2)[2])
    for message, token in wrong:
        for check in (
            lambda m=message, t=token: kms.verify(algorithm, m, t),
            lambda m=message, t=token: verify_signature(kms.export_public_key(algorithm), m, t),
        ):
            with pytest.raises(SignatureError) as err:
                check()
            assert str(err.value) == SIGNATURE_INVALID
            assert leaks(err.value, []) == []
    with pytest.raises(SignatureError):
        verify_signature(kms.export_public_key(other), "pay Bob 10", signature)  # another public key
    with pytest.raises(ArgumentTypeError):
        kms.verify(algorithm, "pay Bob 10", None)  # type: ignore[arg-type]


def test_old_signatures_verify_after_rotation_and_revoked_versions_refuse(kms: KeyCustodian) -> None:
    old = kms.sign("ed25519", "contract v1")
    assert kms.rotate_key("ed25519").version == 2
    new = kms.sign("ed25519", "contract v2")
    assert parse_token(new)[0] == 2
    kms.verify("ed25519", "contract v1", old)
    kms.invalidate_key("ed25519", version=1, reason="signing key leaked")
    with pytest.raises(KeyRevokedError, match="version 1"):
        kms.verify("ed25519", "contract v1", old)
    kms.verify("ed25519", "contract v2", new)
    kms.invalidate_key("ed25519")
    with pytest.raises(KeyRevokedError):
        kms.sign("ed25519", "x")
    rsa_key = kms.rotate_key("rsa-pss-sha256")
    assert rsa_key.version == 2


def test_signing_and_encryption_keys_do_not_mix(kms: KeyCustodian) -> None:
    kms.establish_aes_key("aes")
    kms.generate_rsa_pair("rsa")
    with pytest.raises(KeyTypeError, match="is a signing key, not AES: use sign/verify"):
        kms.encrypt_data_aes("ed25519", "x")
    with pytest.raises(KeyTypeError):
        kms.encrypt_data_rsa("rsa-pss-sha256", "x")
    with pytest.raises(KeyTypeError):
        kms.encrypt_envelope("ecdsa-p256-sha256", b"x")
    for key_id in ("aes", "rsa"):
        with pytest.raises(KeyTypeError, match="not signing"):
            kms.sign(key_id, "x")
        with pytest.raises(KeyTypeError):
            kms.verify(key_id, "x", "kms:v1:ed25519:AAAA")
    with pytest.raises(KeyTypeError):
        kms.sign_audit_checkpoint("aes")


def test_generation_arguments(kms: KeyCustodian) -> None:
    for size in (3072,):
        kms.generate_signing_key(f"pss-{size}", algorithm="rsa-pss-sha256", key_size=size)
        signature = kms.sign(f"pss-{size}", "x")
        assert len(parse_token(signature)[2]) == size // 8
    with pytest.raises(InvalidInputError, match="key_size applies to rsa-pss-sha256 only"):
        kms.generate_signing_key("x", algorithm="ed25519", key_size=2048)
    with pytest.raises(InvalidInputError, match="key_size applies"):
        kms.generate_signing_key("x", algorithm="rsa-pss-sha256", key_size=1024)
    with pytest.raises(InvalidInputError, match="algorithm must be one of"):
        kms.generate_signing_key("x", algorithm="dsa")
    assert "x" not in kms


# ---------------------------------------------------------------- signed audit checkpoints


def test_a_signed_checkpoint_catches_what_an_unsigned_chain_cannot(kms: KeyCustodian) -> None:
    kms.establish_aes_key("data")
    for day in ("mon", "tue", "wed"):
        kms.encrypt_data_aes("data", day)
    checkpoint = kms.sign_audit_checkpoint("ed25519")
    assert checkpoint.startswith(f"kmslib-checkpoint:v1:{len(kms.audit_log) - 1}:")
    assert checkpoint.isprintable()
    pem = kms.export_public_key("ed25519")
    kms.encrypt_data_aes("data", "thu")  # growth after the checkpoint
    export = kms.audit_log.to_jsonl()
    entries = export.splitlines()
    assert AuditLog.verify_jsonl(export, checkpoint=checkpoint, public_key=pem)
    signed = int(checkpoint.split(":")[2])
    cut = "\n".join(entries[: signed - 1])
    reordered = "\n".join([entries[1], entries[0], *entries[2:]])
    edited = rewrite_log(export, 2, outcome="DecryptionError")  # re-chained: consistent on its own
    assert AuditLog.verify_jsonl(edited)
    for forged in (cut, reordered, edited, export.replace('"tue"', '"tue"').replace('"ok"', '"ko"', 1)):
        assert not AuditLog.verify_jsonl(forged, checkpoint=checkpoint, public_key=pem)
    assert not AuditLog.verify_jsonl(export, checkpoint=checkpoint, public_key=kms.export_public_key("rsa-pss-sha256"))
    assert not AuditLog.verify_jsonl(export, checkpoint=checkpoint.replace(":v1:", ":v1:9", 1), public_key=pem)
    assert not AuditLog.verify_jsonl(export, checkpoint="kmslib-checkpoint:v1:3:abc", public_key=pem)
    with pytest.raises(ArgumentTypeError, match="needs the public_key"):
        AuditLog.verify_jsonl(export, checkpoint=checkpoint)
    assert kms.audit_log[signed].operation == "sign_audit_checkpoint"  # recorded after what it vouches for


def _statement(count: int | str, head: str) -> str:
    """A checkpoint statement, as sign_audit_checkpoint builds it (the part its signature covers)."""
    return f"kmslib-checkpoint:v1:{count}:{head}:2026-01-01T12:00:00+00:00"


def test_sign_refuses_a_checkpoint_statement_so_it_cannot_forge_one(kms: KeyCustodian) -> None:
    kms.establish_aes_key("data")
    kms.encrypt_data_aes("data", "mon")
    kms.invalidate_key("data", reason="retired")
    honest = kms.sign_audit_checkpoint("ed25519")  # the log keeper's checkpoint
    pem = kms.export_public_key("ed25519")
    # Whoever may call sign with that key rewrites the log (the revocation now failed) and signs its head.
    forged = rewrite_log(kms.audit_log.to_jsonl(), 3, outcome="KeyNotFoundError")
    count = len(forged.splitlines())
    head = json.loads(forged.splitlines()[-1])["hash"]
    for statement in (_statement(count, head), _statement(count, head).encode("ascii"), "kmslib-checkpoint:v2:"):
        with pytest.raises(InvalidInputError, match="sign_audit_checkpoint alone signs") as err:
            kms.sign("ed25519", statement)
        assert leaks(err.value, []) == []
    assert kms.audit_log[-1].operation == "sign"
    assert kms.audit_log[-1].outcome == "InvalidInputError"
    assert AuditLog.verify_jsonl(kms.audit_log.to_jsonl(), checkpoint=honest, public_key=pem)
    assert not AuditLog.verify_jsonl(forged, checkpoint=honest, public_key=pem)
    # Anything else is signed as before, a statement quoted inside a message included.
    kms.verify("ed25519", " " + _statement(count, head), kms.sign("ed25519", " " + _statement(count, head)))


def _raw_checkpoint(private: ed25519.Ed25519PrivateKey, statement: str) -> str:
    """A checkpoint signed outside kmslib (a keeper's bug, or a keeper that lies about its count)."""
    return f"{statement}:{format_token(1, 'ed25519', private.sign(statement.encode()))}"


def test_a_checkpoint_whose_count_is_not_its_heads_position_is_refused(kms: KeyCustodian) -> None:
    kms.establish_aes_key("data")
    for day in ("mon", "tue", "wed"):
        kms.encrypt_data_aes("data", day)
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    log = kms.audit_log
    export, head, count = log.to_jsonl(), log.head, len(log)
    assert AuditLog.verify_jsonl(export, checkpoint=_raw_checkpoint(private, _statement(count, head)), public_key=pem)
    assert log.verify(checkpoint=_raw_checkpoint(private, _statement(count, head)), public_key=pem)
    for wrong in (count - 1, count + 1, 0, 10**30):
        checkpoint = _raw_checkpoint(private, _statement(wrong, head))
        assert not AuditLog.verify_jsonl(export, checkpoint=checkpoint, public_key=pem)
        assert not log.verify(checkpoint=checkpoint, public_key=pem)
    empty = _raw_checkpoint(private, _statement(0, "0" * 64))
    assert AuditLog.verify_jsonl(export, checkpoint=empty, public_key=pem)
    assert not AuditLog.verify_jsonl(
        export, checkpoint=_raw_checkpoint(private, _statement(1, "0" * 64)), public_key=pem
    )
    assert not AuditLog.verify_jsonl(
        export, checkpoint=_raw_checkpoint(private, _statement(2, head).replace(":2:", ":²:")), public_key=pem
    )


#: How many checkpoints each of two threads signs while three others log.
CHECKPOINTS = 200


def test_every_checkpoint_counts_exactly_the_entries_up_to_its_head_while_threads_log(kms: KeyCustodian) -> None:
    kms.establish_aes_key("data")
    kms.generate_signing_key("auditor")
    stop = threading.Event()
    checkpoints: list[str] = []

    def log_until_stopped() -> None:
        for _ in range(2000):
            if stop.is_set():
                return
            kms.encrypt_data_aes("data", "x")

    def sign_checkpoints() -> None:
        for _ in range(CHECKPOINTS):
            checkpoints.append(kms.sign_audit_checkpoint("auditor"))

    loggers = [threading.Thread(target=log_until_stopped) for _ in range(3)]
    signers = [threading.Thread(target=sign_checkpoints) for _ in range(2)]
    for thread in loggers + signers:
        thread.start()
    for thread in signers:
        thread.join()
    stop.set()
    for thread in loggers:
        thread.join()
    entries = list(kms.audit_log)
    pem = kms.export_public_key("auditor")
    export = kms.audit_log.to_jsonl()
    wrong = [c for c in checkpoints if entries[int(c.split(":")[2]) - 1].hash != c.split(":")[3]]
    assert wrong == []
    assert len(checkpoints) == 2 * CHECKPOINTS
    assert AuditLog.verify_jsonl(export, checkpoint=checkpoints[-1], public_key=pem)


# ---------------------------------------------------------------- Wycheproof


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return data


FILES = {
    "ed25519": "ed25519_test.json",
    "ecdsa-p256-sha256": "ecdsa_secp256r1_sha256_test.json",
    "rsa-pss-sha256": "rsa_pss_2048_sha256_mgf1_32_test.json",
    "ml-dsa-65": "mldsa_65_verify_test.json",
}
#: (valid, invalid) cases that apply: kmslib's ML-DSA is pure with an empty context, so the two vectors with a
#: context of their own are left out (the file has 79 valid and 131 invalid cases in all).
COUNTS = {"ed25519": (88, 63), "ecdsa-p256-sha256": (174, 310), "rsa-pss-sha256": (63, 45), "ml-dsa-65": (77, 126)}


def pem_of(group: dict[str, Any]) -> str:
    """The group's public key as PEM (ML-DSA groups give only DER, which may be deliberately broken)."""
    if "publicKeyPem" in group:
        return str(group["publicKeyPem"])
    body = base64.encodebytes(bytes.fromhex(group.get("publicKeyDer", ""))).decode("ascii")
    return f"-----BEGIN PUBLIC KEY-----\n{body}-----END PUBLIC KEY-----\n"


def wycheproof_cases(algorithm: str) -> list[Any]:
    data = load(FILES[algorithm])
    return [
        pytest.param(pem_of(group), test, id=f"tc{test['tcId']}")
        for group in data["testGroups"]
        for test in group["tests"]
        if not test.get("ctx")
    ]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_wycheproof_vector_through_verify_signature(algorithm: str) -> None:
    valid = invalid = 0
    for case in wycheproof_cases(algorithm):
        pem, test = case.values
        token = format_token(1, algorithm, bytes.fromhex(test["sig"])) if test["sig"] else "kms:v1:" + algorithm + ":"
        message = bytes.fromhex(test["msg"])
        if test["result"] == "valid":
            verify_signature(pem, message, token)
            valid += 1
        else:
            assert test["result"] == "invalid", test
            with pytest.raises(SignatureError):
                verify_signature(pem, message, token)
            invalid += 1
    assert (valid, invalid) == COUNTS[algorithm]


# ---------------------------------------------------------------- openssl

OPENSSL = shutil.which("openssl")


def openssl(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    assert OPENSSL is not None
    result = subprocess.run([OPENSSL, *map(str, args)], capture_output=True, check=False)
    if check:
        assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result


VERIFY_OPTIONS = {
    "ed25519": lambda pub, msg, sig: [
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        pub,
        "-rawin",
        "-in",
        msg,
        "-sigfile",
        sig,
    ],
    "ecdsa-p256-sha256": lambda pub, msg, sig: ["dgst", "-sha256", "-verify", pub, "-signature", sig, msg],
    "rsa-pss-sha256": lambda pub, msg, sig: [
        *("dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"),
        *("-sigopt", "rsa_mgf1_md:sha256", "-verify", pub, "-signature", sig, msg),
    ],
}


@pytest.mark.skipif(OPENSSL is None, reason="the openssl command line is not installed")
@pytest.mark.parametrize("algorithm", ALGORITHMS[:3])  # OpenSSL before 3.5 has no ML-DSA command line
def test_openssl_verifies_kmslib_and_kmslib_verifies_openssl(kms: KeyCustodian, algorithm: str, tmp_path: Path) -> None:
    message = tmp_path / "message.txt"
    message.write_bytes(b"signed by kmslib, checked by openssl")
    public, signature = tmp_path / "public.pem", tmp_path / "signature.bin"
    public.write_text(kms.export_public_key(algorithm))
    signature.write_bytes(parse_token(kms.sign(algorithm, message.read_bytes()))[2])
    said = openssl(*VERIFY_OPTIONS[algorithm](public, message, signature)).stdout
    assert (b"Signature Verified Successfully" if algorithm == "ed25519" else b"Verified OK") in said
    message.write_bytes(b"changed")
    assert openssl(*VERIFY_OPTIONS[algorithm](public, message, signature), check=False).returncode != 0
    # openssl signs, kmslib verifies with the public key alone.
    private = tmp_path / "private.pem"
    if algorithm == "ed25519":
        key: Any = ed25519.Ed25519PrivateKey.generate()
    elif algorithm == "ecdsa-p256-sha256":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    message.write_bytes(b"signed by openssl, checked by kmslib")
    if algorithm == "ed25519":
        openssl("pkeyutl", "-sign", "-inkey", private, "-rawin", "-in", message, "-out", signature)
    elif algorithm == "ecdsa-p256-sha256":
        openssl("dgst", "-sha256", "-sign", private, "-out", signature, message)
    else:
        openssl(
            *("dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"),
            *("-sigopt", "rsa_mgf1_md:sha256", "-sign", private, "-out", signature, message),
        )
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    token = format_token(1, algorithm, signature.read_bytes())
    verify_signature(pem, message.read_bytes(), token)
    with pytest.raises(SignatureError):
        verify_signature(pem, b"another message", token)


# ---------------------------------------------------------------- checkpoints of a sealed store


CRASH = """
import os, sys
from kmslib import KeyCustodian
kms = KeyCustodian.open(sys.argv[1], passphrase="checkpoint tests")
kms.generate_signing_key("auditor")
kms.establish_aes_key("data")
for _ in range(40):  # fewer than a batch: left to the writer thread
    kms.encrypt_data_aes("data", "x")
checkpoint = kms.sign_audit_checkpoint("auditor")
sys.stdout.write(checkpoint + "\\n" + kms.export_public_key("auditor"))
sys.stdout.flush()
os.kill(os.getpid(), 9)
"""


def test_a_stored_checkpoint_survives_kill_9_right_after_it_was_signed(tmp_path: Path) -> None:
    import kmslib

    path = tmp_path / "keys.db"
    kmslib.init_store(path, passphrase="checkpoint tests")
    done = subprocess.run([sys.executable, "-c", CRASH, str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == -9, done.stderr
    checkpoint, public = done.stdout.split("\n", 1)
    with KeyCustodian.open(path, passphrase="checkpoint tests") as kms:
        export = kms.audit_log.to_jsonl()
        assert len(kms.audit_log) >= int(checkpoint.split(":")[2])
    assert AuditLog.verify_jsonl(export, checkpoint=checkpoint, public_key=public)


def test_a_checkpoint_whose_log_cannot_be_saved_is_not_signed(tmp_path: Path) -> None:
    import kmslib

    path = tmp_path / "keys.db"
    kmslib.init_store(path, passphrase="checkpoint tests")
    with KeyCustodian.open(path, passphrase="checkpoint tests") as kms:
        kms.generate_signing_key("auditor")
        kms.establish_aes_key("data")
        kms.encrypt_data_aes("data", "x")
        write = kms.audit_log._write

        def broken(first: int, records: list[Any]) -> None:
            raise StoreError("disk full")

        kms.audit_log._write = broken
        with pytest.raises(StoreError, match="disk full"):
            kms.sign_audit_checkpoint("auditor")
        assert (kms.audit_log[-1].operation, kms.audit_log[-1].outcome) == ("sign_audit_checkpoint", "StoreError")
        kms.audit_log._write = write


# ---------------------------------------------------------------- what a relying party's PEM says


def test_verify_signature_takes_exactly_one_pem_block(kms: KeyCustodian) -> None:
    pem = kms.export_public_key("ed25519")
    other = kms.export_public_key("ecdsa-p256-sha256")
    signature = kms.sign("ed25519", "pay Bob 10")
    verify_signature("\n  " + pem + "\r\n\n", "pay Bob 10", signature)  # whitespace around: one block
    verify_signature(pem.encode("ascii"), "pay Bob 10", signature)
    for wrong in ("junk\n" + pem, pem + "junk\n", pem + other, pem + pem, pem.replace("\n", "\n#", 1), ""):
        with pytest.raises(SignatureError) as err:
            verify_signature(wrong, "pay Bob 10", signature)
        assert leaks(err.value, []) == []


def test_a_pem_tells_neither_a_keys_purpose_nor_its_revocation(kms: KeyCustodian) -> None:
    oaep = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = oaep.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    kms.import_rsa_key("encryption", pem.decode("ascii"))
    assert kms.key_info("encryption").algorithm == "rsa-oaep-sha256"
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    token = format_token(1, "rsa-pss-sha256", oaep.sign(b"m", pss, hashes.SHA256()))
    verify_signature(kms.export_public_key("encryption"), b"m", token)  # an encryption key passes as PSS
    signature = kms.sign("ed25519", "m")
    public = kms.export_public_key("ed25519")
    kms.invalidate_key("ed25519", reason="leaked")
    verify_signature(public, "m", signature)  # the PEM alone cannot know the key was revoked
    with pytest.raises(KeyRevokedError):
        kms.verify("ed25519", "m", signature)


# ---------------------------------------------------------------- ECDSA: low-s, RFC 6979

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # NIST SP 800-186 §3.2.1.3


def test_ecdsa_signatures_are_low_s_and_the_high_s_twin_still_verifies(kms: KeyCustodian) -> None:
    pem = kms.export_public_key("ecdsa-p256-sha256")
    for n in range(40):  # a random nonce gives a high s half the time
        signature = kms.sign("ecdsa-p256-sha256", f"message {n}")
        r, s = utils.decode_dss_signature(parse_token(signature)[2])
        assert s <= P256_N // 2
        twin = format_token(1, "ecdsa-p256-sha256", utils.encode_dss_signature(r, P256_N - s))
        kms.verify("ecdsa-p256-sha256", f"message {n}", twin)  # documented: verification accepts both
        verify_signature(pem, f"message {n}", twin)


def test_rfc6979_deterministic_ecdsa() -> None:
    # RFC 6979 A.2.5, P-256 with SHA-256, message "sample".
    x = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
    r = 0xEFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716
    s = 0xF7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8
    version = SigningKeyVersion(ec.derive_private_key(x, ec.SECP256R1()), "ecdsa-p256-sha256")
    signature = version.sign(b"sample", deterministic=True)
    assert signature is not None
    assert s > P256_N // 2  # the RFC's s is high: kmslib gives its low twin, n - s
    assert utils.decode_dss_signature(signature) == (r, P256_N - s)
    assert version.sign(b"sample", deterministic=True) == signature
    assert version.verifies(b"sample", utils.encode_dss_signature(r, s))  # the RFC's own signature verifies


def test_deterministic_signing_through_the_custodian(kms: KeyCustodian) -> None:
    for algorithm in ("ecdsa-p256-sha256", "ed25519"):
        first = kms.sign(algorithm, "same", deterministic=True)
        assert kms.sign(algorithm, "same", deterministic=True) == first
        kms.verify(algorithm, "same", first)
    assert kms.sign("ecdsa-p256-sha256", "same") != kms.sign("ecdsa-p256-sha256", "same")
    for algorithm in ("rsa-pss-sha256", "ml-dsa-65"):
        with pytest.raises(InvalidInputError, match="deterministic signing applies to"):
            kms.sign(algorithm, "same", deterministic=True)
