"""RelyingPartyForm: one signed message judged by three relying parties (the bare key, CRLs, OCSP).

Driven through its plain methods (``Button.click`` swallows a handler's errors), read from its widgets.
"""

from __future__ import annotations

from typing import Any

import pytest

from kmslib import ArgumentTypeError, KeyCustodian
from kmslib.course.certificates import CertificateWorld, certificate_world


@pytest.fixture
def world() -> CertificateWorld:
    return certificate_world()


def make(world: CertificateWorld, **samples: tuple[str, str, str]) -> Any:
    from kmslib.widgets import RelyingPartyForm

    chosen = samples or {"invoice": (world.message, world.signature, world.certificate)}
    return RelyingPartyForm(world.root, world.ca, chosen)


def test_the_sample_fills_the_fields(world: CertificateWorld) -> None:
    form = make(world)
    assert form.message.value == world.message
    assert form.signature.value == world.signature
    assert form.certificate.value == world.certificate
    assert form.source.value == "pem"


@pytest.mark.parametrize("source", ["pem", "crl", "ocsp"])
def test_a_good_signer_is_accepted_by_each_relying_party(world: CertificateWorld, source: str) -> None:
    form = make(world)
    said = form.verify(source)
    assert said.startswith("Accepted")
    assert 'role="status"' in form.status.value
    assert "What this relying party checked" in form.why.value


def test_after_a_compromise_the_bare_key_is_fooled_and_the_others_refuse(world: CertificateWorld) -> None:
    form = make(world)
    world.kms.mark_compromised("invoices", reason="laptop stolen")
    fooled = form.verify("pem")
    assert fooled.startswith("Accepted, and fooled")
    assert "key_compromise" in fooled
    assert 'role="alert"' in form.status.value
    assert "Fooled" in form.status.value
    for source in ("crl", "ocsp"):
        said = form.verify(source)
        assert said.startswith("Refused")
        assert "revoked" in said
        assert "key_compromise" in said
        assert "The relying party refuses" in form.status.value
        assert 'role="alert"' in form.status.value


def test_a_changed_message_is_refused_by_all(world: CertificateWorld) -> None:
    form = make(world)
    form.message.value = world.message + " (paid twice)"
    for source in ("pem", "crl", "ocsp"):
        assert form.verify(source).startswith("Refused"), source


def test_a_pasted_certificate_that_is_not_one_is_an_error_in_the_form(world: CertificateWorld) -> None:
    form = make(world)
    form.certificate.value = "hello"
    said = form.verify("crl")
    assert "not one PEM certificate" in said
    assert "Invalid input" in form.status.value
    assert form.why.value == ""
    form.choose("invoice")  # the form keeps working
    assert form.verify("crl").startswith("Accepted")


def test_an_unknown_source_or_sample_is_refused(world: CertificateWorld) -> None:
    form = make(world)
    assert "status source" in form.verify("telepathy")
    form.choose("nothing")
    assert "choose one of the samples" in form.status.value


def test_a_certificate_from_another_pki_is_untrusted(world: CertificateWorld) -> None:
    other = certificate_world()
    form = make(world, stranger=(other.message, other.signature, other.certificate))
    assert "untrusted" in form.verify("crl")


def test_a_huge_paste_is_refused_unread(world: CertificateWorld) -> None:
    form = make(world)
    form.message.value = "x" * 30_000
    assert "at most" in form.verify("crl")


def test_bad_construction_is_a_typed_error(world: CertificateWorld) -> None:
    from kmslib.widgets import RelyingPartyForm

    with pytest.raises(ArgumentTypeError):
        RelyingPartyForm(KeyCustodian(), world.ca, {})  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError):
        RelyingPartyForm(world.root, world.ca, {"x": ("only two", "parts")})  # type: ignore[dict-item]


def test_the_buttons_call_the_methods(world: CertificateWorld) -> None:
    form = make(world)
    form.source.value = "crl"
    form.verify_button.click()
    assert "Accepted" in form.status.value
    form.message.value = "edited"
    form.choose_button.click()
    assert form.message.value == world.message


def test_the_form_has_its_class_and_labels(world: CertificateWorld) -> None:
    form = make(world)
    assert "kmslib-relying-party-form" in form.widget._dom_classes
    labels = {getattr(child, "description", "") for child in form.widget.children}
    assert {"Sample", "Message", "Signature", "Certificate (PEM)", "Status source"} <= labels
