"""kmslib against the raw primitives and what a user would pick instead, side by side.

Run with ``make bench`` (which installs the ``bench`` extra: Google Tink). Prints a table of
medians, spreads and ratios, checks the targets, and writes everything as JSON to
``benchmarks/results/latest.json``. Not part of ``make test``: timings belong here, never in tests.

The AES cases take turns in every round, and each ratio is the median of per-round ratios, so
that a machine whose speed drifts meets every case alike. A "floor" case writes and reads the
contract's text token with nothing else (no checks, no key lookup, no audit): what the format
alone costs, which no implementation of it can beat.

Usage: ``python benchmarks/run.py [--quick] [--no-notebooks] [--json PATH]``
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cryptography
from cryptography.fernet import Fernet
from cryptography.hazmat.backends.openssl import backend
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import padding, rsa, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import kmslib
from kmslib import KeyCustodian, _ffdh, dh, tokens

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"64 B": 64, "1 KiB": 1024, "1 MiB": 1 << 20}


@dataclass
class Stats:
    """Seconds per operation over several repeats."""

    median: float
    low: float
    high: float
    repeats: int

    @property
    def spread(self) -> float:
        """Half the min-to-max range, relative to the median."""
        return (self.high - self.low) / 2 / self.median if self.median else 0.0


def _batch(fn: Callable[[], object], number: int) -> float:
    """Seconds per call over a batch of ``number`` calls."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def _calibrate(fn: Callable[[], object], min_time: float, max_number: int) -> int:
    """How many calls make a batch that takes at least ``min_time`` (at most ``max_number``)."""
    number = 1
    while True:
        elapsed = _batch(fn, number) * number
        if elapsed >= min_time or number >= max_number:
            return number
        number = min(max_number, max(number * 2, int(number * min_time / max(elapsed, 1e-9))))


def measure(fn: Callable[[], object], *, repeats: int = 7, min_time: float = 0.05, max_number: int = 100_000) -> Stats:
    """Time ``fn``: calibrate a batch to take at least ``min_time``, then run ``repeats`` batches."""
    number = _calibrate(fn, min_time, max_number)
    samples = [_batch(fn, number) for _ in range(repeats)]
    return Stats(statistics.median(samples), min(samples), max(samples), repeats)


def measure_interleaved(
    cases: dict[str, Callable[[], object]], *, repeats: int = 7, min_time: float = 0.05, max_number: int = 100_000
) -> dict[str, list[float]]:
    """Time several cases in turns, so that a machine that speeds up or slows down meets them all alike.

    Each case's batch is calibrated to take at least ``min_time``; then every round times one
    batch of each case (in a rotating order). Returns each case's seconds per call, round by round.
    """
    numbers = {name: _calibrate(fn, min_time, max_number) for name, fn in cases.items()}
    samples: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for round_ in range(repeats):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            samples[name].append(_batch(cases[name], numbers[name]))
    return samples


def fmt_time(seconds: float) -> str:
    """Seconds in the most readable unit."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


# ---------------------------------------------------------------- round trips


def round_trips(data: bytes, *, tink: bool = True) -> dict[str, Callable[[], object]]:
    """Encrypt + decrypt ``data`` with each implementation (Tink's only if ``tink`` and it is installed)."""
    key = os.urandom(32)
    aead = AESGCM(key)

    def raw_gcm() -> object:
        nonce = os.urandom(12)
        return aead.decrypt(nonce, aead.encrypt(nonce, data, None), None)

    encode, decode = tokens._base64()  # the codec kmslib uses (pybase64's when installed)

    def text_token_floor() -> object:
        # The least work that writes and reads kmslib's token (no checks, no key lookup, no audit),
        # copying small messages and working in place on large ones, as kmslib does.
        nonce = os.urandom(12)
        if len(data) < 1 << 16:
            payload: bytes | bytearray = nonce + aead.encrypt(nonce, data, None)
        else:
            payload = bytearray(len(data) + 28)
            payload[:12] = nonce
            aead.encrypt_into(nonce, data, None, memoryview(payload)[12:])
        token = "kms:v1:aes-256-gcm:" + encode(payload)
        read = decode(token[19:], None, True)
        return aead.decrypt(read[:12], read[12:] if len(read) < 1 << 16 else memoryview(read)[12:], None)

    aes = algorithms.AES(key)

    def raw_cbc() -> object:
        iv = os.urandom(16)
        padder = sym_padding.PKCS7(128).padder()
        encryptor = Cipher(aes, modes.CBC(iv)).encryptor()
        ciphertext = encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()
        decryptor = Cipher(aes, modes.CBC(iv)).decryptor()
        unpadder = sym_padding.PKCS7(128).unpadder()
        return unpadder.update(decryptor.update(ciphertext) + decryptor.finalize()) + unpadder.finalize()

    kms = KeyCustodian()
    kms.import_aes_key("gcm", key)
    kms.import_aes_key("cbc", key, mode="cbc")
    fernet = Fernet(Fernet.generate_key())
    cases: dict[str, Callable[[], object]] = {
        "raw pyca AESGCM": raw_gcm,
        "AESGCM + text token (floor)": text_token_floor,
        "kmslib aes-256-gcm": lambda: kms.decrypt_data_aes("gcm", kms.encrypt_data_aes("gcm", data), encoding=None),
        "raw pyca AES-CBC+PKCS7": raw_cbc,
        "kmslib aes-256-cbc": lambda: kms.decrypt_data_aes("cbc", kms.encrypt_data_aes("cbc", data), encoding=None),
        "pyca Fernet": lambda: fernet.decrypt(fernet.encrypt(data)),
        "kmslib envelope": lambda: kms.decrypt_envelope("gcm", kms.encrypt_envelope("gcm", data)),
    }
    tink_aead = _tink_aead() if tink else None
    if tink_aead is not None:
        cases["Tink AEAD AES256_GCM"] = lambda: tink_aead.decrypt(tink_aead.encrypt(data, b""), b"")
    return cases


#: A key policy of ten statements (issue 25's cost target): the principal's Allow is the last one, after others'
#: Allows, Denies and conditions, so that a decision made afresh reads them all.
TEN_STATEMENTS: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Admins", "Effect": "Allow", "Principal": ["admin", "backup-admin"],
         "Action": ["kms:PutKeyPolicy", "kms:GetKeyPolicy", "kms:RotateKey", "kms:DescribeKey"], "Resource": "*"},
        {"Sid": "AdminsNeverUse", "Effect": "Deny", "Principal": ["admin", "backup-admin"],
         "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"},
        {"Sid": "Auditor", "Effect": "Allow", "Principal": "auditor", "Action": "kms:DescribeKey", "Resource": "*"},
        {"Sid": "Payments", "Effect": "Allow", "Principal": "payments", "Action": ["kms:Encrypt", "kms:Decrypt"],
         "Resource": "*", "Condition": {"StringEquals": {"kmslib:AssociatedData": "payments"}}},
        {"Sid": "Batch", "Effect": "Allow", "Principal": "batch", "Action": "kms:GenerateDataKey", "Resource": "*"},
        {"Sid": "NoInterns", "Effect": "Deny", "Principal": "intern", "Action": "kms:*", "Resource": "*"},
        {"Sid": "Revoke", "Effect": "Allow", "Principal": ["admin", "security"], "Action": "kms:RevokeKey",
         "Resource": "*", "Condition": {"NumericGreaterThanEquals": {"kmslib:Approvals": 1}}},
        {"Sid": "Grants", "Effect": "Allow", "Principal": "security", "Action": ["kms:CreateGrant", "kms:ListGrants"],
         "Resource": "*"},
        {"Sid": "Rewrap", "Effect": "Allow", "Principal": "release", "Action": "kms:ReEncrypt", "Resource": "*"},
        {"Sid": "App", "Effect": "Allow", "Principal": "app", "Action": ["kms:Encrypt", "kms:Decrypt"],
         "Resource": "*"},
    ],
}  # fmt: skip

