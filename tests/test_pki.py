"""The certificate authority beside the custodian (contract section 14): certificates, revocation, CRLs, OCSP."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.x509 import ocsp
from cryptography.x509 import verification as v
from cryptography.x509.oid import ExtendedKeyUsageOID

import kmslib
from helpers import StepClock
from kmslib import (
    ArgumentTypeError,
    HardwareToken,
    InvalidInputError,
    KeyCustodian,
    KeyNotFoundError,
    KeyStateError,
    KeyTypeError,
    StoreError,
)
from kmslib.pki import CertificateAuthority

PASSPHRASE = "correct horse battery staple"


def cert(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


class World:
    """A root, an intermediate and a leaf certificate, each key the custodian's."""

    def __init__(self, kms: KeyCustodian, algorithm: str = "ecdsa-p256-sha256") -> None:
        self.kms = kms
        kms.generate_signing_key("root", algorithm=algorithm)
        kms.generate_signing_key("issuing", algorithm=algorithm)
        kms.generate_signing_key("signer", algorithm="ecdsa-p256-sha256")
        self.root = CertificateAuthority.create_root(kms, "root", subject="CN=Example Root CA,O=Example", days=3650)
        self.ca = self.root.create_intermediate("issuing", subject="CN=Example Issuing CA,O=Example", days=1000)
        self.leaf_pem = self.ca.issue("signer", subject="CN=Invoices,O=Example", days=90)
        self.leaf = cert(self.leaf_pem)

    def verifier(self, at: datetime | None = None) -> v.ClientVerifier:
        return (
            v.PolicyBuilder()
            .store(v.Store([cert(self.root.certificate)]))
            .time(at or self.kms._now())
            .extension_policies(
                ca_policy=v.ExtensionPolicy.webpki_defaults_ca(), ee_policy=v.ExtensionPolicy.permit_all()
            )
            .build_client_verifier()
        )

    def ocsp_request(self, leaf: x509.Certificate | None = None, *, nonce: bytes | None = None) -> bytes:
        builder = ocsp.OCSPRequestBuilder().add_certificate(leaf or self.leaf, cert(self.ca.certificate), hashes.SHA1())
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        return builder.build().public_bytes(serialization.Encoding.DER)

    def ocsp_request_hashes(self) -> tuple[bytes, bytes]:
        request = ocsp.load_der_ocsp_request(self.ocsp_request())
        return request.issuer_name_hash, request.issuer_key_hash


@pytest.fixture
def world(kms: KeyCustodian) -> World:
    return World(kms)


# ---------------------------------------------------------------------------- issuing


@pytest.mark.parametrize("algorithm", ["ecdsa-p256-sha256", "rsa-pss-sha256"])
def test_a_two_level_chain_builds_with_pycas_verifier(kms: KeyCustodian, algorithm: str) -> None:
    world = World(kms, algorithm)
    chain = world.verifier().verify(world.leaf, [cert(world.ca.certificate)]).chain
    assert [c.subject.rfc4514_string() for c in chain] == [
        "CN=Invoices,O=Example",
        "CN=Example Issuing CA,O=Example",
        "CN=Example Root CA,O=Example",
    ]
    assert world.leaf.public_key() == serialization.load_pem_public_key(kms.export_public_key("signer").encode())


def test_certificates_carry_rfc5280s_extensions(world: World) -> None:
    root, ca, leaf = cert(world.root.certificate), cert(world.ca.certificate), world.leaf
    for c in (root, ca, leaf):
        assert c.version is x509.Version.v3
        assert c.extensions.get_extension_for_class(x509.BasicConstraints).critical
        assert c.extensions.get_extension_for_class(x509.KeyUsage).critical
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert not usage.key_cert_sign
    assert not usage.crl_sign
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    for child, parent in ((ca, root), (leaf, ca)):
        aki = child.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        assert aki == parent.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        child.verify_directly_issued_by(parent)
    root.verify_directly_issued_by(root)


