"""Lesson 05 (envelope encryption): four checked exercises, of rising difficulty, and the quiz.

- ``q1`` (recall): encrypt a report into an envelope, bound to its file name;
- ``q2`` (apply): rotate the KEK and rewrap the envelope: the data's bytes do not change;
- ``q3`` (build): build an envelope by hand from a data key and raw AES-GCM, by the published format;
- ``q4`` (apply): crypto-shredding: make every envelope under one KEK version unreadable.
"""

from __future__ import annotations

from kmslib.course.exercises import Exercise, Question, Quiz, envelope_answer, envelope_problem, student_custodian
from kmslib.envelope import split
from kmslib.errors import KeyRevokedError, KMSError
from kmslib.tokens import parse_token

__all__ = ["CONTEXT", "REPORT", "q1", "q2", "q3", "q4", "quiz"]

KEK = "kek"
#: The data of the exercises, and the associated data it is bound to.
REPORT = b"Quarterly report: revenue 1.2M, costs 0.9M. " * 40
CONTEXT = "file=report.pdf"


def _check_q1(kms: object, sealed: object) -> str | None:
    custodian = student_custodian(kms)
    if KEK not in custodian:
        return f"make the KEK {KEK!r} (an AES-256-GCM key) in your custodian first."
    view = envelope_answer(sealed, "sealed")
    if isinstance(view, str):
        return view
    return envelope_problem(custodian, KEK, view, CONTEXT, REPORT)


q1 = Exercise(
    1,
    "recall",
    f"In `kms`, make an AES-256-GCM KEK {KEK!r} and encrypt `REPORT` into an envelope bound to the associated data "
    f"{CONTEXT!r}. Pass (kms, sealed).",
    _check_q1,
    "establish_aes_key makes the KEK; encrypt_envelope(key_id, data, associated_data=...) returns the envelope.",
    f'kms.establish_aes_key("{KEK}")\nsealed = kms.encrypt_envelope("{KEK}", REPORT, associated_data="{CONTEXT}")\n'
    "q1.check(kms, sealed)",
)


def _check_q2(kms: object, old: object, new: object) -> str | None:
    custodian = student_custodian(kms)
    if KEK not in custodian or custodian.key_info(KEK).version < 2:
        return f"rotate the KEK {KEK!r} first."
    old_view, new_view = envelope_answer(old, "old"), envelope_answer(new, "new")
    for view in (old_view, new_view):
        if isinstance(view, str):
            return view
    assert not isinstance(old_view, str)
    assert not isinstance(new_view, str)
    old_parts, new_parts = split(old_view), split(new_view)
    assert old_parts is not None
    assert new_parts is not None
    if bytes(old_parts[1]) != bytes(new_parts[1]):
        return (
            "the nonce, ciphertext or tag changed: the data was encrypted again. rewrap_envelope re-wraps only the "
            "data key, which is the point: rotating a KEK never touches the data."
        )
    if parse_token(new_parts[0])[0] != custodian.key_info(KEK).version:
        return "the new envelope's data key is not wrapped by the newest KEK version: use rewrap_envelope."
    if custodian.decrypt_envelope(KEK, new_view, associated_data=CONTEXT) != REPORT:  # pragma: no cover
        return "the new envelope does not hold the report."
    return None


q2 = Exercise(
    2,
    "apply",
    f"Rotate the KEK {KEK!r}, then move your envelope to the new version with rewrap_envelope. Pass (kms, old, new): "
    "the data's bytes must not change.",
    _check_q2,
    "rotate_key, then rewrap_envelope(key_id, envelope, associated_data=...) with the same associated data.",
    f'kms.rotate_key("{KEK}")\nold = sealed\nnew = kms.rewrap_envelope("{KEK}", old, associated_data="{CONTEXT}")\n'
    "q2.check(kms, old, new)",
)


def _check_q3(kms: object, sealed: object) -> str | None:
    custodian = student_custodian(kms)
    view = envelope_answer(sealed, "sealed")
    if isinstance(view, str):
        return view
    try:
        data = custodian.decrypt_envelope(KEK, view)
    except KMSError as exc:
        return (
            f"decrypt_envelope refuses it ({type(exc).__name__}): check the format, and the data's associated "
            "data b'KMSE\\x01'."
        )
    if data != REPORT:
        return "it opens, but holds other data: encrypt REPORT."
    made = [e.operation for e in custodian.audit_log if e.key_id == KEK and e.outcome == "ok"]
    if "generate_data_key" not in made:
        return "make the data key with generate_data_key, and build the envelope yourself."
    parts = split(view)
    assert parts is not None
    wrapped_versions = {e.version for e in custodian.audit_log if e.operation == "generate_data_key"}
    if parse_token(parts[0])[0] not in wrapped_versions:  # pragma: no cover - the envelope came from elsewhere
        return "the wrapped key in it was not made by generate_data_key."
    return None


