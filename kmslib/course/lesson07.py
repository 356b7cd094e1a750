"""Lesson 07 (signatures and trust): six checked exercises and the quiz.

- ``q1`` (recall): sign a message with an Ed25519 key;
- ``q2`` (apply): as a relying party, find which documents the release key really signed;
- ``q3`` (build): sign an audit checkpoint, let the log grow, and hand an auditor what it needs;
- ``q4`` (break): send Mallory into a signed key exchange, and show that she is stopped;
- ``q5`` (apply): sign an audit checkpoint with the post-quantum ML-DSA-65;
- ``q6`` (break): recover an ECDSA private key from two signatures that reused one nonce.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from kmslib.audit import AuditLog
from kmslib.course import rewrite_log
from kmslib.course.exercises import Exercise, Question, Quiz, indices, kind, student_custodian, whole
from kmslib.custodian import KeyCustodian
from kmslib.errors import KMSError
from kmslib.tokens import parse_token

__all__ = [
    "P256_ORDER",
    "documents",
    "q1",
    "q2",
    "q3",
    "q4",
    "q5",
    "q6",
    "quiz",
    "release_public_key",
    "reused_nonce_public_key",
    "reused_nonce_signatures",
]

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
    try:
        algorithm = parse_token(signature)[1]
    except KMSError:
        return "that is not a signature token: pass what sign returned."
    if algorithm != "ed25519":
        return "sign with an Ed25519 key (generate_signing_key's default)."
    if _is_lesson_example(custodian):
        return "that is the lesson's own example (its kms): make a key in a custodian of your own, my_kms, and sign."
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
    "Make an Ed25519 signing key in `my_kms`, sign a message of your choice, and pass (my_kms, message, signature).",
    _check_q1,
    "generate_signing_key(key_id) makes an Ed25519 key; sign(key_id, message) returns the signature token.",
    'my_kms = KeyCustodian()\nmy_kms.generate_signing_key("me")\nmessage = "I, the student, wrote this."\n'
    'signature = my_kms.sign("me", message)\nq1.check(my_kms, message, signature)',
)


def _check_q2(genuine: object) -> str | None:
    chosen = indices(genuine)
    if chosen is None:
        return "pass the indices (ints) of the documents whose signature verifies with release_public_key."
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


#: What the lesson's own example (the notebook's ``kms``) did before its checkpoint: (operation, key id, outcome).
_LESSON_EXAMPLE = (
    ("generate_signing_key", "release", "ok"),
    ("sign", "release", "ok"),
    ("verify", "release", "ok"),
    ("verify", "release", "SignatureError"),
    ("export_public_key", "release", "ok"),
    ("establish_aes_key", "records", "ok"),
    ("encrypt_data_aes", "records", "ok"),
    ("encrypt_data_aes", "records", "ok"),
)
#: How many of those entries the notebook's first cell makes (sign, verify, and a refused verify).
_FIRST_CELL = 4
#: Entries that are no operation a checkpoint vouches for: making the signing key, publishing its public half.
_NOT_WORK = ("generate_signing_key", "export_public_key")


def _is_lesson_example(custodian: KeyCustodian) -> bool:
    """Whether ``custodian`` is the notebook's ``kms``: its log begins as the lesson's first cell left it."""
    return _begins_as_lesson([(e.operation, e.key_id, e.outcome) for e in custodian.audit_log[:_FIRST_CELL]])


def _begins_as_lesson(story: Sequence[tuple[object, ...]]) -> bool:
    """Whether a log's (operation, key id, outcome) begin as the notebook's first cell left its ``kms``.

    Only the first cell: a later cell run twice (or not at all) changes what follows, not this.
    """
    return tuple(story[:_FIRST_CELL]) == _LESSON_EXAMPLE[:_FIRST_CELL]


def _check_q3(checkpoint: object, export: object, public_key: object) -> str | None:
    if not (isinstance(checkpoint, str) and isinstance(export, str) and isinstance(public_key, str)):
        return "pass three strings: the checkpoint, the exported log, and the signing key's public PEM."
    if not AuditLog.verify_jsonl(export, checkpoint=checkpoint, public_key=public_key):
        return (
            "the export does not verify against the checkpoint with that public key: export the same custodian's log."
        )
    entries = [json.loads(line) for line in export.splitlines() if line.strip()]
    story = tuple((entry["operation"], entry["key_id"], entry["outcome"]) for entry in entries)
    if _begins_as_lesson(story):
        return "that is the lesson's own example (its kms): make a custodian of your own, as the task asks."
    signed = int(checkpoint.split(":")[2])
    done = [entry for entry in entries[:signed] if entry["outcome"] == "ok" and entry["operation"] not in _NOT_WORK]
    if not done:
        return (
            "nothing was done before the checkpoint but making the signing key: do some operations (encrypt, sign, "
            "...) before the checkpoint, so that it vouches for something."
        )
    if len(entries) < signed + 3:
        return "let the log grow by a few operations after the checkpoint, then export it."
    forged = rewrite_log(export, 0, operation="key_info")
    if AuditLog.verify_jsonl(forged, checkpoint=checkpoint, public_key=public_key):  # pragma: no cover
        return "a forged log passes: that should be impossible."
    return None


q3 = Exercise(
    3,
    "build",
    "In a custodian of your own (not the lesson's `kms`): make a signing key, do some operations, sign an audit "
    "checkpoint, do a few more, and export the log. Pass (checkpoint, export, public key PEM): an auditor holding "
    "only these must be able to check.",
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
    from kmslib.kex import verify_transcript  # noqa: PLC0415 - only this exercise needs the forms
    from kmslib.widgets import DHExchangeForm  # noqa: PLC0415

    if not isinstance(form, DHExchangeForm):
        return f"pass the DHExchangeForm you ran, not {kind(form)}."
    signing = "alice-signing" in form.alice and "bob-signing" in form.bob and bool(form._trusted)
    if not signing or (not form.mallory_switch.value and not form._intercepted):
        return (
            "switch both on before step 1 (generate): 'Sign the public keys' and 'Mallory in the middle'; then "
            "generate, exchange and derive."
        )
    if not form._intercepted:
        return "Mallory must be on the wire during the exchange: switch her on before step 2."
    bob_kept = "shared" in form.bob and form.bob.key_info("shared").active  # a hybrid's Bob revokes his
    if form._derived or "shared" in form.alice or bob_kept:
        return "a key was derived: check the signatures before deriving (step 3 does, with signing on)."
    if form._stopped != "alice":
        return "now run step 3 (derive): with signing on, Alice checks Bob's signature first. Watch what it finds."
    try:  # what Alice checks in step 3: Bob's signature over the exchange as she saw it, with the key she trusts
        verify_transcript(
            form._trusted["alice"], form._transcripts["alice"], form._signatures["alice"], role="responder"
        )
    except KMSError:
        return None
    return "Bob's signature verifies over what Alice saw: Mallory was not in the middle."  # pragma: no cover


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
        fields = checkpoint[checkpoint.rfind(":kms:v") + 1 :].split(":")
        algorithm = fields[2] if len(fields) > 2 else "ml-dsa-65"  # a cut checkpoint: q3's checks say what is wrong
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


#: The order n of P-256's base point G (NIST SP 800-186; SEC 2, secp256r1): ECDSA's arithmetic is modulo n.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _z(message: bytes) -> int:
    """ECDSA's z for P-256 with SHA-256: the digest as an integer (256 bits, as many as n has: nothing is cut)."""
    return int.from_bytes(hashlib.sha256(message).digest(), "big")