def test_serials_are_random_and_long(world: World) -> None:
    serials = {world.leaf.serial_number}
    for _ in range(20):
        serials.add(cert(world.ca.issue("signer", subject="CN=Again", days=1)).serial_number)
    assert len(serials) == 21
    assert all(0 < s < 2**159 for s in serials)
    assert max(s.bit_length() for s in serials) > 150  # 159 random bits (at least 64: CA/B Forum BR 7.1)


def test_validity_runs_from_the_custodians_clock(world: World) -> None:
    assert world.leaf.not_valid_after_utc - world.leaf.not_valid_before_utc == timedelta(days=90)
    assert world.leaf.not_valid_before_utc <= world.kms._now()


def test_a_certificate_cannot_outlive_its_ca(world: World) -> None:
    with pytest.raises(InvalidInputError, match="outlive its CA"):
        world.ca.issue("signer", subject="CN=Too long", days=2000)


def test_key_usage_is_chosen_by_name(world: World) -> None:
    pem = world.ca.issue(
        "signer", subject="CN=Contracts", days=30, key_usage=("digital_signature", "content_commitment")
    )
    usage = cert(pem).extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert usage.content_commitment
    assert not usage.key_encipherment
    for wrong in ("key_cert_sign", "crl_sign", "sign", ()):
        with pytest.raises(InvalidInputError):
            world.ca.issue("signer", subject="CN=x", days=1, key_usage=wrong)
    with pytest.raises(ArgumentTypeError):
        world.ca.issue("signer", subject="CN=x", days=1, key_usage=7)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("subject", "days", "error"),
    [
        ("not a name", 30, InvalidInputError),
        ("", 30, InvalidInputError),
        (42, 30, ArgumentTypeError),
        ("CN=x", 0, InvalidInputError),
        ("CN=x", -5, InvalidInputError),
        ("CN=x", 10**6, InvalidInputError),
        ("CN=x", 1.5, ArgumentTypeError),
        ("CN=x", True, ArgumentTypeError),
    ],
)
def test_bad_subjects_and_days_are_refused(world: World, subject: object, days: object, error: type) -> None:
    with pytest.raises(error):
        world.ca.issue("signer", subject=subject, days=days)  # type: ignore[arg-type]


def test_an_x509_name_is_a_subject_too(world: World) -> None:
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Payroll")])
    assert cert(world.ca.issue("signer", subject=name, days=5)).subject == name


def test_only_ecdsa_and_rsa_pss_signing_keys_are_certified(kms: KeyCustodian) -> None:
    kms.generate_signing_key("ed", algorithm="ed25519")
    kms.establish_aes_key("aes")
    with pytest.raises(KeyTypeError, match="accepts ecdsa-p256-sha256 and rsa-pss-sha256"):
        CertificateAuthority.create_root(kms, "ed", subject="CN=x", days=1)
    with pytest.raises(KeyTypeError, match="aes"):
        CertificateAuthority.create_root(kms, "aes", subject="CN=x", days=1)
    with pytest.raises(KeyNotFoundError):
        CertificateAuthority.create_root(kms, "nothing", subject="CN=x", days=1)
    world = World(kms)
    with pytest.raises(KeyTypeError):
        world.ca.issue("ed", subject="CN=x", days=1)


def test_a_ca_runs_on_the_owners_custodian_only(world: World) -> None:
    world.kms.issue_credential("alice")
    credential = world.kms.issue_credential("bob")
    with pytest.raises(ArgumentTypeError, match="owner's KeyCustodian"):
        CertificateAuthority.load(world.kms.as_principal(credential), "root")
    with pytest.raises(InvalidInputError, match="create_root"):
        CertificateAuthority(world.kms, "root")


def test_a_key_is_one_cas_only_and_a_ca_key_is_not_an_end_entity(world: World) -> None:
    with pytest.raises(InvalidInputError, match="already"):
        CertificateAuthority.create_root(world.kms, "issuing", subject="CN=x", days=1)
    with pytest.raises(InvalidInputError, match="create_intermediate"):
        world.ca.issue("root", subject="CN=x", days=1)


# ---------------------------------------------------------------------------- one key, one purpose


