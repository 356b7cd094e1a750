"""Lesson 06 (signatures and trust): four checked exercises, of rising difficulty, and the quiz.

- ``q1`` (recall): sign a message with an Ed25519 key;
- ``q2`` (apply): as a relying party, find which documents the release key really signed;
- ``q3`` (build): sign an audit checkpoint, let the log grow, and hand an auditor what it needs;
- ``q4`` (break): send Mallory into a signed key exchange, and show that she is stopped;
- ``q5`` (apply): sign an audit checkpoint with the post-quantum ML-DSA-65.
"""

from __future__ import annotations

import json

from kmslib.audit import AuditLog
from kmslib.course import rewrite_log
from kmslib.course.exercises import Exercise, Question, Quiz, student_custodian
from kmslib.custodian import KeyCustodian
from kmslib.errors import KMSError
from kmslib.tokens import parse_token

__all__ = ["documents", "q1", "q2", "q3", "q4", "q5", "quiz", "release_public_key"]

# The release team's custodian: its signing key never leaves this module.
_release = KeyCustodian()
_release.generate_signing_key("release", algorithm="ecdsa-p256-sha256")
#: The release key's public half, as published on the project's website.
release_public_key = _release.export_public_key("release")
_forger = KeyCustodian()
_forger.generate_signing_key("release", algorithm="ecdsa-p256-sha256")
_genuine = _release.sign("release", b"kmslib-0.2.0.tar.gz sha256=4f2a...")
#: Three (document, signature) pairs found on a mirror: which did the release key sign?
documents = [
    (b"kmslib-0.2.0.tar.gz sha256=4f2a...", _genuine),
    (b"kmslib-0.2.1.tar.gz sha256=9c1e...", _forger.sign("release", b"kmslib-0.2.1.tar.gz sha256=9c1e...")),
    (b"kmslib-0.2.0.tar.gz sha256=7777...", _genuine),  # a genuine signature, on another document
    (b"kmslib-0.3.0.tar.gz sha256=b0b0...", _release.sign("release", b"kmslib-0.3.0.tar.gz sha256=b0b0...")),
]
_GENUINE = {0, 3}


def _check_q1(kms: object, message: object, signature: object) -> str | None:
    custodian = student_custodian(kms)
    if not isinstance(signature, str):
        return "pass the signature token that sign returns."
    if not isinstance(message, (str, bytes)):
        return "pass the message you signed (str or bytes)."
    if parse_token(signature)[1] != "ed25519":
        return "sign with an Ed25519 key (generate_signing_key's default)."
    for info in custodian.list_keys():
        if info.kind == "signing" and info.active:
            try:
                custodian.verify(info.key_id, message, signature)
            except KMSError:
                continue
            return None
    return "none of your signing keys verifies that signature over that message."


q1 = Exercise(
    1,
    "recall",
    "Make an Ed25519 signing key in `kms`, sign a message of your choice, and pass (kms, message, signature).",
    _check_q1,
    "generate_signing_key(key_id) makes an Ed25519 key; sign(key_id, message) returns the signature token.",
    'kms.generate_signing_key("me")\nmessage = "I, the student, wrote this."\nsignature = kms.sign("me", message)\n'
    "q1.check(kms, message, signature)",
)


def _check_q2(genuine: object) -> str | None:
    if not isinstance(genuine, (list, tuple, set)) or not all(isinstance(i, int) for i in genuine):
        return "pass the indices (ints) of the documents whose signature verifies with release_public_key."
    chosen = set(genuine)
    if 2 in chosen:
        return "document 2 carries a genuine signature, but of another document: a signature covers exact bytes."
    if 1 in chosen:
        return "document 1 is signed by a key that is also called 'release', but it is not the published one."
    if chosen != _GENUINE:
        return "a genuine document is missing: try verify_signature on each of them."
    return None


q2 = Exercise(
    2,
    "apply",
    "You are a relying party with only `release_public_key`. Which of the `documents` (a list of (document, "
    "signature) pairs) did the release key really sign? Pass the list of their indices.",
    _check_q2,
    "verify_signature(release_public_key, document, signature) returns quietly or raises SignatureError.",
    """genuine = []
for index, (document, signature) in enumerate(documents):
    try:
        verify_signature(release_public_key, document, signature)
    except SignatureError:
        continue
    genuine.append(index)
q2.check(genuine)""",
)


def _check_q3(checkpoint: object, export: object, public_key: object) -> str | None:
    if not (isinstance(checkpoint, str) and isinstance(export, str) and isinstance(public_key, str)):
        return "pass three strings: the checkpoint, the exported log, and the signing key's public PEM."
    if not AuditLog.verify_jsonl(export, checkpoint=checkpoint, public_key=public_key):
        return (
            "the export does not verify against the checkpoint with that public key: export the same custodian's log."
        )
    entries = [json.loads(line) for line in export.splitlines() if line.strip()]
    signed = int(checkpoint.split(":")[2])
    if len(entries) < signed + 3:
        return "let the log grow by a few operations after the checkpoint, then export it."
    if signed == 0:
        return "sign the checkpoint after a few operations, so that it vouches for something."
    forged = rewrite_log(export, 0, operation="key_info")
    if AuditLog.verify_jsonl(forged, checkpoint=checkpoint, public_key=public_key):  # pragma: no cover
        return "a forged log passes: that should be impossible."
    return None