def _broken_ecdsa_sign(key: ec.EllipticCurvePrivateKey, message: bytes, k: int) -> bytes:
    """A DELIBERATELY BROKEN ECDSA signer, for teaching only: it signs with the nonce ``k`` it is given.

    pyca/cryptography draws k itself and offers no way to force one, so this computes the signature of
    FIPS 186-5 section 6.4 with plain integers over the key's numbers: r = x(k*G) mod n and
    s = k^-1 (z + r*d) mod n. The point k*G is the public key of the private value k. Never sign like this.

    Returns:
        The DER signature, which pyca's ``verify`` accepts.
    """
    d = key.private_numbers().private_value
    r = ec.derive_private_key(k, ec.SECP256R1()).public_key().public_numbers().x % P256_ORDER
    s = pow(k, -1, P256_ORDER) * (_z(message) + r * d) % P256_ORDER
    return encode_dss_signature(r, s)


def _reused_nonce() -> tuple[ec.EllipticCurvePrivateKey, list[tuple[bytes, bytes]]]:
    key = ec.generate_private_key(ec.SECP256R1())
    k = secrets.randbelow(P256_ORDER - 1) + 1  # one nonce, used twice: the bug
    messages = [b"firmware-1.4.bin sha256=3e1d...", b"firmware-1.5.bin sha256=a7c0..."]
    return key, [(message, _broken_ecdsa_sign(key, message, k)) for message in messages]


_reused_key, reused_nonce_signatures = _reused_nonce()
#: The firmware signing key's public half (PEM); two of its signatures, below, reused one nonce.
reused_nonce_public_key = (
    _reused_key.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode("ascii")
)
_reused_point = _reused_key.public_key().public_numbers()