def test_a_ca_key_signs_nothing_else(world: World) -> None:
    """Whoever may call sign with a CA key must not sign a certificate by hand (NIST SP 800-57 Pt 1 5.2)."""
    forged_tbs = world.leaf.tbs_certificate_bytes
    for key_id in ("root", "issuing"):
        with pytest.raises(KeyTypeError, match="certificates, CRLs and OCSP"):
            world.kms.sign(key_id, forged_tbs)
        with pytest.raises(KeyTypeError):
            world.kms.sign_audit_checkpoint(key_id)
    world.kms.verify("signer", "hello", world.kms.sign("signer", "hello"))  # the end entity's key still signs


def test_a_ca_key_signs_no_key_exchange_either(world: World) -> None:
    from kmslib import dh
    from kmslib.kex import Transcript, sign_transcript

    ours, theirs = dh.generate_key_pair("x25519")[1], dh.generate_key_pair("x25519")[1]
    transcript = Transcript.of(ours, theirs, initiator="a", responder="b")
    with pytest.raises(KeyTypeError, match="certificates, CRLs and OCSP"):
        sign_transcript(world.kms, "issuing", transcript, role="responder")
    sign_transcript(world.kms, "signer", transcript, role="responder")  # an end entity's key still does


def test_a_rotated_ca_key_no_longer_signs_for_its_certificate(world: World) -> None:
    world.kms.rotate_key("issuing")
    with pytest.raises(KeyStateError, match="rotated"):
        world.ca.issue("signer", subject="CN=x", days=1)
    with pytest.raises(KeyStateError, match="rotated"):
        world.ca.crl()


# ---------------------------------------------------------------------------- revocation and CRLs


def crl_of(world: World, pem: str) -> x509.CertificateRevocationList:
    crl = x509.load_pem_x509_crl(pem.encode("ascii"))
    assert crl.is_signature_valid(cert(world.ca.certificate).public_key())  # type: ignore[arg-type]
    return crl


def test_a_fresh_crl_lists_nothing_and_numbers_itself(world: World) -> None:
    first, second = crl_of(world, world.ca.crl()), crl_of(world, world.ca.crl(next_update=timedelta(hours=6)))
    assert len(first) == 0
    numbers = [c.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number for c in (first, second)]
    assert numbers == [1, 2]
    assert second.next_update_utc - second.last_update_utc == timedelta(hours=6)
    assert first.next_update_utc - first.last_update_utc == timedelta(days=7)
    assert first.issuer == cert(world.ca.certificate).subject


def test_revoke_lists_the_certificate_with_its_reason(world: World) -> None:
    status = world.ca.revoke(world.leaf.serial_number, reason="key_compromise")
    assert status.revoked
    assert status.reason == "key_compromise"
    assert not status.derived
    entry = crl_of(world, world.ca.crl()).get_revoked_certificate_by_serial_number(world.leaf.serial_number)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise
    assert entry.revocation_date_utc == status.revoked_at.replace(microsecond=0)  # type: ignore[union-attr]


@pytest.mark.parametrize("reason", [None, "unspecified"])
def test_revoke_without_a_reason_gives_no_reason_code(world: World, reason: str | None) -> None:
    world.ca.revoke(world.leaf.serial_number, reason=reason)
    assert world.ca.status(world.leaf.serial_number).reason is None
    entry = crl_of(world, world.ca.crl()).get_revoked_certificate_by_serial_number(world.leaf.serial_number)
    assert entry is not None
    assert len(entry.extensions) == 0


def test_revoke_refuses_what_it_cannot_do(world: World) -> None:
    with pytest.raises(InvalidInputError, match="not one of"):
        world.ca.revoke(world.leaf.serial_number, reason="bored")
    with pytest.raises(InvalidInputError, match="not one of"):
        world.ca.revoke(world.leaf.serial_number, reason="remove_from_crl")
    with pytest.raises(KeyNotFoundError):
        world.ca.revoke(12345)
    with pytest.raises(KeyNotFoundError):  # the root issued the intermediate, not the leaf
        world.root.revoke(world.leaf.serial_number)
    with pytest.raises(ArgumentTypeError):
        world.ca.revoke(str(world.leaf.serial_number))  # type: ignore[arg-type]
    world.ca.revoke(world.leaf.serial_number, reason="superseded")
    with pytest.raises(InvalidInputError, match="revoked already"):
        world.ca.revoke(world.leaf.serial_number, reason="key_compromise")
    assert world.ca.status(world.leaf.serial_number).reason == "superseded"


