"""The relying party (contract section 14): verify_signature with a certificate, its chain and its status."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509 import ocsp
from test_pki import World, cert

from kmslib import (
    ArgumentTypeError,
    CertificateAuthority,
    InvalidInputError,
    KeyCustodian,
    SignatureError,
    verify_signature,
)
from kmslib.tokens import format_token

MESSAGE = "invoice 2026-001: 12.50 EUR"


class Party:
    """A World with a signed message, and the relying party's inputs."""

    def __init__(self, kms: KeyCustodian, algorithm: str = "ecdsa-p256-sha256") -> None:
        self.world = World(kms, algorithm)
        self.signature = kms.sign("signer", MESSAGE)

    def crls(self) -> list[str]:
        return [self.world.root.crl(), self.world.ca.crl()]

    def ocsp(self) -> list[bytes]:
        w = self.world
        middle = cert(w.ca.certificate)
        about_middle = ocsp.OCSPRequestBuilder().add_certificate(middle, cert(w.root.certificate), hashes.SHA256())
        return [
            w.ca.ocsp_response(w.ocsp_request()),
            w.root.ocsp_response(about_middle.build().public_bytes(serialization.Encoding.DER)),
        ]

    def verify(self, message: str = MESSAGE, signature: str | None = None, **given: Any) -> None:
        inputs: dict[str, Any] = {
            "certificate": self.world.leaf_pem,
            "trust_anchor": self.world.root.certificate,
            "intermediates": [self.world.ca.certificate],
            "at": self.world.kms._now(),
        }
        inputs.update(given)
        verify_signature(None, message, signature or self.signature, **inputs)


@pytest.fixture
def party(kms: KeyCustodian) -> Party:
    return Party(kms)


def refused(party: Party, match: str, **given: Any) -> str:
    with pytest.raises(SignatureError, match=match) as caught:
        party.verify(**given)
    return str(caught.value)


# ---------------------------------------------------------------------------- accepted


def test_a_good_chain_with_fresh_crls_is_accepted(party: Party) -> None:
    party.verify(crl=party.crls())


def test_a_good_chain_with_ocsp_is_accepted(party: Party) -> None:
    party.verify(ocsp=party.ocsp())


def test_status_may_come_from_both_kinds(party: Party) -> None:
    leaf_ocsp, _ = party.ocsp()
    party.verify(ocsp=leaf_ocsp, crl=party.world.root.crl())  # the leaf by OCSP, the intermediate by CRL


def test_a_delegated_responders_answer_is_accepted(party: Party) -> None:
    party.world.kms.generate_signing_key("responder", algorithm="ecdsa-p256-sha256")
    party.world.ca.delegate_ocsp("responder", subject="CN=Responder", days=7)
    leaf_ocsp = party.world.ca.ocsp_response(party.world.ocsp_request())
    party.verify(ocsp=leaf_ocsp, crl=party.world.root.crl())


def test_an_rsa_pss_chain_is_accepted(kms: KeyCustodian) -> None:
    party = Party(kms, "rsa-pss-sha256")
    party.verify(crl=party.crls())
    party.verify(ocsp=party.ocsp())


def test_a_single_crl_and_a_single_response_are_taken_alone_too(party: Party) -> None:
    leaf_ocsp, middle_ocsp = party.ocsp()
    party.verify(crl=party.world.root.crl(), ocsp=leaf_ocsp)
    party.verify(ocsp=[middle_ocsp, leaf_ocsp])  # in any order


# ---------------------------------------------------------------------------- the point: revocation reaches it


def test_the_bare_public_key_accepts_a_revoked_signer_and_the_certificate_does_not(party: Party) -> None:
    w = party.world
    pem = w.kms.export_public_key("signer")  # what a relying party was given, long ago
    w.kms.mark_compromised("signer", reason="laptop stolen")
    verify_signature(pem, MESSAGE, party.signature)  # fooled: nothing in the PEM says revoked
    text = refused(party, "revoked", crl=party.crls())
    assert "reason: key_compromise" in text
    assert "CN=Invoices" in text
    assert refused(party, "revoked", ocsp=party.ocsp()) == text  # OCSP says the same


