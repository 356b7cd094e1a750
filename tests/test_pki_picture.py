"""The certificate chain picture (lesson 11): each certificate's status in words, a revoked one red and crossed."""

from __future__ import annotations

from cryptography import x509

from kmslib import KeyCustodian
from kmslib.course import pictures
from kmslib.pki import CertificateAuthority


def chain(kms: KeyCustodian) -> tuple[CertificateAuthority, CertificateAuthority, int]:
    for key_id in ("root", "issuing", "invoices"):
        kms.generate_signing_key(key_id, algorithm="ecdsa-p256-sha256")
    root = CertificateAuthority.create_root(kms, "root", subject="CN=Example Root CA", days=3650)
    ca = root.create_intermediate("issuing", subject="CN=Example Issuing CA", days=1000)
    leaf = x509.load_pem_x509_certificate(ca.issue("invoices", subject="CN=Invoices", days=90).encode())
    return root, ca, leaf.serial_number


def texts(figure: object) -> list[str]:
    return [t.get_text() for t in figure.axes[0].texts]  # type: ignore[attr-defined]


def test_a_good_chain_says_good_and_names_each_certificate(kms: KeyCustodian) -> None:
    words = texts(pictures.certificate_chain(*chain(kms)))
    joined = " ".join(words)
    for name in ("CN=Example Root CA", "CN=Example Issuing CA", "CN=Invoices"):
        assert name in joined
    assert "REVOKED" not in joined
    assert sum(word.startswith("good") for word in words) == 2
    assert "trust anchor" in joined


def test_a_revoked_leaf_is_marked_in_words_and_colour(kms: KeyCustodian) -> None:
    root, ca, serial = chain(kms)
    kms.mark_compromised("invoices", reason="laptop stolen")
    figure = pictures.certificate_chain(root, ca, serial)
    revoked = [t for t in figure.axes[0].texts if "REVOKED" in t.get_text()]
    assert len(revoked) == 1
    assert "key_compromise" in revoked[0].get_text()
    assert "✘" in revoked[0].get_text()
    assert revoked[0].get_color() == "#b91c1c"
    edges = [p.get_edgecolor() for p in figure.axes[0].patches if hasattr(p, "get_boxstyle")]
    assert sum(edge[0] > 0.6 and edge[1] < 0.2 for edge in edges) == 1  # one red box


def test_a_revoked_intermediate_is_the_one_marked(kms: KeyCustodian) -> None:
    root, ca, serial = chain(kms)
    root.revoke(x509.load_pem_x509_certificate(ca.certificate.encode()).serial_number, reason="ca_compromise")
    words = [w for w in texts(pictures.certificate_chain(root, ca, serial)) if "REVOKED" in w]
    assert len(words) == 1
    assert "ca_compromise" in words[0]