def test_a_revoked_key_revokes_its_certificates_without_a_second_call(world: World) -> None:
    world.kms.invalidate_key("signer", reason="retired")
    status = world.ca.status(world.leaf.serial_number)
    assert status.revoked
    assert status.derived
    assert status.reason == "cessation_of_operation"
    recorded = [e.time for e in world.kms.audit_log if e.operation == "invalidate_key" and e.key_id == "signer"]
    assert status.revoked_at == recorded[0]
    entry = crl_of(world, world.ca.crl()).get_revoked_certificate_by_serial_number(world.leaf.serial_number)
    assert entry is not None
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.cessation_of_operation
    )


def test_a_compromised_key_gives_key_compromise_and_a_compromised_ca_ca_compromise(world: World) -> None:
    world.kms.mark_compromised("signer", reason="laptop stolen")
    assert world.ca.status(world.leaf.serial_number).reason == "key_compromise"
    world.kms.mark_compromised("issuing", reason="HSM PIN leaked")
    intermediate = cert(world.ca.certificate).serial_number
    assert world.root.status(intermediate).reason == "ca_compromise"
    crl = x509.load_pem_x509_crl(world.root.crl().encode())
    assert crl.get_revoked_certificate_by_serial_number(intermediate) is not None


def test_a_revoked_version_revokes_that_versions_certificate_only(world: World) -> None:
    world.kms.rotate_key("signer")
    newer = cert(world.ca.issue("signer", subject="CN=Invoices 2", days=30))
    world.kms.invalidate_key("signer", version=1, reason="old")
    assert world.ca.status(world.leaf.serial_number).revoked
    assert not world.ca.status(newer.serial_number).revoked


def test_a_deactivated_key_keeps_its_certificate_good(world: World) -> None:
    world.kms.rotate_key("signer")
    world.kms.deactivate_key("signer", version=1)
    assert not world.ca.status(world.leaf.serial_number).revoked


def test_issued_lists_every_certificate_of_that_ca(world: World) -> None:
    other = cert(world.ca.issue("signer", subject="CN=Second", days=5))
    assert {s.serial for s in world.ca.issued()} == {world.leaf.serial_number, other.serial_number}
    assert [s.key_id for s in world.root.issued()] == ["issuing"]


def test_crl_arguments_are_checked(world: World) -> None:
    with pytest.raises(ArgumentTypeError):
        world.ca.crl(next_update=7)  # type: ignore[arg-type]
    for bad in (timedelta(0), timedelta(days=-1), timedelta(days=400)):
        with pytest.raises(InvalidInputError):
            world.ca.crl(next_update=bad)


def test_a_crl_of_many_entries(world: World) -> None:
    serials = [cert(world.ca.issue("signer", subject=f"CN=n{i}", days=2)).serial_number for i in range(30)]
    for serial in serials[::2]:
        world.ca.revoke(serial, reason="superseded")
    crl = crl_of(world, world.ca.crl())
    assert {r.serial_number for r in crl} == set(serials[::2])


# ---------------------------------------------------------------------------- OCSP


def ocsp_of(world: World, der: bytes) -> ocsp.OCSPResponse:
    response = ocsp.load_der_ocsp_response(der)
    assert response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    public = cert(world.ca.certificate).public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))
    return response


def test_ocsp_says_good_then_revoked(world: World) -> None:
    good = ocsp_of(world, world.ca.ocsp_response(world.ocsp_request()))
    assert good.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert good.serial_number == world.leaf.serial_number
    assert good.responder_name == cert(world.ca.certificate).subject
    assert good.next_update_utc is not None
    assert good.next_update_utc - good.this_update_utc == timedelta(days=1)
    world.ca.revoke(world.leaf.serial_number, reason="affiliation_changed")
    revoked = ocsp_of(world, world.ca.ocsp_response(world.ocsp_request()))
    assert revoked.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert revoked.revocation_reason is x509.ReasonFlags.affiliation_changed


