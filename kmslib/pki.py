"""A certificate authority beside the custodian: certificates, CRLs and OCSP responses (contract section 14).

A bare public key cannot be revoked: whoever holds its PEM keeps trusting it. Relying parties learn of a
revocation from certificates and their status: certificate revocation lists (RFC 5280 §5) and OCSP
responses (RFC 6960). As HashiCorp Vault keeps its ``pki`` engine beside ``transit``, and AWS its Private CA
beside KMS, :class:`CertificateAuthority` is a class of its own that uses a custodian's signing keys; the
custodian gains no certificate methods.

- :meth:`CertificateAuthority.create_root` makes a self-signed root from a signing key,
  :meth:`~CertificateAuthority.create_intermediate` a CA certified by it (``path_length=0``), and
  :meth:`~CertificateAuthority.issue` an end-entity certificate for another signing key of the custodian.
  Certificates are X.509 v3 with basic constraints and key usage (both critical), and subject and authority
  key identifiers (RFC 5280 §4.2.1); serial numbers are 159 random bits (pyca's ``random_serial_number``;
  the CA/Browser Forum's Baseline Requirements §7.1 ask for at least 64 bits from a CSPRNG).
- A CA's key signs certificates, CRLs and OCSP responses only: once a key is a CA's, the custodian's
  ``sign`` and ``sign_audit_checkpoint`` refuse it (one key, one purpose: NIST SP 800-57 Pt 1 §5.2), so
  that whoever may sign messages with it cannot sign a certificate by hand.
- :meth:`~CertificateAuthority.revoke` revokes a certificate with an RFC 5280 reason. A certificate whose
  subject key version the custodian revoked or marked compromised is reported revoked with no second call
  (``cessation_of_operation``, or ``key_compromise``; ``ca_compromise`` for a CA's certificate), at the time
  the audit log recorded that change: status derives from the key's state.
- :meth:`~CertificateAuthority.crl` and :meth:`~CertificateAuthority.ocsp_response` publish that status,
  signed by the CA's key (``thisUpdate``/``nextUpdate``, a CRL number, the request's nonce echoed).

The custodian signs the bytes to be signed, so a CA key may live in a hardware token
(``protection="hsm"``). pyca's builders sign only with a key object they hold: each structure is built and
signed with a throwaway key of the same algorithm, and the custodian's signature replaces the throwaway one
(:mod:`kmslib._der`); the result is parsed again and its signature checked before it is returned.

Keys: ``ecdsa-p256-sha256`` or ``rsa-pss-sha256``, the two of kmslib's algorithms that pyca's chain
verifier (:mod:`cryptography.x509.verification`, which follows the CA/Browser Forum's algorithm list)
accepts; Ed25519 and ML-DSA-65 keys are refused with that reason. Issued certificates and revocations are
kept with the custodian's access rows: in memory, or in its sealed store (authenticated there like every
row), and each signing and revocation is in the audit log.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from kmslib import _der
from kmslib.custodian import KeyCustodian
from kmslib.errors import ArgumentTypeError, InvalidInputError, KeyNotFoundError, KeyStateError, KeyTypeError
from kmslib.keyinfo import KeyInfo
from kmslib.tokens import ECDSA_P256, RSA_PSS, parse_token

__all__ = ["CA_ALGORITHMS", "KEY_USAGES", "REASONS", "CertificateAuthority", "CertificateStatus"]

#: The signing algorithms a CA key, or a certified key, may have (see the module docstring).
CA_ALGORITHMS = (ECDSA_P256, RSA_PSS)
#: The RFC 5280 §5.3.1 reasons ``revoke`` accepts: ``x509.ReasonFlags``' names but ``remove_from_crl`` (delta CRLs
#: only). ``unspecified`` is recorded as no reason: RFC 5280 asks CRL issuers to omit the code rather than use it.
REASONS = tuple(flag.name for flag in x509.ReasonFlags if flag is not x509.ReasonFlags.remove_from_crl)
#: The key usages an end-entity certificate may carry (RFC 5280 §4.2.1.3); ``key_cert_sign`` and ``crl_sign``
#: belong to CAs (:meth:`CertificateAuthority.create_intermediate`).
KEY_USAGES = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement")
_MAX_DAYS = 36525  # a century: beyond it, a typo
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
_throwaway: dict[str, Any] = {}
_throwaway_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class CertificateStatus:
    """What a CA says of one certificate it issued.

    Attributes:
        serial: the certificate's serial number.
        subject: its subject, as an RFC 4514 string.
        key_id: the custodian key it certifies, and ``version`` that key's version.
        not_valid_after: when the certificate expires.
        revoked_at: when it was revoked, or ``None`` while it is good.
        reason: the RFC 5280 reason (an ``x509.ReasonFlags`` name), or ``None``.
        derived: whether the revocation comes from the key's state in the custodian (not from ``revoke``).
    """

    serial: int
    subject: str
    key_id: str
    version: int
    not_valid_after: datetime
    revoked_at: datetime | None = None
    reason: str | None = None
    derived: bool = False

    @property
    def revoked(self) -> bool:
        """Whether the certificate is revoked."""
        return self.revoked_at is not None


def _throwaway_key(algorithm: str) -> Any:
    """A key pyca's builders sign with, whose signature is then replaced (never used for anything else)."""
    with _throwaway_lock:
        if algorithm not in _throwaway:
            _throwaway[algorithm] = (
                ec.generate_private_key(ec.SECP256R1())
                if algorithm == ECDSA_P256
                else rsa.generate_private_key(public_exponent=65537, key_size=2048)
            )
        return _throwaway[algorithm]