def test_a_revoked_leaf_names_its_reason_and_time(party: Party) -> None:
    status = party.world.ca.revoke(party.world.leaf.serial_number, reason="superseded")
    assert status.revoked_at is not None
    text = refused(party, "revoked", crl=party.crls())
    assert f"{status.revoked_at:%Y-%m-%d %H:%M} UTC" in text
    assert "(reason: superseded)" in text


def test_a_revocation_without_a_reason_says_so(party: Party) -> None:
    party.world.ca.revoke(party.world.leaf.serial_number)
    assert "(reason: none given)" in refused(party, "revoked", crl=party.crls())


def test_a_revoked_intermediate_revokes_the_chain(party: Party) -> None:
    party.world.kms.mark_compromised("issuing", reason="its HSM PIN leaked")  # the root's CRL says so
    crls = [party.world.root.crl()]  # the compromised issuing CA can sign no CRL
    text = refused(party, "revoked", crl=crls)
    assert "Issuing CA" in text
    assert "ca_compromise" in text


def test_one_source_saying_revoked_wins_over_another_saying_good(party: Party) -> None:
    good = party.ocsp()
    party.world.ca.revoke(party.world.leaf.serial_number, reason="key_compromise")
    refused(party, "revoked", crl=party.crls(), ocsp=good)


# ---------------------------------------------------------------------------- no status, stale, another certificate


def test_no_status_at_all_is_refused(party: Party) -> None:
    assert "no status for the certificate of 'CN=Invoices" in refused(party, "no status")


def test_status_for_the_leaf_alone_is_not_enough(party: Party) -> None:
    leaf_ocsp, _ = party.ocsp()
    assert "Issuing CA" in refused(party, "no status", ocsp=leaf_ocsp)


def test_a_stale_crl_is_refused(party: Party) -> None:
    crls = party.crls()
    later = party.world.kms._now() + timedelta(days=8)  # past nextUpdate (7 days)
    text = refused(party, "stale", crl=crls, at=later)
    assert "no status" in text


def test_a_crl_from_before_its_time_is_not_used(party: Party) -> None:
    crls = party.crls()
    first = min(x509.load_pem_x509_crl(c.encode()).last_update_utc for c in crls)
    earlier = first - timedelta(seconds=1)  # the certificates are older: only the CRLs are not yet in force
    assert earlier >= party.world.leaf.not_valid_before_utc
    refused(party, "stale", crl=crls, at=earlier)


def test_a_stale_ocsp_response_is_refused(party: Party) -> None:
    responses = party.ocsp()
    refused(party, "stale", ocsp=responses, at=party.world.kms._now() + timedelta(days=2))


def test_an_ocsp_response_for_another_certificate_is_refused(party: Party) -> None:
    other = cert(party.world.ca.issue("signer", subject="CN=Other", days=5))
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(other, cert(party.world.ca.certificate), hashes.SHA256())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    about_other = party.world.ca.ocsp_response(request)
    text = refused(party, "another certificate", ocsp=about_other, crl=party.world.root.crl())
    assert "no status" in text