def test_ocsp_reports_a_key_revoked_in_the_custodian(world: World) -> None:
    world.kms.mark_compromised("signer", reason="stolen")
    response = ocsp_of(world, world.ca.ocsp_response(world.ocsp_request()))
    assert response.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_reason is x509.ReasonFlags.key_compromise


def test_ocsp_echoes_the_nonce(world: World) -> None:
    response = ocsp_of(world, world.ca.ocsp_response(world.ocsp_request(nonce=b"0123456789abcdef")))
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"0123456789abcdef"


def test_ocsp_says_unknown_for_a_serial_it_did_not_issue(world: World) -> None:
    stranger = cert(world.ca.issue("signer", subject="CN=x", days=1))
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate_by_hash(
            world.ocsp_request_hashes()[0], world.ocsp_request_hashes()[1], stranger.serial_number + 1, hashes.SHA1()
        )
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    response = ocsp_of(world, world.ca.ocsp_response(request))
    assert response.certificate_status is ocsp.OCSPCertStatus.UNKNOWN


def test_ocsp_refuses_to_answer_for_another_ca(world: World) -> None:
    """The root is asked about the leaf, which the intermediate issued: unauthorized (RFC 6960 2.3)."""
    response = ocsp.load_der_ocsp_response(world.root.ocsp_response(world.ocsp_request()))
    assert response.response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_ocsp_refuses_a_malformed_request(world: World) -> None:
    for bad in (b"", b"\x30\x03\x02\x01\x01", world.leaf.public_bytes(serialization.Encoding.DER)):
        with pytest.raises(InvalidInputError, match="OCSP request"):
            world.ca.ocsp_response(bad)
    with pytest.raises(ArgumentTypeError):
        world.ca.ocsp_response("request")  # type: ignore[arg-type]


def test_an_rsa_pss_ca_signs_ocsp_with_pss(kms: KeyCustodian) -> None:
    world = World(kms, "rsa-pss-sha256")
    response = ocsp.load_der_ocsp_response(world.ca.ocsp_response(world.ocsp_request()))
    assert response.signature_algorithm_oid == x509.SignatureAlgorithmOID.RSASSA_PSS
    public = cert(world.ca.certificate).public_key()
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    public.verify(response.signature, response.tbs_response_bytes, pss, hashes.SHA256())  # type: ignore[call-arg, arg-type]


# ---------------------------------------------------------------------------- audit, persistence, hardware


def test_each_signing_and_revocation_is_audited(world: World) -> None:
    world.ca.revoke(world.leaf.serial_number, reason="superseded")
    world.ca.crl()
    world.ca.ocsp_response(world.ocsp_request())
    with pytest.raises(KeyNotFoundError):
        world.ca.revoke(1)
    records = [(e.operation, e.key_id, e.outcome) for e in world.kms.audit_log]
    for expected in [
        ("create_root_ca", "root", "ok"),
        ("create_intermediate_ca", "root", "ok"),
        ("issue_certificate", "issuing", "ok"),
        ("revoke_certificate", "issuing", "ok"),
        ("sign_crl", "issuing", "ok"),
        ("sign_ocsp_response", "issuing", "ok"),
        ("revoke_certificate", "issuing", "KeyNotFoundError"),
    ]:
        assert expected in records


def test_cas_certificates_and_revocations_persist_in_the_store(tmp_path: Path) -> None:
    path = tmp_path / "pki.db"
    kmslib.init_store(path, passphrase=PASSPHRASE)
    with KeyCustodian.open(path, passphrase=PASSPHRASE) as kms:
        world = World(kms)
        world.ca.revoke(world.leaf.serial_number, reason="superseded")
        crl_number = 3
        for _ in range(crl_number):
            world.ca.crl()
        root_pem, ca_pem = world.root.certificate, world.ca.certificate
    with KeyCustodian.open(path, passphrase=PASSPHRASE) as kms:
        ca = CertificateAuthority.load(kms, "issuing")
        assert ca.certificate == ca_pem
        assert CertificateAuthority.load(kms, "root").certificate == root_pem
        assert ca.status(world.leaf.serial_number).reason == "superseded"
        crl = x509.load_pem_x509_crl(ca.crl().encode())
        assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == crl_number + 1
        with pytest.raises(KeyTypeError):
            kms.sign("issuing", "a CA key stays a CA key after reopening")
        with pytest.raises(KeyNotFoundError):
            CertificateAuthority.load(kms, "signer")