PRINCIPAL_CASES = ("owner 1 KiB round trip", "principal 1 KiB round trip, 10-statement policy")


def principal_cases(data: bytes) -> tuple[dict[str, Callable[[], object]], KeyCustodian]:
    """AES-GCM encrypt + decrypt of ``data`` by the owner and by a principal that a ten-statement policy allows.

    Both on the same custodian and key (credentials issued, so the owner's records are the ones a custodian
    with principals makes), and, beside them, the owner of a custodian that never issued a credential.
    Returns the cases and that custodian.
    """
    plain = KeyCustodian()
    plain.establish_aes_key("k")
    kms = KeyCustodian()
    kms.establish_aes_key("k")
    kms.set_key_policy("k", TEN_STATEMENTS)
    app = kms.as_principal(kms.issue_credential("app"))
    cases: dict[str, Callable[[], object]] = {
        PRINCIPAL_CASES[0]: lambda: kms.decrypt_data_aes("k", kms.encrypt_data_aes("k", data), encoding=None),
        PRINCIPAL_CASES[1]: lambda: app.decrypt_data_aes("k", app.encrypt_data_aes("k", data), encoding=None),
        "owner 1 KiB round trip, no principals": lambda: plain.decrypt_data_aes(
            "k", plain.encrypt_data_aes("k", data), encoding=None
        ),
    }
    return cases, kms


#: The envelope's sizes, beside the peers that also take bytes of any size.
ENVELOPE_SIZES = {"1 KiB": 1024, "1 MiB": 1 << 20, "64 MiB": 64 << 20}
ENVELOPE_CASES = ("raw pyca AESGCM", "kmslib envelope", "Tink AEAD AES256_GCM", "pyca Fernet")


def envelope_peak_memory(size: int) -> float:
    """The most memory one envelope operation holds, as a multiple of the data's size.

    For encryption, the data plus everything the call allocates at its peak (tracemalloc); for
    decryption, the envelope plus the same. The contract's bound is the input plus the output plus
    a small constant: about 2x.
    """
    import tracemalloc  # noqa: PLC0415 - only here

    kms = KeyCustodian()
    kms.establish_aes_key("kek")
    data = bytes(size)
    tracemalloc.start()
    try:
        sealed = kms.encrypt_envelope("kek", data)
        _, peak_encrypt = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        kms.decrypt_envelope("kek", sealed)
        _, peak_decrypt = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return max(size + peak_encrypt, len(sealed) + peak_decrypt - before) / size


def _tink_aead() -> Any:
    try:
        import tink  # noqa: PLC0415 - optional: the bench extra installs it
        from tink import aead  # noqa: PLC0415
    except ImportError:
        return None
    aead.register()
    handle = tink.new_keyset_handle(aead.aead_key_templates.AES256_GCM)
    return handle.primitive(aead.Aead)


# ---------------------------------------------------------------- the rest


