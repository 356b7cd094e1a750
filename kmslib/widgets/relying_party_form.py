"""``RelyingPartyForm``: a signed message checked as a relying party would, with the status source it consults.

Choose (or paste) a message, its signature and the signer's certificate, choose what the relying party
consults, and :meth:`RelyingPartyForm.verify` gives its verdict and why:

- ``"pem"``: the public key alone, taken from the certificate (``kmslib.verify_signature(pem, ...)``). Nothing
  in a bare key says that it was revoked: this relying party accepts a revoked signer's signatures, and the
  form says so when the CA has revoked the certificate;
- ``"crl"``: the chain to the root, and each CA's certificate revocation list (RFC 5280 §5), fetched fresh;
- ``"ocsp"``: the chain, and an OCSP response (RFC 6960) from each certificate's issuer, asked now.

The last two call ``kmslib.verify_signature(None, ..., certificate=..., trust_anchor=..., intermediates=...,
crl=... or ocsp=..., at=...)``, the check a relying party makes; its refusal says why (revoked, with reason and
time; expired; untrusted; no status).
"""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as w
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from kmslib.errors import ArgumentTypeError, InvalidInputError, KMSError, SignatureError
from kmslib.pki import CertificateAuthority
from kmslib.signing import verify_signature
from kmslib.widgets._common import Form, error_title, labelled, make_button, status_html

__all__ = ["SOURCES", "RelyingPartyForm"]

#: What the relying party may consult, by name, as the form offers it.
SOURCES = {
    "pem": "the public key only (no certificate, no status)",
    "crl": "the certificate chain and the CAs' revocation lists (CRL)",
    "ocsp": "the certificate chain and OCSP (each issuer asked now)",
}
_LONGEST = 20_000  # characters read from a pasted field