def test_a_tampered_revocation_in_the_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pki.db"
    kmslib.init_store(path, passphrase=PASSPHRASE)
    with KeyCustodian.open(path, passphrase=PASSPHRASE) as kms:
        world = World(kms)
        world.ca.revoke(world.leaf.serial_number, reason="key_compromise")
    db = sqlite3.connect(path)
    (name, value) = db.execute("SELECT name, value FROM access WHERE value LIKE '%key_compromise%'").fetchone()
    db.execute(
        "UPDATE access SET value = ? WHERE name = ?", [value.replace('"revoked": {', '"revoked": null, "x": {'), name]
    )
    db.commit()
    db.close()
    with pytest.raises(StoreError):
        KeyCustodian.open(path, passphrase=PASSPHRASE)


def test_a_ca_key_in_a_hardware_token(token: HardwareToken) -> None:
    kms = KeyCustodian(clock=StepClock(), hsm=token)
    kms.generate_signing_key("root", algorithm="ecdsa-p256-sha256", protection="hsm")
    kms.generate_signing_key("signer", algorithm="ecdsa-p256-sha256")
    root = CertificateAuthority.create_root(kms, "root", subject="CN=Token Root", days=30)
    leaf = cert(root.issue("signer", subject="CN=Signer", days=10))
    leaf.verify_directly_issued_by(cert(root.certificate))
    root.revoke(leaf.serial_number, reason="superseded")
    crl = x509.load_pem_x509_crl(root.crl().encode())
    assert crl.is_signature_valid(cert(root.certificate).public_key())  # type: ignore[arg-type]
    assert kms.key_info("root").protection == "hsm"


# ---------------------------------------------------------------------------- openssl reads what kmslib makes

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")


def openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *map(str, args)], capture_output=True, text=True, check=False, timeout=60)


def write_world(world: World, folder: Path) -> dict[str, Path]:
    files = {
        "root": world.root.certificate,
        "ca": world.ca.certificate,
        "leaf": world.leaf_pem,
        "crls": world.root.crl() + world.ca.crl(),
    }
    paths = {}
    for name, text in files.items():
        paths[name] = folder / f"{name}.pem"
        paths[name].write_text(text)
    return paths


@needs_openssl
@pytest.mark.parametrize("algorithm", ["ecdsa-p256-sha256", "rsa-pss-sha256"])
def test_openssl_verify_accepts_a_good_chain_and_refuses_a_revoked_leaf(tmp_path: Path, algorithm: str) -> None:
    world = World(KeyCustodian(), algorithm)  # the system clock: openssl checks validity against now
    files = write_world(world, tmp_path)
    args = ["verify", "-crl_check_all", "-CAfile", files["root"], "-untrusted", files["ca"], "-CRLfile", files["crls"]]
    good = openssl(*args, files["leaf"])
    assert good.returncode == 0, good.stdout + good.stderr
    world.ca.revoke(world.leaf.serial_number, reason="key_compromise")
    files = write_world(world, tmp_path)
    revoked = openssl(*args, files["leaf"])
    assert revoked.returncode != 0
    assert "certificate revoked" in revoked.stdout + revoked.stderr


@needs_openssl
def test_openssl_refuses_a_leaf_whose_key_the_custodian_revoked(tmp_path: Path) -> None:
    world = World(KeyCustodian())
    world.kms.mark_compromised("signer", reason="stolen")
    files = write_world(world, tmp_path)
    result = openssl(
        "verify",
        "-crl_check",
        "-CAfile",
        files["root"],
        "-untrusted",
        files["ca"],
        "-CRLfile",
        files["crls"],
        files["leaf"],
    )
    assert result.returncode != 0
    assert "certificate revoked" in result.stdout + result.stderr