def test_a_crl_signed_by_another_key_is_ignored(party: Party) -> None:
    """A forged 'all good' CRL with the CA's name but another key gives no status."""
    forger = ec.generate_private_key(ec.SECP256R1())
    now = party.world.kms._now()
    forged = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(cert(party.world.ca.certificate).subject)
        .last_update(now - timedelta(minutes=1))
        .next_update(now + timedelta(days=1))
        .sign(forger, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    refused(party, "no status", crl=[party.world.root.crl(), forged])


def test_an_ocsp_response_signed_by_an_undelegated_key_is_ignored(party: Party) -> None:
    """A responder certificate the CA issued, but not for OCSP signing, cannot vouch."""
    w = party.world
    w.kms.generate_signing_key("impostor", algorithm="ecdsa-p256-sha256")
    impostor = cert(w.ca.issue("impostor", subject="CN=Impostor", days=5))  # digitalSignature, no OCSPSigning EKU
    genuine = ocsp.load_der_ocsp_response(w.ca.ocsp_response(w.ocsp_request()))
    signer = ec.generate_private_key(ec.SECP256R1())  # not even the impostor's key: pyca needs a key it holds
    stand_in = (
        x509.CertificateBuilder()
        .subject_name(impostor.subject)
        .issuer_name(impostor.subject)
        .public_key(signer.public_key())
        .serial_number(1)
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2030, 1, 1, tzinfo=UTC))
        .sign(signer, hashes.SHA256())
    )
    forged = (
        ocsp.OCSPResponseBuilder()
        .add_response_by_hash(
            genuine.issuer_name_hash,
            genuine.issuer_key_hash,
            genuine.serial_number,
            genuine.hash_algorithm,
            ocsp.OCSPCertStatus.GOOD,
            genuine.this_update_utc,
            genuine.next_update_utc,
            None,
            None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.NAME, stand_in)
        .certificates([stand_in, impostor])
        .sign(signer, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    refused(party, "no status", ocsp=forged, crl=w.root.crl())


# ---------------------------------------------------------------------------- the chain


def test_an_expired_certificate_is_refused(party: Party) -> None:
    crls = party.crls()
    text = refused(party, "expired", crl=crls, at=party.world.leaf.not_valid_after_utc + timedelta(seconds=1))
    assert "CN=Invoices" in text


def test_a_certificate_not_yet_valid_is_refused(party: Party) -> None:
    refused(party, "not valid until", crl=party.crls(), at=party.world.leaf.not_valid_before_utc - timedelta(days=1))


def test_another_trust_anchor_makes_the_chain_untrusted(party: Party, clock: Any) -> None:
    stranger = World(KeyCustodian(clock=clock))
    refused(party, "untrusted", crl=party.crls(), trust_anchor=stranger.root.certificate)


def test_a_missing_intermediate_makes_the_chain_untrusted(party: Party) -> None:
    refused(party, "untrusted", crl=party.crls(), intermediates=[])


def test_a_certificate_not_for_signing_is_refused(party: Party) -> None:
    w = party.world
    pem = w.ca.issue("signer", subject="CN=Agreement only", days=5, key_usage="key_agreement")
    assert "lacks digitalSignature" in refused(party, "not for signing", crl=party.crls(), certificate=pem)


def test_a_ca_certificate_is_not_a_signers(party: Party) -> None:
    w = party.world
    refused(party, "CA's certificate", crl=[w.root.crl()], certificate=w.ca.certificate, intermediates=[])


def test_a_changed_message_or_another_keys_signature_is_refused(party: Party) -> None:
    crls = party.crls()
    refused(party, "does not verify with the key the certificate names", crl=crls, message=MESSAGE + "!")
    party.world.kms.generate_signing_key("other", algorithm="ecdsa-p256-sha256")
    other = party.world.kms.sign("other", MESSAGE)
    refused(party, "does not verify", crl=crls, signature=other)
    refused(party, "does not verify", crl=crls, signature="kms:v1:ecdsa-p256-sha256:AAAA")
    refused(party, "does not verify", crl=crls, signature="not a token")


def test_an_ed25519_chain_is_refused_with_the_reason() -> None:
    now = datetime.now(UTC)
    root_key, leaf_key = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    root_name, leaf_name = x509.Name.from_rfc4514_string("CN=Ed Root"), x509.Name.from_rfc4514_string("CN=Ed Leaf")

    def certificate(subject: x509.Name, public: Any, ca: bool) -> str:
        usage = x509.KeyUsage(
            digital_signature=not ca, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False,
        )  # fmt: skip
        built = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(root_name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
            .sign(root_key, None)
        )
        return built.public_bytes(serialization.Encoding.PEM).decode()

    root = certificate(root_name, root_key.public_key(), True)
    leaf = certificate(leaf_name, leaf_key.public_key(), False)
    signature = format_token(1, "ed25519", leaf_key.sign(b"m"))
    with pytest.raises(SignatureError, match="Ed25519"):
        verify_signature(None, "m", signature, certificate=leaf, trust_anchor=root, at=now)


# ---------------------------------------------------------------------------- inputs


@pytest.mark.parametrize(
    ("given", "error", "match"),
    [
        ({"at": datetime(2026, 1, 1)}, InvalidInputError, "timezone-aware"),
        ({"at": "2026-01-01"}, ArgumentTypeError, "datetime"),
        ({"certificate": "not a certificate"}, InvalidInputError, "PEM certificate"),
        ({"certificate": 42}, ArgumentTypeError, "str or bytes"),
        ({"trust_anchor": None}, InvalidInputError, "trust_anchor"),
        ({"crl": "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"}, InvalidInputError, "PEM CRL"),
        ({"crl": 3.5}, ArgumentTypeError, "list"),
        ({"ocsp": "a response"}, ArgumentTypeError, "DER bytes"),
        ({"ocsp": b"\x30\x03\x0a\x01\x00"}, InvalidInputError, "OCSP response"),
        ({"intermediates": ["x"] * 17}, InvalidInputError, "at most 16"),
        ({"certificate": "é"}, InvalidInputError, "ASCII"),
    ],
)
def test_bad_inputs_get_typed_errors(party: Party, given: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        party.verify(**given)


def test_two_certificates_in_one_are_refused(party: Party) -> None:
    with pytest.raises(InvalidInputError, match="one PEM certificate"):
        party.verify(certificate=party.world.leaf_pem + party.world.ca.certificate, crl=party.crls())


def test_an_oversized_input_is_refused_unread(party: Party) -> None:
    with pytest.raises(InvalidInputError, match="at most"):
        party.verify(crl="A" * ((8 << 20) + 1))


def test_a_pem_and_a_certificate_together_are_refused(party: Party) -> None:
    pem = party.world.kms.export_public_key("signer")
    with pytest.raises(InvalidInputError, match="not both"):
        verify_signature(pem, MESSAGE, party.signature, certificate=party.world.leaf_pem)
    with pytest.raises(InvalidInputError, match="go with certificate="):
        verify_signature(pem, MESSAGE, party.signature, crl=party.world.ca.crl())


def test_no_pem_and_no_certificate_is_refused(party: Party) -> None:
    with pytest.raises(InvalidInputError, match="certificate="):
        verify_signature(None, MESSAGE, party.signature)


def test_at_defaults_to_now(kms: KeyCustodian) -> None:
    """Without ``at``, the system clock: a chain dated by the system clock verifies now."""
    world = World(KeyCustodian())
    signature = world.kms.sign("signer", MESSAGE)
    crls = [world.root.crl(), world.ca.crl()]
    verify_signature(
        None,
        MESSAGE,
        signature,
        certificate=world.leaf_pem,
        trust_anchor=world.root.certificate,
        intermediates=[world.ca.certificate],
        crl=crls,
    )


# ---------------------------------------------------------------------------- a chain and CRL made by openssl ca

OPENSSL = shutil.which("openssl")
CONFIG = """\
[ ca ]
default_ca = course
[ course ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir
certificate = $dir/root.pem
private_key = $dir/root.key
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_days = 30
default_crl_days = 7
policy = anything
unique_subject = no
[ anything ]
commonName = supplied
[ leaf ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def run(folder: Path, *args: str) -> None:
    assert OPENSSL is not None
    result = subprocess.run([OPENSSL, *args], cwd=folder, capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")
def test_a_chain_and_crl_made_by_openssl_ca(tmp_path: Path) -> None:
    (tmp_path / "ca.cnf").write_text(CONFIG.format(dir=tmp_path))
    (tmp_path / "index.txt").write_text("")
    (tmp_path / "serial").write_text("1000\n")
    (tmp_path / "crlnumber").write_text("01\n")
    run(tmp_path, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "root.key")
    run(
        tmp_path, "req", "-x509", "-new", "-key", "root.key", "-subj", "/CN=OpenSSL Root", "-days", "30",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-out", "root.pem",
    )  # fmt: skip
    run(tmp_path, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "leaf.key")
    run(tmp_path, "req", "-new", "-key", "leaf.key", "-subj", "/CN=OpenSSL Leaf", "-out", "leaf.csr")
    run(tmp_path, "ca", "-batch", "-config", "ca.cnf", "-extensions", "leaf", "-in", "leaf.csr", "-out", "leaf.pem")
    run(tmp_path, "ca", "-config", "ca.cnf", "-gencrl", "-out", "crl.pem")
    key = serialization.load_pem_private_key((tmp_path / "leaf.key").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    signature = format_token(1, "ecdsa-p256-sha256", key.sign(MESSAGE.encode(), ec.ECDSA(hashes.SHA256())))
    inputs = {
        "certificate": (tmp_path / "leaf.pem").read_text(),
        "trust_anchor": (tmp_path / "root.pem").read_text(),
        "at": datetime.now(UTC),
    }
    verify_signature(None, MESSAGE, signature, crl=(tmp_path / "crl.pem").read_text(), **inputs)
    run(tmp_path, "ca", "-config", "ca.cnf", "-revoke", "leaf.pem", "-crl_reason", "keyCompromise")
    run(tmp_path, "ca", "-config", "ca.cnf", "-gencrl", "-out", "crl2.pem")
    with pytest.raises(SignatureError, match=r"revoked .*\(reason: key_compromise\)"):
        verify_signature(None, MESSAGE, signature, crl=(tmp_path / "crl2.pem").read_text(), **inputs)


def test_kmslibs_ca_is_what_the_relying_party_reads(kms: KeyCustodian) -> None:
    """The CA class and the relying party agree on a leaf the CA revoked after the signature was made."""
    party = Party(kms)
    party.verify(crl=party.crls())
    ca: CertificateAuthority = party.world.ca
    ca.revoke(party.world.leaf.serial_number, reason="affiliation_changed")
    refused(party, "affiliation_changed", crl=party.crls())


# ---------------------------------------------------------------------------- dates anywhere in the chain


def pyca_chain(root_days: tuple[int, int], middle_days: tuple[int, int]) -> tuple[str, str, str, str, Any]:
    """A root, an intermediate and a leaf made by pyca, the first two valid from and to the days given (from now)."""
    now = datetime.now(UTC)
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(3)]
    names = [x509.Name.from_rfc4514_string(f"CN={n}") for n in ("Root", "Middle", "Leaf")]

    def make(i: int, issuer: int, days: tuple[int, int], ca: bool) -> x509.Certificate:
        usage = x509.KeyUsage(
            digital_signature=not ca, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False,
        )  # fmt: skip
        public = keys[i].public_key()
        return (
            x509.CertificateBuilder()
            .subject_name(names[i])
            .issuer_name(names[issuer])
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + timedelta(days=days[0]))
            .not_valid_after(now + timedelta(days=days[1]))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(keys[issuer].public_key()), critical=False
            )
            .sign(keys[issuer], hashes.SHA256())
        )

    certs = [make(0, 0, root_days, True), make(1, 0, middle_days, True), make(2, 1, (-1, 30), False)]
    pems = [c.public_bytes(serialization.Encoding.PEM).decode() for c in certs]
    signature = format_token(1, "ecdsa-p256-sha256", keys[2].sign(MESSAGE.encode(), ec.ECDSA(hashes.SHA256())))
    return pems[0], pems[1], pems[2], signature, now


def test_an_expired_trust_anchor_is_named() -> None:
    root, middle, leaf, signature, now = pyca_chain((-20, -10), (-5, 60))
    with pytest.raises(SignatureError, match=r"'CN=Root' \(the trust anchor\) expired"):
        verify_signature(None, MESSAGE, signature, certificate=leaf, trust_anchor=root, intermediates=[middle], at=now)


def test_an_expired_intermediate_is_named() -> None:
    root, middle, leaf, signature, now = pyca_chain((-20, 60), (-10, -2))
    with pytest.raises(SignatureError, match=r"'CN=Middle' \(an intermediate\) expired"):
        verify_signature(None, MESSAGE, signature, certificate=leaf, trust_anchor=root, intermediates=[middle], at=now)


def test_an_intermediate_not_yet_valid_is_named() -> None:
    root, middle, leaf, signature, now = pyca_chain((-20, 60), (2, 30))
    with pytest.raises(SignatureError, match=r"'CN=Middle' \(an intermediate\) is not valid until"):
        verify_signature(None, MESSAGE, signature, certificate=leaf, trust_anchor=root, intermediates=[middle], at=now)


def test_a_pinned_certificate_is_its_own_anchor_and_needs_no_status() -> None:
    """As documented: the anchor is trusted as configured, so a certificate given as its own anchor is accepted."""
    root, middle, leaf, signature, now = pyca_chain((-20, 60), (-5, 60))
    verify_signature(None, MESSAGE, signature, certificate=leaf, trust_anchor=leaf, at=now)
    with pytest.raises(SignatureError, match="no status"):  # anchored at the root, the leaf needs its status
        verify_signature(None, MESSAGE, signature, certificate=leaf, trust_anchor=root, intermediates=[middle], at=now)


@pytest.mark.parametrize(
    "scope",
    [
        x509.DeltaCRLIndicator(1),
        x509.IssuingDistributionPoint(
            full_name=None, relative_name=None, only_contains_user_certs=True, only_contains_ca_certs=False,
            only_some_reasons=None, indirect_crl=False, only_contains_attribute_certs=False,
        ),
    ],
)  # fmt: skip
def test_a_delta_or_scoped_crl_gives_no_status(kms: KeyCustodian, scope: Any) -> None:
    """A CRL that lists only some revocations says nothing by its silence (RFC 5280 5.2.4, 5.2.5)."""
    party = Party(kms)
    w = party.world
    ca_key = ec.generate_private_key(ec.SECP256R1())  # a CA of pyca's own, so that the CRL carries the extension
    name = x509.Name.from_rfc4514_string("CN=Scoped CA")
    now = w.kms._now()
    root = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    signer = w.kms.export_public_key("signer")
    public = serialization.load_pem_public_key(signer.encode())
    leaf = (
        x509.CertificateBuilder().subject_name(x509.Name.from_rfc4514_string("CN=Scoped leaf")).issuer_name(name)
        .public_key(public).serial_number(2).not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=10))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip

    def crl(extra: Any) -> str:
        builder = x509.CertificateRevocationListBuilder().issuer_name(name).last_update(now - timedelta(minutes=1))
        builder = builder.next_update(now + timedelta(days=1)).add_extension(x509.CRLNumber(3), critical=False)
        if extra is not None:
            builder = builder.add_extension(extra, critical=True)
        return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()

    pems = {
        "certificate": leaf.public_bytes(serialization.Encoding.PEM).decode(),
        "trust_anchor": root.public_bytes(serialization.Encoding.PEM).decode(),
        "at": now,
    }
    verify_signature(None, MESSAGE, party.signature, crl=crl(None), **pems)  # the complete CRL: accepted
    with pytest.raises(SignatureError, match="no status"):
        verify_signature(None, MESSAGE, party.signature, crl=crl(scope), **pems)
