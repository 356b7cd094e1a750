"""Lesson 11 (certificates and revocation): four checkers, judged on certificates, CRLs and relying parties.

Each exercise: the published solution passes, two other correct answers pass, lazy or confused wrong answers are
refused with a message that says where to look (no Python internals), and checking again gives the same verdict.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from cryptography import x509
from test_lessons import right, run_solution, wrong

from kmslib import SignatureError, verify_signature
from kmslib.course import lesson11
from kmslib.course.certificates import certificate_lab, certificate_world, naive_relying_party
from kmslib.course.lesson11 import SOURCES, q1, q2, q3, q4, quiz


def solution(exercise: Any, **names: Any) -> dict[str, Any]:
    common = {
        "x509": x509,
        "certificate_lab": certificate_lab,
        "naive_relying_party": naive_relying_party,
        "verify_signature": verify_signature,
        "SignatureError": SignatureError,
    }
    return run_solution(lesson11, exercise, **common, **names)


def serial_of(pem: str) -> int:
    return x509.load_pem_x509_certificate(pem.encode()).serial_number


# ---------------------------------------------------------------- q1


def test_q1_solution_and_other_spellings_pass() -> None:
    solution(q1)
    right(q1, {1, 2})
    right(q1, [2, 1])
    right(q1, (1, 2, 2))


def test_q1_fractions_or_text_are_said_to_be_the_items_fault() -> None:
    wrong(q1, {1.0, 2.0}, because="whole numbers", not_="not set")
    wrong(q1, ["1", "2"], because="whole numbers", not_="not list")


def test_q1_wrong_answers_say_why() -> None:
    wrong(q1, {0, 1, 2}, because="bare public key")
    wrong(q1, {1, 2, 3}, because="signed once, when it is issued")
    wrong(q1, {1, 2, 4}, because="stale")
    wrong(q1, {1, 2, 5}, because="another certificate")
    wrong(q1, {1}, because="a source is missing")
    wrong(q1, set(range(len(SOURCES))), because="every source?")
    wrong(q1, "1, 2", because="in a list or set, not str")
    wrong(q1, {7}, because="there is no source 7")
    wrong(q1, {True}, because="whole numbers")


# ---------------------------------------------------------------- q2


def test_q2_solution_passes() -> None:
    world = certificate_world()
    namespace = solution(q2, world=world)
    right(q2, world, namespace["pem"])


def test_q2_other_correct_answers_pass() -> None:
    world = certificate_world()
    world.kms.generate_signing_key("contracts", algorithm="ecdsa-p256-sha256")
    plain = world.ca.issue("contracts", subject="CN=contracts,O=kmslib course", days=30, key_usage="digital_signature")
    right(q2, world, plain)
    both = world.ca.issue(
        "contracts",
        subject="CN=contracts,O=kmslib course",
        days=30,
        key_usage=("digital_signature", "content_commitment"),
    )
    right(q2, world, both)
    right(q2, world, "\n" + plain + "\n")  # pasted with blank lines around it


def test_q2_wrong_answers_say_where_to_look() -> None:
    world = certificate_world()
    wrong(q2, world, world.certificate, because="holds no key 'contracts'")  # before making the key
    world.kms.generate_signing_key("contracts", algorithm="ecdsa-p256-sha256")
    wrong(q2, world, world.certificate, because="names another key")  # the invoices certificate, reused
    wrong(q2, world, world.ca.certificate, because="the root issued")  # the CA's own certificate
    wrong(q2, world, world.root.certificate, because="the root issued")  # the root's own, self-signed
    subject = "CN=contracts,O=kmslib course"
    enciphers = world.ca.issue("contracts", subject=subject, days=30, key_usage="key_encipherment")
    wrong(q2, world, enciphers, because="lacks digital_signature")
    extra = world.ca.issue("contracts", subject=subject, days=30, key_usage=("digital_signature", "key_agreement"))
    wrong(q2, world, extra, because="also allows key_agreement")
    longer = world.ca.issue("contracts", subject=subject, days=90)
    wrong(q2, world, longer, because="valid for 90 days")
    misnamed = world.ca.issue("contracts", subject="CN=invoices,O=evil", days=30)  # the right key, another name
    wrong(q2, world, misnamed, because="the contracts team asked for 'CN=contracts,O=kmslib course'")
    wrong(q2, world, world, because="PEM text")  # the same object twice
    rsa = certificate_world()
    rsa.kms.generate_signing_key("contracts", algorithm="rsa-pss-sha256")  # another algorithm than asked
    wrong(q2, rsa, rsa.ca.issue("contracts", subject=subject, days=30), because="not an ecdsa-p256-sha256 key")
    other = certificate_world()  # another course PKI: same names, other keys
    other.kms.generate_signing_key("contracts", algorithm="ecdsa-p256-sha256")
    foreign = other.ca.issue("contracts", subject="CN=contracts", days=30)
    wrong(q2, world, foreign, because="did not sign")
    wrong(q2, world, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", because="not a PEM certificate")
    wrong(q2, world, x509.load_pem_x509_certificate(longer.encode()), because="PEM text")
    wrong(q2, SimpleNamespace(kms=world.kms, ca=world.ca, root=world.root), longer, because="certificate_world()")
    wrong(q2, world, world.kms.export_public_key("contracts"), because="not a PEM certificate")


# ---------------------------------------------------------------- q3


def issued(world: Any) -> str:
    world.kms.generate_signing_key("contracts", algorithm="ecdsa-p256-sha256")
    return str(world.ca.issue("contracts", subject="CN=contracts,O=kmslib course", days=30))


def test_q3_solution_passes() -> None:
    world = certificate_world()
    pem = issued(world)
    namespace = solution(q3, world=world, pem=pem)
    right(q3, world, namespace["serial"], namespace["crl_pem"])


def test_q3_other_correct_answers_pass() -> None:
    world = certificate_world()
    serial = serial_of(issued(world))
    world.kms.mark_compromised("contracts", reason="laptop stolen")  # the certificate follows the key
    right(q3, world, serial, world.ca.crl())
    second = certificate_world()
    serial_2 = serial_of(issued(second))
    second.ca.revoke(serial_2, reason="key_compromise")
    second.ca.crl()
    right(q3, second, serial_2, second.ca.crl(next_update=__import__("datetime").timedelta(hours=12)))


def test_q3_wrong_answers_say_where_to_look() -> None:
    world = certificate_world()
    serial = serial_of(issued(world))
    early = world.ca.crl()  # made before the revocation: an earlier attempt
    wrong(q3, world, serial, early, because="not revoked yet")
    wrong(q3, world, world.serial, early, because="revoke the one of 'contracts'")
    wrong(q3, world, 12345, early, because="issued no certificate with that serial")
    wrong(q3, world, str(serial), early, because="an int")
    world.ca.revoke(serial, reason="superseded")
    wrong(q3, world, serial, world.ca.crl(), because="key may be in a thief's hands")
    retired = certificate_world()
    serial_3 = serial_of(issued(retired))
    retired.kms.invalidate_key("contracts", reason="stolen")  # the key revoked: cessation of operation, derived
    wrong(q3, retired, serial_3, retired.ca.crl(), because="Mark the key compromised")
    again = certificate_world()
    serial_2 = serial_of(issued(again))
    stale_before = again.ca.crl()
    again.ca.revoke(serial_2, reason="key_compromise")
    wrong(q3, again, serial_2, stale_before, because="made before the revocation")
    wrong(q3, again, serial_2, again.root.crl(), because="the root's CRL")
    wrong(q3, again, serial_2, world.ca.crl(), because="did not sign that CRL")  # another PKI's CA, same name
    wrong(q3, again, serial_2, serial_2, because="PEM text")  # the same value twice
    wrong(q3, again, serial_2, "a CRL", because="not a PEM CRL")
    twice = certificate_world()
    first = serial_of(issued(twice))
    second = serial_of(str(twice.ca.issue("contracts", subject="CN=contracts,O=kmslib course", days=30)))
    twice.ca.revoke(second, reason="key_compromise")  # exercise 2 run twice: only the newer certificate revoked
    wrong(q3, twice, second, twice.ca.crl(), because="1 more certificate(s) still good")
    twice.ca.revoke(first, reason="key_compromise")
    right(q3, twice, second, twice.ca.crl())


# ---------------------------------------------------------------- q4


def caught(lab: Any) -> SignatureError:
    try:
        verify_signature(
            None,
            lab.message,
            lab.signature,
            certificate=lab.certificate,
            trust_anchor=lab.root.certificate,
            intermediates=[lab.ca.certificate],
            crl=[lab.root.crl(), lab.ca.crl()],
            at=lab.ca.now(),
        )
    except SignatureError as error:
        return error
    raise AssertionError("the receipt verified")


def test_q4_solution_passes() -> None:
    namespace = solution(q4)
    right(q4, namespace["lab"], namespace["accepted"], namespace["error"])


def test_q4_other_correct_answers_pass() -> None:
    from kmslib.course.certificates import ocsp_request

    lab = certificate_lab()
    lab.ca.revoke(lab.serial, reason="key_compromise")  # the certificate revoked directly
    right(q4, lab, naive_relying_party(lab, lab.message, lab.signature, lab.certificate), caught(lab))
    other = certificate_lab()
    other.kms.mark_compromised("receipts", reason="laptop stolen")
    with pytest.raises(SignatureError) as by_ocsp:  # OCSP instead of CRLs refuses in the same words
        verify_signature(
            None,
            other.message,
            other.signature,
            certificate=other.certificate,
            trust_anchor=other.root.certificate,
            intermediates=[other.ca.certificate],
            ocsp=[
                other.ca.ocsp_response(ocsp_request(other.certificate, other.ca.certificate)),
                other.root.ocsp_response(ocsp_request(other.ca.certificate, other.root.certificate)),
            ],
            at=other.ca.now(),
        )
    right(q4, other, True, by_ocsp.value)


def test_q4_wrong_answers_say_where_to_look() -> None:
    lab = certificate_lab()
    before = caught_or_none(lab)  # before the compromise: no error at all
    assert before is None
    wrong(q4, lab, True, SignatureError("revoked"), because="not revoked yet")
    lab.kms.mark_compromised("receipts", reason="laptop stolen")
    error = caught(lab)
    wrong(q4, lab, False, error, because="does accept the receipt")
    wrong(q4, lab, "True", error, because="True or False")
    wrong(q4, lab, True, SignatureError("revoked"), because="made by hand")
    wrong(q4, lab, True, SignatureError(str(error)), because="made by hand")  # the right words, copied
    try:
        raise SignatureError(str(error))
    except SignatureError as raised_by_hand:
        wrong(q4, lab, True, raised_by_hand, because="made by hand")
    with pytest.raises(SignatureError) as bare:  # the bare-key check's error, raised by kmslib
        verify_signature(lab.root.certificate, lab.message, lab.signature)  # not a public key PEM
    wrong(q4, lab, True, bare.value, because="for another reason")
    wrong(q4, lab, True, "the certificate was revoked", because="SignatureError")
    wrong(q4, lab, True, None, because="SignatureError")
    world = certificate_world()
    world.kms.mark_compromised("invoices", reason="x")
    wrong(q4, world, True, caught(world), because="certificate_lab()")  # the lesson's world, not the lab
    wrong(q4, SimpleNamespace(ca=lab.ca), True, error, because="certificate_lab()")
    other = certificate_lab()  # another lab's error, caught the same way: another certificate
    other.kms.mark_compromised("receipts", reason="laptop stolen")
    wrong(q4, lab, True, caught(other), because="for another reason")
    superseded = certificate_lab()
    superseded.ca.revoke(superseded.serial, reason="superseded")  # revoked, but not for what happened
    wrong(q4, superseded, True, caught(superseded), because="reason superseded")


def caught_or_none(lab: Any) -> SignatureError | None:
    try:
        return caught(lab)
    except AssertionError:
        return None


# ---------------------------------------------------------------- the quiz


def test_the_quiz_has_one_right_answer_each() -> None:
    for number, answer in enumerate(("b", "b", "a", "b"), 1):
        assert quiz.answer(number, answer)
        assert not quiz.answer(number, "c")