def _signed_by_throwaway(builder: Any, algorithm: str) -> Any:
    key = _throwaway_key(algorithm)
    if algorithm == RSA_PSS:
        return builder.sign(key, hashes.SHA256(), rsa_padding=_PSS)
    return builder.sign(key, hashes.SHA256())


def _name(subject: object) -> x509.Name:
    if isinstance(subject, x509.Name):
        return subject
    if not isinstance(subject, str):
        raise ArgumentTypeError(f"subject must be an RFC 4514 str or an x509.Name, not {type(subject).__name__}")
    try:
        name = x509.Name.from_rfc4514_string(subject)
    except ValueError:
        raise InvalidInputError(
            f"subject {subject[:80]!r} is not an RFC 4514 name such as 'CN=Payments,O=Example'"
        ) from None
    if not len(name):
        raise InvalidInputError("subject is empty: give at least a CN, such as 'CN=Payments'")
    return name


def _days(days: object) -> int:
    if not isinstance(days, int) or isinstance(days, bool):
        raise ArgumentTypeError(f"days must be an int, not {type(days).__name__}")
    if not 1 <= days <= _MAX_DAYS:
        raise InvalidInputError(f"days must be from 1 to {_MAX_DAYS}, not {days}")
    return days


def _usage(**flags: bool) -> x509.KeyUsage:
    names = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    return x509.KeyUsage(**{name: flags.get(name, False) for name in names})


def _key_usages(key_usage: object) -> tuple[str, ...]:
    if isinstance(key_usage, str):
        key_usage = (key_usage,)
    if not isinstance(key_usage, (tuple, list, set, frozenset)):
        raise ArgumentTypeError(f"key_usage must be a name or a tuple of names, not {type(key_usage).__name__}")
    chosen = tuple(sorted(set(key_usage)))
    for name in chosen:
        if name not in KEY_USAGES:
            shown = repr(name)[:40] if isinstance(name, str) else type(name).__name__
            raise InvalidInputError(f"key usage {shown} is not one of {', '.join(KEY_USAGES)}")
    if not chosen:
        raise InvalidInputError("key_usage is empty: name at least one, such as 'digital_signature'")
    return chosen