q3 = Exercise(
    3,
    "build",
    "In a custodian of your own: make a signing key, do some operations, sign an audit checkpoint, do a few more, and "
    "export the log. Pass (checkpoint, export, public key PEM): an auditor holding only these must be able to check.",
    _check_q3,
    "sign_audit_checkpoint(key_id) signs the head; export_public_key gives the PEM; to_jsonl exports the log.",
    """auditing = KeyCustodian()
auditing.generate_signing_key("auditor")
auditing.establish_aes_key("data")
auditing.encrypt_data_aes("data", "before")
checkpoint = auditing.sign_audit_checkpoint("auditor")
for day in ("mon", "tue", "wed"):
    auditing.encrypt_data_aes("data", day)
q3.check(checkpoint, auditing.audit_log.to_jsonl(), auditing.export_public_key("auditor"))""",
)


def _check_q4(form: object) -> str | None:
    from kmslib.widgets import DHExchangeForm  # noqa: PLC0415 - only this exercise needs the forms

    if not isinstance(form, DHExchangeForm):
        return f"pass the DHExchangeForm you ran, not {type(form).__name__}."
    if not form.sign_switch.value or not form.mallory_switch.value:
        return "switch both on: 'Sign the public keys' and 'Mallory in the middle', then generate and exchange."
    if not form._intercepted:
        return "Mallory must be on the wire during the exchange: switch her on before step 2."
    bob_kept = "shared" in form.bob and form.bob.key_info("shared").active  # a hybrid's Bob revokes his
    if form._derived or "shared" in form.alice or bob_kept:
        return "a key was derived: check the signatures before deriving (step 3 does, with signing on)."
    if "The exchange stops" not in form.match.value:
        return "run step 3 (derive): it checks the signatures and stops the exchange."
    return None


q4 = Exercise(
    4,
    "break",
    "Send Mallory into a signed exchange: in a DHExchangeForm with 'Sign the public keys' and 'Mallory in the middle' "
    "both on, generate, exchange and derive. Pass the form: no key may have been derived.",
    _check_q4,
    "form.sign_switch.value = True and form.mallory_switch.value = True, then form.generate(), form.exchange(), "
    "form.derive().",
    """form = DHExchangeForm()
form.sign_switch.value = True
form.mallory_switch.value = True
form.generate()
form.exchange()
form.derive()
q4.check(form)""",
)


def _check_q5(checkpoint: object, export: object, public_key: object) -> str | None:
    if isinstance(checkpoint, str) and ":kms:v" in checkpoint:
        algorithm = checkpoint[checkpoint.rfind(":kms:v") + 1 :].split(":")[2]
        if algorithm != "ml-dsa-65":
            return f"the checkpoint is signed with {algorithm}: sign it with an ml-dsa-65 key."
    return _check_q3(checkpoint, export, public_key)


q5 = Exercise(
    5,
    "apply",
    "Do exercise 3 again with a post-quantum signing key (algorithm='ml-dsa-65'). Pass (checkpoint, export, public "
    "key PEM).",
    _check_q5,
    "generate_signing_key(key_id, algorithm='ml-dsa-65'); everything else is as in exercise 3.",
    """pq = KeyCustodian()
pq.generate_signing_key("auditor", algorithm="ml-dsa-65")
pq.establish_aes_key("data")
pq.encrypt_data_aes("data", "before")
checkpoint = pq.sign_audit_checkpoint("auditor")
for day in ("mon", "tue", "wed"):
    pq.encrypt_data_aes("data", day)
q5.check(checkpoint, pq.audit_log.to_jsonl(), pq.export_public_key("auditor"))""",
)


quiz = Quiz(
    Question(
        "A signature verifies with Alice's public key. What does that prove?",
        {
            "a": "The holder of the matching private key signed exactly these bytes",
            "b": "The message was kept secret",
            "c": "The person called Alice sent it",
        },
        "a",
        "A signature hides nothing. Which person holds the key is for a certificate, or an out-of-band check of the "
        "public key, to say.",
    ),
    Question(
        "What happens if ECDSA signs two messages with the same secret nonce k?",
        {"a": "Anyone can compute the private key", "b": "The signatures are slightly weaker", "c": "Nothing"},
        "a",
        "Two equations in the same k give k, and then the private key: how the PlayStation 3's signing key was "
        "recovered in 2010. RFC 6979 derives k deterministically; Ed25519 does so by design (RFC 8032).",
    ),
    Question(
        "Which of these signature schemes is deterministic: the same key and message always give the same signature?",
        {"a": "Ed25519", "b": "RSA-PSS", "c": "ECDSA as pyca/cryptography does it"},
        "a",
        "Ed25519 derives its nonce from the key and the message (RFC 8032). RSA-PSS draws a random salt; pyca's ECDSA "
        "draws a random k.",
    ),
    Question(
        "An auditor checks an exported log against a signed checkpoint. What can she detect?",
        {
            "a": "Any entry up to the checkpoint edited, removed, reordered or re-chained",
            "b": "Any change at all, including entries after the checkpoint",
            "c": "Only changes to the last entry",
        },
        "a",
        "The checkpoint signs the head at that point. Entries after it are growth: nothing vouches for them until the "
        "next checkpoint, which is why CT logs publish signed tree heads regularly (RFC 9162).",
    ),
)