def rsa_cases() -> dict[str, Callable[[], object]]:
    """RSA-2048 OAEP-SHA256 encrypt and decrypt of 64 bytes, kmslib against raw pyca."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key()
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    message = os.urandom(64)
    ciphertext = public.encrypt(message, oaep)
    kms = KeyCustodian()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    kms.import_rsa_key("r", pem)
    token = kms.encrypt_data_rsa("r", message)
    return {
        "raw pyca RSA-2048 OAEP encrypt": lambda: public.encrypt(message, oaep),
        "kmslib RSA-2048 OAEP encrypt": lambda: kms.encrypt_data_rsa("r", message),
        "raw pyca RSA-2048 OAEP decrypt": lambda: private.decrypt(ciphertext, oaep),
        "kmslib RSA-2048 OAEP decrypt": lambda: kms.decrypt_data_rsa("r", token, encoding=None),
    }


def keygen_cases() -> dict[str, Callable[[], object]]:
    """Key generation: RSA-2048, DH key pairs in fixed groups, X25519."""
    counter = iter(range(10**9))
    kms = KeyCustodian()
    ffdhe2048 = _ffdh._parameters("ffdhe2048")
    return {
        "raw pyca RSA-2048 key generation": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "kmslib generate_rsa_pair (2048)": lambda: kms.generate_rsa_pair(f"r{next(counter)}"),
        "raw pyca ffdhe2048 key pair": ffdhe2048.generate_private_key,
        "kmslib DH key pair (ffdhe2048)": lambda: dh.generate_key_pair("ffdhe2048"),
        "raw pyca X25519 key pair": x25519.X25519PrivateKey.generate,
        "kmslib DH key pair (x25519)": lambda: dh.generate_key_pair("x25519"),
        "kmslib wrapped import (parameters, wrap, import)": lambda: wrapped_import(kms, f"w{next(counter)}"),
    }


def wrapped_import(kms: KeyCustodian, key_id: str) -> object:
    """One BYOK import, as AWS's: import parameters (an RSA-3072 key pair), the owner's wrap, the import."""
    from cryptography.hazmat.primitives import keywrap  # noqa: PLC0415

    public_pem, token = kms.get_import_parameters(key_id)
    public: Any = serialization.load_pem_public_key(public_pem.encode())
    aes_key = os.urandom(32)
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    wrapped = public.encrypt(aes_key, oaep) + keywrap.aes_key_wrap_with_padding(aes_key, os.urandom(32))
    return kms.import_wrapped_key(key_id, wrapped, token)


def certificate_cases(entries: int = 10_000) -> dict[str, Callable[[], object]]:
    """Issue 27: a certificate, a CRL of ``entries`` revoked certificates, and an OCSP response, kmslib's CA
    (the custodian signs; pyca's signature replaced) beside pyca signing the same structures with a key it holds.
    """
    from datetime import timedelta  # noqa: PLC0415

    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509 import ocsp  # noqa: PLC0415

    from kmslib.pki import CertificateAuthority  # noqa: PLC0415

    kms = KeyCustodian()
    kms.generate_signing_key("root", algorithm="ecdsa-p256-sha256")
    kms.generate_signing_key("signer", algorithm="ecdsa-p256-sha256")
    ca = CertificateAuthority.create_root(kms, "root", subject="CN=Bench Root", days=3650)
    issued = [x509.load_pem_x509_certificate(ca.issue("signer", subject="CN=Leaf", days=30).encode())]
    for _ in range(entries):
        serial = x509.load_pem_x509_certificate(ca.issue("signer", subject="CN=n", days=30).encode()).serial_number
        ca.revoke(serial, reason="superseded")
    ca_cert = x509.load_pem_x509_certificate(ca.certificate.encode())
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(issued[0], ca_cert, hashes.SHA1())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    # pyca alone: a key it holds, the same structures.
    key = ec.generate_private_key(ec.SECP256R1())
    leaf_public = issued[0].public_key()
    name = x509.Name.from_rfc4514_string("CN=Leaf")
    now = kms._now()

    def raw_certificate() -> object:
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(ca_cert.subject)
            .public_key(leaf_public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_public), critical=False)
            .sign(key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
        )

    revoked = [
        x509.RevokedCertificateBuilder()
        .serial_number(x509.random_serial_number())
        .revocation_date(now)
        .add_extension(x509.CRLReason(x509.ReasonFlags.superseded), critical=False)
        .build()
        for _ in range(entries)
    ]

    def raw_crl() -> object:
        builder = x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject).last_update(now)
        builder = builder.next_update(now + timedelta(days=7)).add_extension(x509.CRLNumber(1), critical=False)
        for entry in revoked:
            builder = builder.add_revoked_certificate(entry)
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)

    def raw_ocsp() -> object:
        stand_in = x509.CertificateBuilder().subject_name(ca_cert.subject).issuer_name(ca_cert.subject)
        stand_in = stand_in.public_key(key.public_key()).serial_number(1).not_valid_before(now)
        responder = stand_in.not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256())
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=issued[0],
            issuer=ca_cert,
            algorithm=hashes.SHA1(),
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=now,
            next_update=now + timedelta(days=1),
            revocation_time=None,
            revocation_reason=None,
        )
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.NAME, responder)
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    # The relying party: a two-level chain of its own, and its status from the CAs' (short) CRLs.
    for key_id in ("rp-root", "rp-issuing", "clerk"):
        kms.generate_signing_key(key_id, algorithm="ecdsa-p256-sha256")
    rp_root = CertificateAuthority.create_root(kms, "rp-root", subject="CN=Relying Root", days=3650)
    issuing = rp_root.create_intermediate("rp-issuing", subject="CN=Relying Issuing", days=365)
    clerk_pem = issuing.issue("clerk", subject="CN=Clerk", days=30)
    signed = kms.sign("clerk", b"benchmark message")
    crls = [rp_root.crl(), issuing.crl()]
    anchor = x509.load_pem_x509_certificate(rp_root.certificate.encode())
    leaf_cert = x509.load_pem_x509_certificate(clerk_pem.encode())
    middle_cert = x509.load_pem_x509_certificate(issuing.certificate.encode())
    crl_objects = [x509.load_pem_x509_crl(c.encode()) for c in crls]
    token_signature = tokens.parse_token(signed)[2]
    at = kms._now()

    def raw_relying_party() -> object:
        from cryptography.x509 import verification  # noqa: PLC0415

        verifier = (
            verification.PolicyBuilder()
            .store(verification.Store([anchor]))
            .time(at)
            .extension_policies(
                ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
                ee_policy=verification.ExtensionPolicy.permit_all(),
            )
            .build_client_verifier()
        )
        chain = verifier.verify(leaf_cert, [middle_cert]).chain
        for child, parent in itertools.pairwise(chain):
            crl = next(c for c in crl_objects if c.issuer == parent.subject)
            assert crl.is_signature_valid(parent.public_key())  # type: ignore[arg-type]
            assert crl.get_revoked_certificate_by_serial_number(child.serial_number) is None
        public: Any = leaf_cert.public_key()
        public.verify(token_signature, b"benchmark message", ec.ECDSA(hashes.SHA256()))
        return chain

    def kmslib_relying_party() -> object:
        kmslib.verify_signature(
            None,
            b"benchmark message",
            signed,
            certificate=clerk_pem,
            trust_anchor=rp_root.certificate,
            intermediates=[issuing.certificate],
            crl=crls,
            at=at,
        )
        return True

    return {
        "raw pyca certificate (ECDSA P-256)": raw_certificate,
        "kmslib CA issue (ECDSA P-256)": lambda: ca.issue("signer", subject="CN=Leaf", days=30),
        f"raw pyca CRL of {entries:,} entries": raw_crl,
        f"kmslib CA crl() of {entries:,} entries": ca.crl,
        "raw pyca OCSP response": raw_ocsp,
        "kmslib CA ocsp_response": lambda: ca.ocsp_response(request),
        "raw pyca chain + CRL status + signature": raw_relying_party,
        "kmslib verify_signature(certificate=, crl=)": kmslib_relying_party,
    }


def exchange_cases() -> tuple[dict[str, Callable[[], object]], dict[str, tuple[int, int]]]:
    """A full key exchange between two custodians in each group, the raw pyca hybrid exchange, and bytes on the wire."""
    from cryptography.hazmat.primitives.asymmetric import mlkem  # noqa: PLC0415 - cryptography 50

    counter = iter(range(10**9))

    def custodian_exchange(group: str) -> Callable[[], object]:
        def run() -> object:
            alice, bob, n = KeyCustodian(), KeyCustodian(), next(counter)
            a_private, a_public = alice.generate_diffie_hellman_params_and_key(group=group)
            if group == "x25519mlkem768":
                reply = bob.accept_key_exchange(f"k{n}", a_public)
                return alice.derive_shared_key(f"k{n}", a_private, reply)
            b_private, b_public = bob.generate_diffie_hellman_params_and_key(group=group)
            bob.derive_shared_key(f"k{n}", b_private, a_public)
            return alice.derive_shared_key(f"k{n}", a_private, b_public)

        return run

    def raw_hybrid() -> object:
        kem, x_alice = mlkem.MLKEM768PrivateKey.generate(), x25519.X25519PrivateKey.generate()
        k_secret, ciphertext = kem.public_key().encapsulate()
        x_bob = x25519.X25519PrivateKey.generate()
        bob_secret = k_secret + x_bob.exchange(x_alice.public_key())
        alice_secret = kem.decapsulate(ciphertext) + x_alice.exchange(x_bob.public_key())
        keys = [HKDF(hashes.SHA256(), 32, None, b"kmslib key exchange").derive(s) for s in (bob_secret, alice_secret)]
        return [AESGCM(key) for key in keys]

    cases = {
        f"kmslib exchange {group}": custodian_exchange(group) for group in ("ffdhe2048", "x25519", "x25519mlkem768")
    }
    cases["raw pyca exchange x25519mlkem768"] = raw_hybrid
    wire = {"ffdhe2048": (256, 256), "x25519": (32, 32), "x25519mlkem768": (1184 + 32, 1088 + 32)}
    return cases, wire


def signing_cases() -> tuple[dict[str, Callable[[], object]], dict[str, int]]:
    """Sign and verify a short message with each signing algorithm; the signature sizes."""
    kms = KeyCustodian()
    cases: dict[str, Callable[[], object]] = {}
    sizes: dict[str, int] = {}
    for name in ("ed25519", "ecdsa-p256-sha256", "rsa-pss-sha256", "ml-dsa-65"):
        kms.generate_signing_key(name, algorithm=name)
        signature = kms.sign(name, b"benchmark message")
        sizes[name] = len(tokens.parse_token(signature)[2])
        cases[f"kmslib sign {name}"] = lambda n=name: kms.sign(n, b"benchmark message")
        cases[f"kmslib verify {name}"] = lambda n=name, s=signature: kms.verify(n, b"benchmark message", s)
    return cases, sizes


def store_cases(
    folder: Path,
) -> tuple[dict[str, Callable[[], object]], dict[str, Callable[[], object]], Callable[[], None]]:
    """The sealed store: opening (the KDF is slow on purpose), one durable key change, and the hot path.

    Returns ``(slow cases, 1 KiB round trips stored and in memory, cleanup)``.
    """
    from kmslib.unsealing import ARGON2ID, SCRYPT, derive_unseal_key, passphrase_parameters  # noqa: PLC0415

    by_passphrase, by_shares = folder / "passphrase.db", folder / "shares.db"
    kmslib.init_store(by_passphrase, passphrase="benchmark passphrase")
    shares = kmslib.init_store(by_shares, shares=5, threshold=3)
    for path, secret in ((by_passphrase, {"passphrase": "benchmark passphrase"}), (by_shares, {"shares": shares[:3]})):
        with KeyCustodian.open(path, **secret) as kms:  # type: ignore[arg-type]
            kms.establish_aes_key("a")
            kms.generate_rsa_pair("r")
            kms.generate_signing_key("s")
    parameters = passphrase_parameters()
    kdf = "Argon2id (RFC 9106, 64 MiB)" if parameters["kdf"] == ARGON2ID["kdf"] else f"scrypt {SCRYPT}"
    working = folder / "working.db"
    kmslib.init_store(working, passphrase="benchmark passphrase")
    stored = KeyCustodian.open(working, passphrase="benchmark passphrase")
    memory = KeyCustodian()
    counter = iter(range(10**9))

    def stored_change() -> object:
        return stored.establish_aes_key(f"bench-{next(counter)}")

    def memory_change() -> object:
        return memory.establish_aes_key(f"bench-{next(counter)}")

    slow = {
        f"store: {kdf} alone": lambda: derive_unseal_key(b"benchmark passphrase", parameters),
        "store: open + close (passphrase)": lambda: _reopen(by_passphrase, passphrase="benchmark passphrase"),
        "store: open + close (3 of 5 shares)": lambda: _reopen(by_shares, shares=shares[:3]),
        "store: durable key change": stored_change,
        "in memory: the same key change": memory_change,
    }
    data = os.urandom(1024)
    stored.establish_aes_key("hot")
    memory.establish_aes_key("hot")

    def through(kms: KeyCustodian) -> Callable[[], object]:
        return lambda: kms.decrypt_data_aes("hot", kms.encrypt_data_aes("hot", data), encoding=None)

    hot = {"kmslib GCM 1 KiB, stored custodian": through(stored), "kmslib GCM 1 KiB, in memory": through(memory)}
    return slow, hot, stored.close


def _reopen(path: Path, **secret: Any) -> None:
    KeyCustodian.open(path, **secret).close()


#: The hardware cases' 1 KiB round trips: the same kmslib call, the key in a SoftHSM2 token or in memory.
HARDWARE_CASES = ("kmslib GCM 1 KiB, key in the token", "kmslib GCM 1 KiB, key in software")


def hardware_cases(
    folder: Path,
) -> tuple[dict[str, Callable[[], object]], dict[str, Callable[[], object]], Callable[[], None]] | str:
    """Keys in a SoftHSM2 token (contract section 12) beside the same operations in software.

    Returns ``(slow cases: auto-unseal against passphrase unseal, 1 KiB round trips, cleanup)``, or why
    SoftHSM2 cannot run here.
    """
    from kmslib.softhsm import SoftHSM, unavailable  # noqa: PLC0415 - only with SoftHSM2 installed

    problem = unavailable()
    if problem is not None:
        return problem
    softhsm = SoftHSM(folder / "softhsm")
    label, pin = softhsm.new_token()
    token = kmslib.HardwareToken(softhsm.module, token_label=label, pin=pin)
    by_token, by_passphrase = folder / "auto-unseal.db", folder / "passphrase.db"
    kmslib.init_store(by_token, hsm=token)
    kmslib.init_store(by_passphrase, passphrase="benchmark passphrase")
    for path, secret in ((by_token, {"hsm": token}), (by_passphrase, {"passphrase": "benchmark passphrase"})):
        with KeyCustodian.open(path, **secret) as kms:  # type: ignore[arg-type]
            kms.establish_aes_key("a")
    hardware, software = KeyCustodian(hsm=token), KeyCustodian()
    hardware.establish_aes_key("k", protection="hsm")
    software.establish_aes_key("k")
    data = os.urandom(1024)

    def through(kms: KeyCustodian) -> Callable[[], object]:
        return lambda: kms.decrypt_data_aes("k", kms.encrypt_data_aes("k", data), encoding=None)

    slow = {
        "store: open + close (auto-unseal, token)": lambda: _reopen(by_token, hsm=token),
        "store: open + close (passphrase)": lambda: _reopen(by_passphrase, passphrase="benchmark passphrase"),
    }
    hot = {HARDWARE_CASES[0]: through(hardware), HARDWARE_CASES[1]: through(software)}

    def cleanup() -> None:
        hardware.close()
        token.close()

    return slow, hot, cleanup


def dh_parameter_generation(cap: float) -> dict[str, Any]:
    """One attempt at generating 2048-bit DH parameters, in a subprocess killed after ``cap`` seconds."""
    code = (
        "import warnings; warnings.simplefilter('ignore')\n"
        "from cryptography.hazmat.primitives.asymmetric import dh\n"
        "dh.generate_parameters(generator=2, key_size=2048)\n"
    )
    start = time.perf_counter()
    try:
        subprocess.run([sys.executable, "-c", code], timeout=cap, check=True, capture_output=True)
    except subprocess.TimeoutExpired:
        return {"seconds": None, "capped_at": cap}
    return {"seconds": time.perf_counter() - start, "capped_at": cap}


def import_time(module: str, runs: int = 7) -> Stats:
    """Seconds to import ``module`` in a fresh interpreter (median of several)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    samples = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    ]
    return Stats(statistics.median(samples), min(samples), max(samples), runs)