class CertificateAuthority:
    """A certificate authority whose key is one of a custodian's signing keys.

    Make one with :meth:`create_root`, :meth:`create_intermediate` or :meth:`load`; each holds its key's id
    and its certificate, never key material.

    Attributes:
        key_id: the CA's signing key in the custodian.
        certificate: the CA's own certificate, PEM.
    """

    def __init__(self, custodian: KeyCustodian, key_id: str, _token: object = None) -> None:
        if _token is not _CONSTRUCT:
            raise InvalidInputError("make a CertificateAuthority with create_root, create_intermediate or load")
        self._kms = custodian
        self.key_id = key_id
        record = custodian._access.pki[f"ca\n{key_id}"]
        self._cert = x509.load_pem_x509_certificate(record["certificate"].encode("ascii"))
        self._version: int = record["version"]
        self._algorithm: str = record["algorithm"]
        self.certificate: str = record["certificate"]

    def now(self) -> datetime:
        """The time by this CA's clock (its custodian's): what it dates certificates, CRLs and responses by."""
        return self._kms._now()

    def __repr__(self) -> str:
        return f"CertificateAuthority(key_id={self.key_id!r}, subject={self._cert.subject.rfc4514_string()!r})"

    # ------------------------------------------------------------------ making and loading CAs

    @classmethod
    def create_root(
        cls, custodian: KeyCustodian, key_id: str, *, subject: str | x509.Name, days: int
    ) -> CertificateAuthority:
        """A self-signed root CA whose key is ``key_id``, a signing key of ``custodian``.

        From now on the key signs only what a CA signs (the custodian's ``sign`` refuses it).

        Args:
            custodian: the key owner's :class:`~kmslib.KeyCustodian` (not a principal's view).
            key_id: an ``ecdsa-p256-sha256`` or ``rsa-pss-sha256`` signing key, not yet a CA's.
            subject: the CA's name, RFC 4514 (``"CN=Example Root CA,O=Example"``) or an ``x509.Name``.
            days: how long its certificate is valid, from now (the custodian's clock).

        Raises:
            KeyTypeError: not a signing key, or of another algorithm.
            InvalidInputError: the key is a CA's already, or a bad subject or number of days.
        """
        kms = _owner(custodian)
        name, lifetime = _name(subject), _days(days)
        with kms._access.lock:
            algorithm, version, public = _certifiable(kms, key_id)
            _not_a_ca(kms, key_id)
            now = kms._now()
            builder = _builder(name, name, public, now, now + timedelta(days=lifetime))
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            builder = builder.add_extension(_usage(key_cert_sign=True, crl_sign=True), critical=True)
            builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
            signed = _sign_certificate(
                kms,
                key_id,
                builder,
                algorithm=algorithm,
                version=version,
                issuer_public=public,
                operation="create_root_ca",
            )
            pem = signed.public_bytes(serialization.Encoding.PEM).decode("ascii")
            kms._access.save_pki(
                f"ca\n{key_id}",
                {"certificate": pem, "issuer": None, "version": version, "algorithm": algorithm, "crl_number": 0},
            )
        return cls(kms, key_id, _CONSTRUCT)

    def create_intermediate(self, key_id: str, *, subject: str | x509.Name, days: int) -> CertificateAuthority:
        """A CA certified by this one (``path_length=0``: it certifies end entities only).

        Args and raises as :meth:`create_root`; its certificate cannot outlive this CA's.
        """
        name, lifetime = _name(subject), _days(days)
        kms = self._kms
        with kms._access.lock:
            algorithm, version, public = _certifiable(kms, key_id)
            _not_a_ca(kms, key_id)
            builder = self._child(name, public, lifetime)
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            builder = builder.add_extension(_usage(key_cert_sign=True, crl_sign=True), critical=True)
            pem = self._signed(builder, "create_intermediate_ca", key_id, version, ca=True)
            kms._access.save_pki(
                f"ca\n{key_id}",
                {
                    "certificate": pem,
                    "issuer": self.key_id,
                    "version": version,
                    "algorithm": algorithm,
                    "crl_number": 0,
                },
            )
        return CertificateAuthority(kms, key_id, _CONSTRUCT)

    @classmethod
    def load(cls, custodian: KeyCustodian, key_id: str) -> CertificateAuthority:
        """The CA whose key is ``key_id``, as :meth:`create_root` or :meth:`create_intermediate` made it.

        Raises:
            KeyNotFoundError: no CA has that key in this custodian (or its store).
        """
        kms = _owner(custodian)
        if not (isinstance(key_id, str) and f"ca\n{key_id}" in kms._access.pki):
            shown = repr(key_id)[:80] if isinstance(key_id, str) else type(key_id).__name__
            raise KeyNotFoundError(f"no certificate authority has the key {shown}")
        return cls(kms, key_id, _CONSTRUCT)

    # ------------------------------------------------------------------ issuing

    def issue(
        self,
        subject_key_id: str,
        *,
        subject: str | x509.Name,
        days: int,
        key_usage: str | tuple[str, ...] = ("digital_signature",),
    ) -> str:
        """An end-entity certificate for ``subject_key_id``'s newest version, PEM.

        Args:
            subject_key_id: a signing key of the custodian (``ecdsa-p256-sha256`` or ``rsa-pss-sha256``) that
                is no CA's key.
            subject: the subject's name, RFC 4514 or an ``x509.Name``.
            days: its validity from now; not beyond this CA's own certificate.
            key_usage: names from :data:`KEY_USAGES`. A key that signs messages needs ``digital_signature``
                (RFC 5280 §4.2.1.3); kmslib's relying party refuses a certificate without it.

        Returns:
            The certificate, PEM. Its serial is in :meth:`issued`.
        """
        name, lifetime, usages = _name(subject), _days(days), _key_usages(key_usage)
        kms = self._kms
        with kms._access.lock:
            _, version, public = _certifiable(kms, subject_key_id)
            if kms._access.dedicated(subject_key_id):
                raise InvalidInputError(
                    f"key {subject_key_id!r} is a CA's key: certify it with create_intermediate, not issue"
                )
            builder = self._child(name, public, lifetime)
            builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            builder = builder.add_extension(_usage(**dict.fromkeys(usages, True)), critical=True)
            pem = self._signed(builder, "issue_certificate", subject_key_id, version, ca=False)
        return pem

    def _child(self, name: x509.Name, public: Any, lifetime: int) -> x509.CertificateBuilder:
        now = self._kms._now()
        end = now + timedelta(days=lifetime)
        if end > self._cert.not_valid_after_utc:
            raise InvalidInputError(
                f"a certificate valid {lifetime} days would outlive its CA's, which ends "
                f"{self._cert.not_valid_after_utc:%Y-%m-%d}: ask for fewer days"
            )
        builder = _builder(name, self._cert.subject, public, now, end)
        ski = self._cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )

    def _signed(self, builder: x509.CertificateBuilder, operation: str, key_id: str, version: int, *, ca: bool) -> str:
        """``builder``'s certificate signed with this CA's key and recorded as issued: its PEM."""
        cert = _sign_certificate(
            self._kms,
            self.key_id,
            builder,
            algorithm=self._algorithm,
            version=self._version,
            issuer_public=self._cert.public_key(),
            operation=operation,
        )
        pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        self._kms._access.save_pki(
            f"cert\n{cert.serial_number:x}",
            {
                "issuer": self.key_id,
                "key_id": key_id,
                "version": version,
                "ca": ca,
                "certificate": pem,
                "subject": cert.subject.rfc4514_string(),
                "not_after": cert.not_valid_after_utc.isoformat(),
                "revoked": None,
            },
        )
        return pem

    # ------------------------------------------------------------------ status

    def issued(self) -> tuple[CertificateStatus, ...]:
        """Every certificate this CA issued, with its status now, oldest serial first."""
        infos: dict[str, KeyInfo] = {}
        mine = [
            (int(name[5:], 16), record)
            for name, record in list(self._kms._access.pki.items())
            if name.startswith("cert\n") and record.get("issuer") == self.key_id
        ]
        return tuple(self._status(serial, record, infos) for serial, record in sorted(mine, key=lambda x: x[0]))

    def status(self, serial: int) -> CertificateStatus:
        """The status of the certificate with ``serial`` that this CA issued.

        Raises:
            KeyNotFoundError: this CA issued no certificate with that serial.
        """
        return self._status(serial, self._certificate_record(serial), {})

    def _status(self, serial: int, record: dict[str, Any], infos: dict[str, KeyInfo]) -> CertificateStatus:
        """The status of ``record``, with ``infos`` the key infos read so far (read once per key per call)."""
        base = {
            "serial": serial,
            "subject": record["subject"],
            "key_id": record["key_id"],
            "version": record["version"],
            "not_valid_after": datetime.fromisoformat(record["not_after"]),
        }
        revoked = record.get("revoked")
        if revoked is not None:
            return CertificateStatus(
                **base, revoked_at=datetime.fromisoformat(revoked["time"]), reason=revoked["reason"]
            )
        key_id = record["key_id"]
        if key_id not in infos:
            infos[key_id] = self._kms.key_info(key_id)
        derived = _derived(self._kms, record, infos[key_id])
        if derived is not None:
            return CertificateStatus(**base, revoked_at=derived[0], reason=derived[1], derived=True)
        return CertificateStatus(**base)

    def _certificate_record(self, serial: object) -> dict[str, Any]:
        if not isinstance(serial, int) or isinstance(serial, bool):
            raise ArgumentTypeError(f"serial must be an int, not {type(serial).__name__}")
        record: dict[str, Any] | None = self._kms._access.pki.get(f"cert\n{serial:x}") if serial > 0 else None
        if record is None or record.get("issuer") != self.key_id:
            raise KeyNotFoundError(f"this CA issued no certificate with serial {serial:x}"[:120])
        return record

    def revoke(self, serial: int, *, reason: str | None = None) -> CertificateStatus:
        """Revoke a certificate this CA issued, now, with an RFC 5280 reason (audited as ``revoke_certificate``).

        Args:
            serial: its serial number.
            reason: one of :data:`REASONS` (``"key_compromise"``, ``"superseded"``, ...); ``None`` or
                ``"unspecified"`` to give no reason code (RFC 5280 §5.3.1).

        Raises:
            KeyNotFoundError: this CA issued no certificate with that serial.
            InvalidInputError: it is revoked already, or an unknown reason.
        """
        kms = self._kms
        try:
            if reason is not None and (not isinstance(reason, str) or reason not in REASONS):
                shown = repr(reason)[:40] if isinstance(reason, str) else type(reason).__name__
                raise InvalidInputError(f"reason {shown} is not one of {', '.join(REASONS)}")
            with kms._access.lock:
                record = self._certificate_record(serial)
                if (
                    record.get("revoked") is not None
                    or _derived(kms, record, kms.key_info(record["key_id"])) is not None
                ):
                    raise InvalidInputError(f"certificate {serial:x} is revoked already")
                revoked = {"time": kms._now().isoformat(), "reason": None if reason == "unspecified" else reason}
                kms._access.save_pki(f"cert\n{serial:x}", {**record, "revoked": revoked})
        except BaseException as exc:
            kms._audit._append("revoke_certificate", self.key_id, None, type(exc).__name__)
            raise
        kms._audit._append("revoke_certificate", self.key_id, None, "ok")
        return self.status(serial)

    # ------------------------------------------------------------------ publishing status

    def crl(self, *, next_update: timedelta = timedelta(days=7)) -> str:
        """A certificate revocation list of this CA's revoked certificates, PEM (RFC 5280 §5).

        It has a CRL number one above the last (§5.2.3), ``thisUpdate`` now and ``nextUpdate`` after
        ``next_update``; each entry has its reason code, if it has one. A relying party refuses it after
        ``nextUpdate``: publish a new one before then.
        """
        if not isinstance(next_update, timedelta):
            raise ArgumentTypeError(f"next_update must be a timedelta, not {type(next_update).__name__}")
        if not timedelta(minutes=1) <= next_update <= timedelta(days=366):
            raise InvalidInputError("next_update must be from one minute to 366 days")
        kms = self._kms
        with kms._access.lock:
            ca_record = kms._access.pki[f"ca\n{self.key_id}"]
            number = int(ca_record.get("crl_number", 0)) + 1
            now = kms._now()
            builder = (
                x509.CertificateRevocationListBuilder()
                .issuer_name(self._cert.subject)
                .last_update(now)
                .next_update(now + next_update)
                .add_extension(x509.CRLNumber(number), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._public()), critical=False)
            )
            for status in self.issued():
                if status.revoked_at is None:
                    continue
                entry = x509.RevokedCertificateBuilder().serial_number(status.serial).revocation_date(status.revoked_at)
                if status.reason is not None:
                    entry = entry.add_extension(x509.CRLReason(x509.ReasonFlags[status.reason]), critical=False)
                builder = builder.add_revoked_certificate(entry.build())
            draft = _signed_by_throwaway(builder, self._algorithm)
            signature = self._signature("sign_crl", draft.tbs_certlist_bytes)
            der = _der.replace_signature(draft.public_bytes(serialization.Encoding.DER), signature)
            crl = x509.load_der_x509_crl(der)
            if not crl.is_signature_valid(self._public()):  # pragma: no cover - a splice that went wrong
                raise KeyStateError("the CRL's signature does not verify: nothing was published")
            kms._access.save_pki(f"ca\n{self.key_id}", {**ca_record, "crl_number": number})
        return crl.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def ocsp_response(self, request: bytes, *, next_update: timedelta = timedelta(days=1)) -> bytes:
        """A signed OCSP response (RFC 6960) to ``request`` (DER), by this CA's key.

        ``good``, ``revoked`` (with its time and reason) or ``unknown`` (a serial this CA did not issue);
        ``unauthorized`` for a request about another CA's certificate. The request's nonce (RFC 8954) is
        echoed. The response carries ``thisUpdate`` now and ``nextUpdate`` after ``next_update``.

        Raises:
            InvalidInputError: ``request`` is not a DER OCSP request with one certificate.
        """
        if not isinstance(request, (bytes, bytearray)):
            raise ArgumentTypeError(f"request must be DER bytes, not {type(request).__name__}")
        if not isinstance(next_update, timedelta) or not timedelta(minutes=1) <= next_update <= timedelta(days=7):
            raise InvalidInputError("next_update must be a timedelta from one minute to 7 days")
        try:
            parsed = ocsp.load_der_ocsp_request(bytes(request))
            serial, algorithm = parsed.serial_number, parsed.hash_algorithm
            name_hash, key_hash = parsed.issuer_name_hash, parsed.issuer_key_hash
            nonce = None
            for extension in parsed.extensions:
                if isinstance(extension.value, x509.OCSPNonce):
                    nonce = extension.value
        except ValueError:
            raise InvalidInputError("request is not a DER OCSP request for one certificate (RFC 6960 §4.1)") from None
        if (name_hash, key_hash) != self._issuer_hashes(algorithm):
            return ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(
                serialization.Encoding.DER
            )
        record = self._kms._access.pki.get(f"cert\n{serial:x}") if serial > 0 else None
        now = self._kms._now()
        state, when, reason = ocsp.OCSPCertStatus.UNKNOWN, None, None
        if record is not None and record.get("issuer") == self.key_id:
            status = self.status(serial)
            state = ocsp.OCSPCertStatus.REVOKED if status.revoked else ocsp.OCSPCertStatus.GOOD
            when = status.revoked_at
            reason = None if status.reason is None else x509.ReasonFlags[status.reason]
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=name_hash,
            issuer_key_hash=key_hash,
            serial_number=serial,
            algorithm=algorithm,
            cert_status=state,
            this_update=now,
            next_update=now + next_update,
            revocation_time=when,
            revocation_reason=reason,
        )
        signer = self._responder()
        key_id, version, algorithm_name, responder = signer
        stand_in = _stand_in(responder, algorithm_name)
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.NAME, stand_in)
        if responder is not self._cert:
            builder = builder.certificates([responder])  # a delegated responder's certificate travels with it
        if nonce is not None:
            builder = builder.add_extension(nonce, critical=False)
        draft = builder.sign(_throwaway_key(algorithm_name), hashes.SHA256())
        signature = _custodian_signature(self._kms, key_id, version, "sign_ocsp_response", draft.tbs_response_bytes)
        # pyca signs OCSP with PKCS#1 v1.5 for an RSA key: PSS's identifier comes from the stand-in, signed with PSS.
        pss = (
            _der.algorithm_of(stand_in.public_bytes(serialization.Encoding.DER)) if algorithm_name == RSA_PSS else None
        )
        der = _der.replace_ocsp_signature(draft.public_bytes(serialization.Encoding.DER), signature, pss)
        response = ocsp.load_der_ocsp_response(der)
        _check(responder.public_key(), algorithm_name, response.tbs_response_bytes, response.signature)
        return der

    def _responder(self) -> tuple[str, int, str, x509.Certificate]:
        """Who signs OCSP responses: the delegated responder if there is one, else this CA's key."""
        name = self._kms._access.pki[f"ca\n{self.key_id}"].get("responder")
        if name is None:
            return self.key_id, self._version, self._algorithm, self._cert
        record = self._kms._access.pki[f"ocsp\n{name}"]
        responder = x509.load_pem_x509_certificate(record["certificate"].encode("ascii"))
        return name, record["version"], record["algorithm"], responder

    def delegate_ocsp(self, key_id: str, *, subject: str | x509.Name, days: int) -> str:
        """Certify ``key_id`` as this CA's OCSP responder; from now on it signs this CA's OCSP responses.

        The certificate has extended key usage ``id-kp-OCSPSigning`` and ``id-pkix-ocsp-nocheck`` (RFC 6960
        §4.2.2.2, §4.2.2.2.1): relying parties accept responses it signs for this CA's certificates, and do
        not check its own status, so keep it short-lived. The key then signs nothing else; delegating again
        replaces the responder (the old one's certificate stays valid until it expires or is revoked).

        Args:
            key_id: an ``ecdsa-p256-sha256`` or ``rsa-pss-sha256`` signing key, not a CA's.
            subject: the responder's name.
            days: its validity, within this CA's.

        Returns:
            The responder's certificate, PEM.
        """
        name, lifetime = _name(subject), _days(days)
        kms = self._kms
        with kms._access.lock:
            algorithm, version, public = _certifiable(kms, key_id)
            if kms._access.dedicated(key_id):
                raise InvalidInputError(f"key {key_id!r} signs for a CA already: give the responder a key of its own")
            builder = self._child(name, public, lifetime)
            builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            builder = builder.add_extension(_usage(digital_signature=True), critical=True)
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
            builder = builder.add_extension(x509.OCSPNoCheck(), critical=False)
            pem = self._signed(builder, "delegate_ocsp_responder", key_id, version, ca=False)
            kms._access.save_pki(
                f"ocsp\n{key_id}",
                {"certificate": pem, "issuer": self.key_id, "version": version, "algorithm": algorithm},
            )
            ca_record = kms._access.pki[f"ca\n{self.key_id}"]
            kms._access.save_pki(f"ca\n{self.key_id}", {**ca_record, "responder": key_id})
        return pem

    def _issuer_hashes(self, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
        """This CA's issuerNameHash and issuerKeyHash under ``algorithm`` (RFC 6960 §4.1.1's CertID)."""
        public = self._public()
        if isinstance(public, rsa.RSAPublicKey):
            key = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        else:
            key = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        digests = []
        for data in (self._cert.subject.public_bytes(), key):
            digest = hashes.Hash(algorithm)
            digest.update(data)
            digests.append(digest.finalize())
        return digests[0], digests[1]

    def _public(self) -> Any:
        """The CA's public key (an EC P-256 or RSA key: :func:`_certifiable` allows no other)."""
        return self._cert.public_key()

    def _signature(self, operation: str, data: bytes) -> bytes:
        """The custodian's signature of ``data`` with this CA's key, audited as ``operation``."""
        return _custodian_signature(self._kms, self.key_id, self._version, operation, data)


_CONSTRUCT = object()


def _owner(custodian: object) -> KeyCustodian:
    if type(custodian) is not KeyCustodian:
        raise ArgumentTypeError(
            f"a certificate authority runs on the key owner's KeyCustodian, not {type(custodian).__name__}"
        )
    return custodian


def _certifiable(kms: KeyCustodian, key_id: object) -> tuple[str, int, Any]:
    """The algorithm, newest version and public key of a signing key that a certificate can name."""
    info = kms.key_info(key_id)  # type: ignore[arg-type]
    if info.kind != "signing":
        raise KeyTypeError(f"key {info.key_id!r} is an {info.kind} key: certificates here certify signing keys")
    if info.algorithm not in CA_ALGORITHMS:
        raise KeyTypeError(
            f"key {info.key_id!r} is {info.algorithm}: pyca's chain verifier, following the CA/Browser Forum, "
            f"accepts {' and '.join(CA_ALGORITHMS)} keys only"
        )
    public = serialization.load_pem_public_key(kms.export_public_key(info.key_id).encode("ascii"))
    return info.algorithm, info.version, public


def _not_a_ca(kms: KeyCustodian, key_id: str) -> None:
    if kms._access.dedicated(key_id):
        raise InvalidInputError(f"key {key_id!r} is a certificate authority's already")


def _builder(
    subject: x509.Name, issuer: x509.Name, public: Any, start: datetime, end: datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )


def _custodian_signature(kms: KeyCustodian, key_id: str, version: int, operation: str, data: bytes) -> bytes:
    """The custodian's signature of ``data`` with ``key_id``, which must still be at the certified ``version``."""
    _, token = kms._sign(operation, key_id, lambda: data)
    signed_by, _, signature = parse_token(token)
    if signed_by != version:
        raise KeyStateError(
            f"key {key_id!r} rotated since its CA certificate was made (it certifies version {version}): "
            "make the CA again with a new key"
        )
    return signature


def _sign_certificate(
    kms: KeyCustodian, key_id: str, builder: Any, *, algorithm: str, version: int, issuer_public: Any, operation: str
) -> x509.Certificate:
    draft = _signed_by_throwaway(builder, algorithm)
    signature = _custodian_signature(kms, key_id, version, operation, draft.tbs_certificate_bytes)
    der = _der.replace_signature(draft.public_bytes(serialization.Encoding.DER), signature)
    cert = x509.load_der_x509_certificate(der)
    _check(issuer_public, algorithm, cert.tbs_certificate_bytes, cert.signature)
    return cert


def _check(public: Any, algorithm: str, data: bytes, signature: bytes) -> None:
    """Raise unless ``signature`` verifies (a spliced structure is checked before it leaves)."""
    try:
        if algorithm == RSA_PSS:
            public.verify(signature, data, _PSS, hashes.SHA256())
        else:
            public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:  # pragma: no cover - the custodian signed with another key than the certified one
        raise KeyStateError("the signature does not verify with the CA's certified key: nothing was issued") from None


def _stand_in(ca: x509.Certificate, algorithm: str) -> x509.Certificate:
    """A certificate with the CA's name and the throwaway key, never published.

    pyca's OCSP builder names its responder from a certificate whose key must be the one it signs with. The
    response names the CA by name (RFC 6960 §4.2.1's ``byName``).
    """
    key = _throwaway_key(algorithm)
    builder = _builder(ca.subject, ca.subject, key.public_key(), ca.not_valid_before_utc, ca.not_valid_after_utc)
    return _signed_by_throwaway(builder, algorithm)  # type: ignore[no-any-return]


#: The custodian's operations whose audit records say when a key's version stopped being trustworthy.
_REVOKING = {"invalidate_key": "cessation_of_operation", "mark_compromised": "key_compromise"}


def _derived(kms: KeyCustodian, record: dict[str, Any], info: KeyInfo) -> tuple[datetime, str] | None:
    """``(time, reason)`` if the certified key version is revoked or compromised in the custodian, else ``None``."""
    key_id, version = record["key_id"], record["version"]
    state = dict(info.version_states).get(version, "active")
    if info.state == "compromised" or state == "compromised":
        reason = "ca_compromise" if record.get("ca") else "key_compromise"
        operation = "mark_compromised"
    elif info.state == "revoked" or state == "revoked":
        reason, operation = "cessation_of_operation", "invalidate_key"
    else:
        return None
    return _when(kms, key_id, version, operation) or info.revoked_at or kms._now(), reason


def _when(kms: KeyCustodian, key_id: str, version: int, operation: str) -> datetime | None:
    """When the audit log first recorded ``operation`` succeeding on ``key_id`` (the whole key, or ``version``)."""
    for entry in kms.audit_log:
        same = entry.operation == operation and entry.key_id == key_id and entry.outcome == "ok"
        if same and entry.version in (None, version):
            return entry.time
    return None