def _certificate(text: str) -> x509.Certificate:
    if len(text) > _LONGEST:
        raise InvalidInputError(f"the certificate is {len(text):,} characters; the form reads at most {_LONGEST:,}")
    try:
        return x509.load_pem_x509_certificate(text.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise InvalidInputError("the certificate is not one PEM certificate (-----BEGIN CERTIFICATE-----)") from None


class RelyingPartyForm(Form):
    """Check a signed message as a relying party, consulting the public key alone, CRLs or OCSP.

    Buttons call plain methods: :meth:`choose` fills the fields from a sample, :meth:`verify` gives the
    verdict in the status line (``role="status"``, or ``role="alert"`` for a refusal or a fooled relying party).

    Args:
        root: the root CA: its certificate is the relying party's trust anchor.
        issuing: the CA that issued the signers' certificates (certified by ``root``).
        samples: signed messages to choose from, by name: ``(message, signature token, certificate PEM)``.

    Raises:
        ArgumentTypeError: ``root`` or ``issuing`` is not a CA, or ``samples`` not a mapping of triples.
    """

    def __init__(
        self,
        root: CertificateAuthority,
        issuing: CertificateAuthority,
        samples: Mapping[str, tuple[str, str, str]],
    ) -> None:
        for name, value in (("root", root), ("issuing", issuing)):
            if not isinstance(value, CertificateAuthority):
                raise ArgumentTypeError(f"{name} must be a kmslib.CertificateAuthority, not {type(value).__name__}")
        if not isinstance(samples, Mapping) or not all(
            isinstance(v, tuple) and len(v) == 3 and all(isinstance(p, str) for p in v) for v in samples.values()
        ):
            raise ArgumentTypeError("samples must map names to (message, signature, certificate PEM) triples of str")
        super().__init__()
        self.root, self.issuing, self.samples = root, issuing, dict(samples)
        self.sample = w.Dropdown(options=list(self.samples), value=next(iter(self.samples), None))
        self.message = w.Textarea(value="", rows=2, layout=w.Layout(width="100%"))
        self.signature = w.Text(value="", layout=w.Layout(width="100%"))
        self.certificate = w.Textarea(value="", rows=4, layout=w.Layout(width="100%"))
        self.source = w.Dropdown(options=[(label, key) for key, label in SOURCES.items()], value="pem")
        self.why = w.HTML(value="")
        self.choose_button = make_button("Use this sample", "", "folder-open")
        self.verify_button = make_button("Verify as the relying party", "primary", "check")
        self._on_click(self.choose_button, self.choose)
        self._on_click(self.verify_button, self.verify)
        if self.sample.value is not None:
            self.choose(quiet=True)
        self._assemble(
            "kmslib-relying-party-form",
            [
                w.HTML(
                    "<h4>A relying party: is this signature to be trusted?</h4>"
                    "<p>Choose a signed message (or paste one), choose what the relying party consults, and verify.</p>"
                ),
                labelled("Sample", self.sample),
                self.choose_button,
                labelled("Message", self.message),
                labelled("Signature", self.signature),
                labelled("Certificate (PEM)", self.certificate),
                labelled("Status source", self.source),
                self.verify_button,
                self.status,
                self.why,
            ],
            parts=("sample", "message", "signature", "certificate", "source", "why", "choose_button", "verify_button"),
        )

    def choose(self, name: str | None = None, *, quiet: bool = False) -> None:
        """Fill the message, signature and certificate from the sample ``name`` (or the one chosen)."""
        chosen = self.sample.value if name is None else name
        if chosen not in self.samples:
            self._fail(InvalidInputError("choose one of the samples"))
            return
        self.sample.value = chosen
        self.message.value, self.signature.value, self.certificate.value = self.samples[chosen]
        self.why.value = ""
        if not quiet:
            self._info(f"sample {chosen!r}: its message, signature and certificate are in the fields below")

    def verify(self, source: str | None = None) -> str:
        """Verify the fields' signature as a relying party consulting ``source`` (or the one chosen).

        Returns:
            The verdict shown in the status line.
        """
        how = self.source.value if source is None else source
        try:
            if how not in SOURCES:
                raise InvalidInputError(f"the status source is one of {', '.join(SOURCES)}")
            if len(self.message.value) > _LONGEST or len(self.signature.value) > _LONGEST:
                raise InvalidInputError(f"the form reads at most {_LONGEST:,} characters of a message or signature")
            self.source.value = how
            certificate = _certificate(self.certificate.value)
            message, signature = self.message.value, self.signature.value.strip()
            if how == "pem":
                return self._bare(certificate, message, signature)
            sources = self._sources(certificate, how)
            verify_signature(
                None,
                message,
                signature,
                certificate=self.certificate.value,
                trust_anchor=self.root.certificate,
                intermediates=[self.issuing.certificate],
                at=self.issuing.now(),
                **sources,  # type: ignore[arg-type]
            )
        except SignatureError as exc:
            said = f"Refused: {exc}"
            self.status.value = status_html("error", str(exc), title="The relying party refuses")
            self.why.value = self._consulted(how)
            return said
        except KMSError as exc:
            self._fail(exc)
            self.why.value = ""
            return f"{error_title(exc)}: {exc}"
        said = "Accepted: the chain builds to the root, each certificate's status is good, and the signature verifies"
        self._ok(said)
        self.why.value = self._consulted(how)
        return said

    def _bare(self, certificate: x509.Certificate, message: str, signature: str) -> str:
        """The relying party with the public key alone: it checks the signature and nothing else."""
        pem = certificate.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        try:
            verify_signature(pem, message, signature)
        except SignatureError as exc:
            self.status.value = status_html("error", str(exc), title="The relying party refuses")
            self.why.value = self._consulted("pem")
            return f"Refused: {exc}"
        truth = self._revoked(certificate)
        self.why.value = self._consulted("pem")
        if truth is not None:
            said = (
                f"Accepted, and fooled: the signature verifies with the public key, but the CA revoked this "
                f"certificate ({truth}). Nothing in a bare public key says so."
            )
            self.status.value = status_html("error", said, title="Fooled")
            return said
        said = "Accepted: the signature verifies with the public key (whether the key was revoked, it cannot know)"
        self._ok(said)
        return said

    def _revoked(self, certificate: x509.Certificate) -> str | None:
        """What the issuing CA says of a revoked certificate, or ``None`` (good, or not one it issued)."""
        try:
            status = self.issuing.status(certificate.serial_number)
        except KMSError:
            return None
        if status.revoked_at is None:
            return None
        return f"{status.reason or 'no reason given'}, {status.revoked_at:%Y-%m-%d %H:%M} UTC"

    def _sources(self, certificate: x509.Certificate, how: str) -> dict[str, object]:
        """Fresh status: both CAs' CRLs, or an OCSP response from each certificate's issuer."""
        if how == "crl":
            return {"crl": [self.root.crl(), self.issuing.crl()]}
        middle = x509.load_pem_x509_certificate(self.issuing.certificate.encode("ascii"))
        anchor = x509.load_pem_x509_certificate(self.root.certificate.encode("ascii"))
        responses = []
        for ca, cert, issuer in ((self.issuing, certificate, middle), (self.root, middle, anchor)):
            request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
            responses.append(ca.ocsp_response(request.public_bytes(serialization.Encoding.DER)))
        return {"ocsp": responses}

    @staticmethod
    def _consulted(how: str) -> str:
        checked = {
            "pem": "the signature, with the public key taken from the certificate. Not checked: who certified the "
            "key, whether the certificate is still valid, whether it was revoked.",
            "crl": "the chain to the trust anchor (validity dates, key usage, basic constraints), each "
            "certificate against its issuer's CRL (fresh: nextUpdate not passed), then the signature.",
            "ocsp": "the chain to the trust anchor, each certificate's status in a signed OCSP response from its "
            "issuer (fresh, about that very certificate), then the signature.",
        }[how]
        return f'<p class="kmslib-why-text"><b>What this relying party checked:</b> {checked}</p>'