def notebook_times() -> dict[str, float]:
    """Each notebook's run time in a fresh kernel (on a copy, so nothing is written)."""
    from kmslib.course.execute import run_notebook  # noqa: PLC0415 - Jupyter machinery, loaded only here

    times = {}
    with tempfile.TemporaryDirectory() as folder:
        for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
            copy = Path(folder) / path.name
            shutil.copy(path, copy)
            times[path.name] = run_notebook(copy)[1]
    return times


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cryptography": cryptography.__version__,
        "openssl": backend.openssl_version_text(),
        "kmslib": kmslib.__version__,
        "date": time.strftime("%Y-%m-%d"),
    }


# ---------------------------------------------------------------- report


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark, print the table and the targets, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--no-notebooks", action="store_true", help="skip timing the notebooks")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "latest.json")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 7
    results: dict[str, Any] = {"machine": machine(), "round_trips": {}, "other": {}}

    print(f"machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, Python "
          f"{results['machine']['python']}, cryptography {results['machine']['cryptography']} "
          f"({results['machine']['openssl']})")  # fmt: skip
    # Import times first, in a quiet machine: they measure a cold start, not a machine warm from the loops below.
    imports = {f"import {module}": import_time(module, runs=11) for module in ("kmslib", "kmslib.widgets")}

    print("\nAES round trip (encrypt + decrypt): median time, its spread, and the median ratio to the raw")
    print("pyca primitive of the same mode, timed in the same rounds (cases take turns, so drift meets all alike)")
    print(f"{'implementation':<28}" + "".join(f"{size:>26}" for size in SIZES))
    table: dict[str, dict[str, Stats]] = {}
    ratios: dict[str, dict[str, Stats]] = {}
    for label, size in SIZES.items():
        samples = measure_interleaved(
            round_trips(os.urandom(size)), repeats=3 * repeats, min_time=0.01 if args.quick else 0.03
        )
        for name, times in samples.items():
            floor = samples["raw pyca AES-CBC+PKCS7" if "cbc" in name.lower() else "raw pyca AESGCM"]
            by_round = [t / f for t, f in zip(times, floor, strict=True)]
            table.setdefault(name, {})[label] = Stats(statistics.median(times), min(times), max(times), len(times))
            ratios.setdefault(name, {})[label] = Stats(
                statistics.median(by_round), min(by_round), max(by_round), len(by_round)
            )
    for name, by_size in table.items():
        cells = []
        for label, stats in by_size.items():
            ratio = ratios[name][label]
            cells.append(f"{fmt_time(stats.median):>9} ±{stats.spread:4.0%} {ratio.median:6.2f}x")
            results["round_trips"].setdefault(name, {})[label] = {
                **asdict(stats),
                "ratio_to_raw": ratio.median,
                "ratio_low": ratio.low,
                "ratio_high": ratio.high,
            }
        print(f"{name:<28}" + "".join(f"{cell:>26}" for cell in cells))

    print("\nenvelope round trip (encrypt_envelope + decrypt_envelope), beside what also takes bytes of any size")
    print(f"{'implementation':<28}" + "".join(f"{label:>26}" for label in ENVELOPE_SIZES))
    envelope: dict[str, dict[str, Any]] = {}
    for label, size in ENVELOPE_SIZES.items():
        big = size > 1 << 24
        cases = {k: v for k, v in round_trips(os.urandom(size)).items() if k in ENVELOPE_CASES}
        samples = measure_interleaved(cases, repeats=5 if big else 3 * repeats, min_time=0.0 if big else 0.03)
        for name, times in samples.items():
            by_round = [t / f for t, f in zip(times, samples["raw pyca AESGCM"], strict=True)]
            envelope.setdefault(name, {})[label] = {
                "median": statistics.median(times),
                "low": min(times),
                "high": max(times),
                "ratio_to_raw": statistics.median(by_round),
            }
    for name, by_size in envelope.items():
        cells = [
            f"{fmt_time(v['median']):>9} ±{(v['high'] - v['low']) / 2 / v['median']:4.0%} {v['ratio_to_raw']:6.2f}x"
            for v in by_size.values()
        ]
        print(f"{name:<28}" + "".join(f"{cell:>26}" for cell in cells))
    peak = envelope_peak_memory(ENVELOPE_SIZES["64 MiB"])
    print(f"peak memory of one envelope operation at 64 MiB: {peak:.2f}x the data's size")
    results["envelope"] = {"round_trips": envelope, "peak_memory_64MiB": peak}

    print("\nother operations")
    other: dict[str, Stats] = {}
    exchanges, wire = exchange_cases()
    signatures, signature_sizes = signing_cases()
    for name, fn in {**rsa_cases(), **keygen_cases(), **exchanges, **signatures}.items():
        slow = "RSA-2048 key" in name or "generate_rsa_pair" in name
        other[name] = measure(
            fn, repeats=5 if slow else repeats, min_time=0.2 if slow else 0.05, max_number=5 if slow else 100_000
        )
    other.update(imports)
    for name, stats in other.items():
        results["other"][name] = asdict(stats)
        print(f"{name:<40}{fmt_time(stats.median):>10} ±{stats.spread:4.0%}")
    for group, (there, back) in wire.items():
        print(f"  {group}: {there} bytes initiator -> responder, {back} bytes back")
    for name, size in signature_sizes.items():
        print(f"  {name}: {size}-byte signatures")
    hybrid_overhead = other["kmslib exchange x25519mlkem768"].median / other["raw pyca exchange x25519mlkem768"].median
    print(f"  kmslib's hybrid exchange: {hybrid_overhead:.2f}x the raw pyca exchange")
    results["wire_bytes"] = wire
    results["signature_bytes"] = signature_sizes
    for raw, ours in (("raw pyca RSA-2048 OAEP encrypt", "kmslib RSA-2048 OAEP encrypt"),
                      ("raw pyca RSA-2048 OAEP decrypt", "kmslib RSA-2048 OAEP decrypt")):  # fmt: skip
        print(f"  {ours}: {other[ours].median / other[raw].median:.2f}x raw")

    print("\nprincipals (issue 25): 1 KiB AES-GCM round trip, the owner and a principal under a 10-statement policy")
    owner_case, principal_case = PRINCIPAL_CASES
    principal_samples = measure_interleaved(
        principal_cases(os.urandom(1024))[0], repeats=3 * repeats, min_time=0.01 if args.quick else 0.03
    )
    results["principals"] = {}
    for name, times in principal_samples.items():
        results["principals"][name] = {"median": statistics.median(times), "low": min(times), "high": max(times)}
        print(f"{name:<56}{fmt_time(statistics.median(times)):>10}")
    principal_ratio = statistics.median(
        p / o for p, o in zip(principal_samples[principal_case], principal_samples[owner_case], strict=True)
    )
    plain_ratio = statistics.median(
        o / p
        for o, p in zip(
            principal_samples[owner_case], principal_samples["owner 1 KiB round trip, no principals"], strict=True
        )
    )
    results["principals"]["ratio_principal_to_owner"] = principal_ratio
    results["principals"]["ratio_owner_to_no_principals"] = plain_ratio
    print(f"  the principal's round trip: {principal_ratio:.2f}x the owner's")
    print(f"  the owner's, once credentials exist: {plain_ratio:.2f}x a custodian's without principals")

    print("\nthe sealed store (a passphrase store and a 3-of-5 shares store, three keys each)")
    with tempfile.TemporaryDirectory() as folder:
        slow_store, hot_store, close_store = store_cases(Path(folder))
        store_stats: dict[str, Stats] = {}
        for name, fn in slow_store.items():
            store_stats[name] = measure(fn, repeats=5, min_time=0.2 if "change" in name else 0.0, max_number=200)
            print(f"{name:<48}{fmt_time(store_stats[name].median):>10} ±{store_stats[name].spread:4.0%}")
        hot_samples = measure_interleaved(hot_store, repeats=3 * repeats, min_time=0.03)
        close_store()
    stored_rt, memory_rt = hot_samples["kmslib GCM 1 KiB, stored custodian"], hot_samples["kmslib GCM 1 KiB, in memory"]
    store_ratio = statistics.median(s / m for s, m in zip(stored_rt, memory_rt, strict=True))
    print(f"{'kmslib GCM 1 KiB round trip, stored custodian':<48}{fmt_time(statistics.median(stored_rt)):>10}")
    print(f"{'kmslib GCM 1 KiB round trip, in memory':<48}{fmt_time(statistics.median(memory_rt)):>10}")
    print(f"  the stored custodian's round trip: {store_ratio:.2f}x the in-memory one (its audit log is saved)")
    results["store"] = {name: asdict(stats) for name, stats in store_stats.items()}
    results["store"]["round_trip_ratio_stored_to_memory"] = store_ratio

    print("\nkeys in hardware (issue 26): a SoftHSM2 token through PKCS#11, beside the same calls in software")
    with tempfile.TemporaryDirectory() as folder:
        hardware = hardware_cases(Path(folder))
        if isinstance(hardware, str):
            print(f"  skipped: {hardware}")
            results["hardware"] = {"skipped": hardware}
        else:
            slow_hw, hot_hw, close_hw = hardware
            results["hardware"] = {}
            for name, fn in slow_hw.items():
                stats = measure(fn, repeats=5, max_number=50)
                results["hardware"][name] = asdict(stats)
                print(f"{name:<48}{fmt_time(stats.median):>10} ±{stats.spread:4.0%}")
            hw_samples = measure_interleaved(hot_hw, repeats=3 * repeats, min_time=0.03)
            close_hw()
            in_token, in_software = (hw_samples[name] for name in HARDWARE_CASES)
            hw_ratio = statistics.median(t / m for t, m in zip(in_token, in_software, strict=True))
            for name in HARDWARE_CASES:
                print(f"{name:<48}{fmt_time(statistics.median(hw_samples[name])):>10}")
                results["hardware"][name] = statistics.median(hw_samples[name])
            print(f"  the token's round trip: {hw_ratio:.2f}x software's (two PKCS#11 calls into the token)")
            results["hardware"]["round_trip_ratio_token_to_software"] = hw_ratio

    print("\ncertificates (issue 27): kmslib's CA (the custodian signs) beside pyca signing with a key it holds")
    results["certificates"] = {}
    certificate = certificate_cases(1_000 if args.quick else 10_000)
    for name, fn in certificate.items():
        slow = "CRL" in name or "crl()" in name
        stats = measure(
            fn, repeats=3 if slow else repeats, min_time=0.0 if slow else 0.05, max_number=1 if slow else 1000
        )
        results["certificates"][name] = asdict(stats)
        print(f"{name:<48}{fmt_time(stats.median):>10} ±{stats.spread:4.0%}")
    names = list(certificate)
    for raw, ours in zip(names[::2], names[1::2], strict=True):
        ratio = results["certificates"][ours]["median"] / results["certificates"][raw]["median"]
        results["certificates"][f"{ours} / {raw}"] = ratio
        print(f"  {ours}: {ratio:.2f}x {raw}")

    cap = 30.0 if not args.quick else 5.0
    parameters = dh_parameter_generation(cap)
    results["dh_parameter_generation_2048"] = parameters
    done = parameters["seconds"]
    print(
        f"generating 2048-bit DH parameters: {fmt_time(done)}"
        if done is not None
        else f"generating 2048-bit DH parameters: not done after {cap:.0f} s (capped): why kmslib uses RFC 7919 groups"
    )

    if not args.no_notebooks:
        print("\nnotebooks, each in a fresh kernel")
        results["notebooks"] = notebook_times()
        for name, seconds in results["notebooks"].items():
            print(f"{name:<40}{seconds:>8.1f} s")
        print(f"{'the whole course':<40}{sum(results['notebooks'].values()):>8.1f} s")

    rt = results["round_trips"]
    gcm_1k = rt["kmslib aes-256-gcm"]["1 KiB"]["median"]
    floor_1k = rt["AESGCM + text token (floor)"]["1 KiB"]["median"]
    fernet_speedup = rt["pyca Fernet"]["1 KiB"]["median"] / gcm_1k
    envelope_1m = envelope["kmslib envelope"]["1 MiB"]["ratio_to_raw"]
    # The targets as issue 22 decided them. Fernet and Tink are printed beside kmslib, not judged: on this AMD
    # machine the text token's own floor, not kmslib, bounds the first, and Tink's AEAD is within 2.1x of raw
    # AES-GCM, so the second measured the machine more than kmslib.
    targets: list[tuple[str, bool | None]] = [
        (f"kmslib GCM at 1 KiB at most 1.8x the text token floor ({gcm_1k / floor_1k:.2f}x)", gcm_1k / floor_1k <= 1.8),
        (f"the 1 MiB envelope round trip at most 1.15x raw AESGCM ({envelope_1m:.2f}x)", envelope_1m <= 1.15),
        (f"peak memory of an envelope operation at 64 MiB at most 2.2x the data ({peak:.2f}x)", peak <= 2.2),
        ("a DH key pair (ffdhe2048) under 1 ms", other["kmslib DH key pair (ffdhe2048)"].median < 1e-3),
        ("import kmslib under 100 ms", other["import kmslib"].median < 0.1),
        (f"kmslib's hybrid exchange at most 1.3x raw pyca ({hybrid_overhead:.2f}x)", hybrid_overhead <= 1.3),
        (
            f"1 KiB GCM through a stored custodian at most 1.3x the in-memory one, the audit log saved with its "
            f"4,096-record crash bound ({store_ratio:.2f}x)",
            store_ratio <= 1.3,
        ),
        (
            f"a principal's 1 KiB GCM round trip under a 10-statement policy at most 1.3x the owner's "
            f"({principal_ratio:.2f}x)",
            principal_ratio <= 1.3,
        ),
    ]
    goals = [
        (f"kmslib GCM at 1 KiB at most 1.5x the text token floor ({gcm_1k / floor_1k:.2f}x)", gcm_1k / floor_1k <= 1.5)
    ]
    beside = [f"kmslib GCM at 1 KiB against pyca Fernet: {fernet_speedup:.1f}x faster"]
    if "Tink AEAD AES256_GCM" in envelope:
        faster = envelope["Tink AEAD AES256_GCM"]["1 MiB"]["median"] / envelope["kmslib envelope"]["1 MiB"]["median"]
        beside.append(f"the 1 MiB envelope against Tink AEAD AES256_GCM: {faster:.2f}x faster")
    else:
        beside.append("the 1 MiB envelope against Tink AEAD AES256_GCM: Tink not installed")
    results["targets"], results["goals"], results["beside"] = {}, {}, beside
    for heading, rows, into in (("targets", targets, results["targets"]), ("goals", goals, results["goals"])):
        print(f"\n{heading}")
        for text, met in rows:
            verdict = "n/a" if met is None else ("met" if met else "NOT met")
            into[text] = verdict
            print(f"  [{verdict:^7}] {text}")
    print("\nprinted beside, not judged")
    for text in beside:
        print(f"  {text}")

    floor = rt["AESGCM + text token (floor)"]
    print("\nwhat the token format alone costs (the floor: AES-GCM plus writing and reading the base64 text token)")
    results["text_token_floor"] = {}
    for label in SIZES:
        over = rt["kmslib aes-256-gcm"][label]["median"] / floor[label]["median"]
        results["text_token_floor"][label] = {"floor_to_raw": floor[label]["ratio_to_raw"], "kmslib_to_floor": over}
        print(f"  {label:>6}: the floor is {floor[label]['ratio_to_raw']:.2f}x raw; kmslib is {over:.2f}x the floor")

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nresults written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