def _is_nonce(value: int) -> bool:
    """Whether ``value`` is the reused nonce k: public data tells, since x(k*G) mod n is the signatures' r."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature  # noqa: PLC0415

    r = decode_dss_signature(reused_nonce_signatures[0][1])[0]
    return ec.derive_private_key(value, ec.SECP256R1()).public_key().public_numbers().x % P256_ORDER == r


def _check_q6(proof: object) -> str | None:
    if isinstance(proof, ec.EllipticCurvePrivateKey):
        if proof.public_key().public_numbers() != _reused_point:
            return "that key is not the private key: its public point is not the firmware key's."
        return None
    if isinstance(proof, tuple):
        return _signed_proof(proof)
    value = whole(proof)
    if value is None:
        return (
            f"pass the private value d as an int (or the key, or a (message, signature) pair of a new message "
            f"you signed with it), not {kind(proof)}."
        )
    proof = value
    if not 1 <= proof < P256_ORDER:
        return "a P-256 private value lies between 1 and n - 1: reduce yours modulo n (P256_ORDER)."
    if ec.derive_private_key(proof, ec.SECP256R1()).public_key().public_numbers() == _reused_point:
        return None
    if _is_nonce(proof):
        return "that is the nonce k (k*G gives the signatures' r): now solve s1 = k^-1 (z1 + r*d) for d."
    return (
        "that is not the private key: d*G is not the public point. Check k first: x(k*G) mod n must be the "
        "signatures' r."
    )


def _signed_proof(proof: tuple[object, ...]) -> str | None:
    parts = [bytes(part) for part in proof if isinstance(part, (bytes, bytearray))]
    if len(proof) != len(parts) or len(parts) != 2:
        return "pass a (message, signature) pair, both bytes: the DER signature pyca's sign returns."
    message, signature = parts
    if any(message == given for given, _ in reused_nonce_signatures):
        return "that message was signed already: sign a new message with the key you recovered."
    try:
        _reused_key.public_key().verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "that signature does not verify with reused_nonce_public_key: sign with the key you recovered."
    return None


q6 = Exercise(
    6,
    "break",
    "A firmware signer reused one ECDSA nonce k for two signatures: `reused_nonce_signatures` holds both (message, DER "
    "signature) pairs, `reused_nonce_public_key` the public key. Recover the private value d and pass it (or sign a "
    "new message with it and pass (message, signature)).",
    _check_q6,
    "decode_dss_signature gives (r, s); z is SHA-256 of the message as an int. s1 - s2 = k^-1 (z1 - z2) mod n gives "
    "k; then s1 = k^-1 (z1 + r*d) gives d. pow(x, -1, n) inverts modulo n.",
    """from hashlib import sha256

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

n = P256_ORDER
(m1, sig1), (m2, sig2) = reused_nonce_signatures
(r, s1), (_, s2) = decode_dss_signature(sig1), decode_dss_signature(sig2)
z1, z2 = (int.from_bytes(sha256(m).digest(), "big") for m in (m1, m2))
k = (z1 - z2) * pow(s1 - s2, -1, n) % n
d = (s1 * k - z1) * pow(r, -1, n) % n
q6.check(d)""",
    lambda proof: (
        "Two signatures, one nonce, and the key is gone. Reuse is not the only danger: a few biased or leaked "
        "nonce bits over many signatures are enough too (lattice attacks; Minerva)."
    ),
)


quiz = Quiz(
    Question(
        "A signature verifies with Alice's public key. What does that prove?",
        {
            "a": "The holder of the matching private key signed exactly these bytes",
            "b": "The holder of the matching private key signed these bytes, and sent them just now",
            "c": "The person called Alice sent it",
        },
        "a",
        "A signature hides nothing, and says nothing of when: a copied signed message verifies again tomorrow (a "
        "replay), unless the signed bytes carry a time or a fresh challenge. Which person holds the key is for a "
        "certificate, or an out-of-band check of the public key, to say.",
    ),
    Question(
        "What happens if ECDSA signs two messages with the same secret nonce k?",
        {
            "a": "Anyone holding both signatures and messages can compute the private key",
            "b": "The two signatures share r, which shows they came from one signer, but the key stays safe",
            "c": "It reveals k, but k alone gives nothing without the private key",
        },
        "a",
        "Two equations in the same k give k, and then the private key (exercise 6): how the PlayStation 3's signing "
        "key was recovered in 2010. Not only reuse: a few biased or leaked bits of k over many signatures also give "
        "the key (Howgrave-Graham and Smart 2001; Minerva, CHES 2020). RFC 6979 derives k deterministically; Ed25519 "
        "does so by design (RFC 8032).",
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
            "c": "Entries up to the checkpoint edited, but not one removed, since the chain can be re-linked",
        },
        "a",
        "The checkpoint signs the head at that point, which fixes every entry before it: re-linking the chain gives "
        "another head. Entries after it are growth: nothing vouches for them until the next checkpoint. (Certificate "
        "Transparency logs publish signed tree heads regularly for the same reason, RFC 9162, and add Merkle proofs "
        "and gossip, which these checkpoints lack.)",
    ),
)