q3 = Exercise(
    3,
    "build",
    f"Build an envelope of `REPORT` by hand (no associated data): a data key from generate_data_key({KEK!r}), raw "
    "AESGCM for the data, and the format b'KMSE' | 0x01 | length (2 bytes, big-endian) | wrapped token | nonce | "
    "ciphertext and tag. decrypt_envelope must open it.",
    _check_q3,
    "The data's associated data is b'KMSE\\x01' (plus the caller's, none here); AESGCM.encrypt returns ciphertext "
    "and tag together; struct.pack('>H', n) writes the length.",
    f"""data_key = kms.generate_data_key("{KEK}")
nonce = os.urandom(12)
body = nonce + AESGCM(data_key.plaintext).encrypt(nonce, REPORT, b"KMSE\\x01")
wrapped = data_key.wrapped.encode("ascii")
by_hand = b"KMSE\\x01" + struct.pack(">H", len(wrapped)) + wrapped + body
q3.check(kms, by_hand)""",
)


def _check_q4(kms: object, shredded: object, kept: object) -> str | None:
    custodian = student_custodian(kms)
    gone, still = envelope_answer(shredded, "shredded"), envelope_answer(kept, "kept")
    if isinstance(gone, str):
        return gone
    if isinstance(still, str):
        return still
    if not custodian.key_info(KEK).active:
        return "the whole KEK was revoked: shred only the old version, and keep the newer envelopes readable."
    try:
        custodian.decrypt_envelope(KEK, gone, associated_data=CONTEXT)
    except KeyRevokedError:
        pass
    except KMSError:
        return "'shredded' does not open, but not because its KEK version was revoked: pass your old envelope."
    else:
        return "'shredded' still opens: revoke the KEK version that wrapped its data key."
    try:
        custodian.decrypt_envelope(KEK, still, associated_data=CONTEXT)
    except KMSError:
        return "'kept' no longer opens: revoke only the old version, after rewrapping what you keep."
    return None


q4 = Exercise(
    4,
    "apply",
    "Crypto-shredding: revoke the KEK version that wrapped your first envelope, so that it can never be opened "
    "again, while the rewrapped one still opens. Pass (kms, shredded, kept).",
    _check_q4,
    "invalidate_key(key_id, version=1, reason=...) revokes one version; envelopes under it raise KeyRevokedError.",
    f'kms.invalidate_key("{KEK}", version=1, reason="retention period over: shred")\nq4.check(kms, old, new)',
)


quiz = Quiz(
    Question(
        "Why do KMSs wrap data keys instead of encrypting the data themselves?",
        {
            "a": "Data may be large and far away: only a 32-byte key travels, and each message gets its own key",
            "b": "AES is too slow for large data",
            "c": "Wrapped keys need no authentication",
        },
        "a",
        "AWS KMS Encrypt takes at most 4 KiB. Wrapping data keys keeps the data where it lives, costs one small "
        "request per message, and limits what one key protects (its blast radius).",
    ),
    Question(
        "You rotate the KEK and call rewrap_envelope. What changes in the envelope?",
        {"a": "Only the header: the wrapped data key", "b": "The ciphertext", "c": "Everything"},
        "a",
        "The data key stays the same; only its wrapping moves to the new KEK version. kmslib first checks that "
        "the envelope is genuine (one AES-GCM decryption pass over it, plaintext discarded), but re-encrypts only "
        "the 32-byte data key.",
    ),
    Question(
        "With random 96-bit nonces, how many messages may one AES-GCM key encrypt (NIST SP 800-38D)?",
        {"a": "About 2^32", "b": "About 2^64", "c": "As many as you like"},
        "a",
        "Past 2^32 messages the chance of a repeated nonce is no longer negligible (SP 800-38D, section 8.3), and "
        "a repeat is fatal. A data key per message keeps every key far from that limit.",
    ),
    Question(
        "What does revoking the KEK version that wrapped a set of envelopes do to them?",
        {
            "a": "Makes them unreadable through the KMS: crypto-shredding",
            "b": "Deletes them",
            "c": "Nothing: the data keys are inside the envelopes",
        },
        "a",
        "The data keys inside are useless without the KEK that wraps them. Anyone who kept a data key's plaintext "
        "or the data itself is beyond the KMS's reach: shredding protects only what was never unwrapped elsewhere.",
    ),
)