@needs_openssl
@pytest.mark.parametrize("revoke", [False, True])
def test_openssl_ocsp_reads_kmslibs_responses(tmp_path: Path, revoke: bool) -> None:
    world = World(KeyCustodian())
    if revoke:
        world.ca.revoke(world.leaf.serial_number, reason="key_compromise")
    files = write_world(world, tmp_path)
    response = tmp_path / "response.der"
    response.write_bytes(world.ca.ocsp_response(world.ocsp_request()))
    result = openssl(
        "ocsp",
        "-respin", response,
        "-issuer", files["ca"],
        "-cert", files["leaf"],
        "-VAfile", files["ca"],
        "-CAfile", files["root"],
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert "Response verify OK" in output, output
    assert f"{files['leaf']}: {'revoked' if revoke else 'good'}" in output
    if revoke:
        assert "Reason: keyCompromise" in output


@needs_openssl
def test_openssl_ocsp_refuses_a_response_checked_against_another_key(tmp_path: Path) -> None:
    world = World(KeyCustodian())
    files = write_world(world, tmp_path)
    response = tmp_path / "response.der"
    response.write_bytes(world.ca.ocsp_response(world.ocsp_request()))
    result = openssl("ocsp", "-respin", response, "-VAfile", files["root"], "-CAfile", files["root"])
    assert "Response verify OK" not in result.stdout + result.stderr


def test_the_custodian_clock_dates_what_a_ca_signs(world: World) -> None:
    before = world.kms._now()
    crl = crl_of(world, world.ca.crl())
    assert before <= crl.last_update_utc + timedelta(seconds=1)
    assert crl.last_update_utc <= datetime(2026, 1, 2, tzinfo=UTC)  # the StepClock's day, not the system's


# ---------------------------------------------------------------------------- a delegated OCSP responder


def delegated(world: World) -> x509.Certificate:
    world.kms.generate_signing_key("responder", algorithm="ecdsa-p256-sha256")
    return cert(world.ca.delegate_ocsp("responder", subject="CN=Example OCSP,O=Example", days=7))


def test_a_delegated_responder_signs_ocsp_responses(world: World) -> None:
    responder = delegated(world)
    assert ExtendedKeyUsageOID.OCSP_SIGNING in responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    responder.extensions.get_extension_for_class(x509.OCSPNoCheck)
    responder.verify_directly_issued_by(cert(world.ca.certificate))
    response = ocsp.load_der_ocsp_response(world.ca.ocsp_response(world.ocsp_request()))
    assert response.certificates == [responder]
    assert response.responder_name == responder.subject
    public = responder.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):  # no longer the CA's own signature
        ocsp_of(world, world.ca.ocsp_response(world.ocsp_request()))
    assert ("sign_ocsp_response", "responder", "ok") in [
        (e.operation, e.key_id, e.outcome) for e in world.kms.audit_log
    ]


def test_a_responders_key_signs_nothing_else(world: World) -> None:
    delegated(world)
    with pytest.raises(KeyTypeError):
        world.kms.sign("responder", "a message")
    with pytest.raises(InvalidInputError, match="already"):
        world.ca.delegate_ocsp("root", subject="CN=x", days=1)
    with pytest.raises(InvalidInputError, match="create_intermediate"):
        world.ca.issue("responder", subject="CN=x", days=1)


@needs_openssl
def test_openssl_ocsp_accepts_a_delegated_responders_response(tmp_path: Path) -> None:
    world = World(KeyCustodian())
    delegated(world)
    world.ca.revoke(world.leaf.serial_number, reason="superseded")
    files = write_world(world, tmp_path)
    chain = tmp_path / "chain.pem"
    chain.write_text(world.root.certificate + world.ca.certificate)
    response = tmp_path / "response.der"
    response.write_bytes(world.ca.ocsp_response(world.ocsp_request()))
    result = openssl("ocsp", "-respin", response, "-issuer", files["ca"], "-cert", files["leaf"], "-CAfile", chain)
    output = result.stdout + result.stderr
    assert "Response verify OK" in output, output
    assert f"{files['leaf']}: revoked" in output
