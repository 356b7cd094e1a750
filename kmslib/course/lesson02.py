"""Lesson 02 (RSA): four checked exercises, of rising difficulty, and the quiz.

- ``q1`` (recall): the longest message RSA-2048 with OAEP-SHA256 encrypts;
- ``q2`` (build): send Alice a 1 KiB report by hybrid encryption, with only her public key and a data key
  that your custodian drew (its audit log shows it);
- ``q3`` (break): see implicit rejection: a forged PKCS#1 v1.5 token decrypts, without an error;
- ``q4`` (apply): after Alice rotates her key, rewrap the wrapped data key without it leaving the custodian.
"""

from __future__ import annotations

import hashlib

from kmslib.course.exercises import (
    Exercise,
    Question,
    Quiz,
    as_checker,
    kind,
    student_custodian,
    student_entries,
    whole,
)
from kmslib.custodian import KeyCustodian
from kmslib.envelope import DataKey
from kmslib.errors import KMSError
from kmslib.tokens import inspect_token, parse_token

__all__ = ["REPORT", "alice", "alice_public_pem", "q1", "q2", "q3", "q4", "quiz"]

#: The report Bob sends Alice: 1 KiB, far over what RSA encrypts.
REPORT = b"".join(hashlib.sha256(b"report line %d" % i).hexdigest().encode() for i in range(16))
assert len(REPORT) == 1024

#: Alice's custodian: her private key never leaves it.
alice = KeyCustodian()
alice.generate_rsa_pair("alice-rsa")
#: What Alice publishes: her public key.
alice_public_pem = alice.export_public_key("alice-rsa")


def _check_q1(limit: object) -> str | None:
    size = whole(limit)
    if size is None:
        return f"pass the number of bytes (an int), not {kind(limit)}."
    limit = size
    if limit == 245:
        return "245 is PKCS#1 v1.5's limit (k - 11). OAEP with SHA-256 costs more: k - 2*32 - 2."
    if limit in (256, 2048):
        return f"{limit} is the size of the modulus; the padding takes part of it."
    if limit != 190:
        return f"RSA-2048 with OAEP-SHA256 encrypts more or fewer than {limit} bytes: try encrypting longer messages."
    return None


q1 = Exercise(
    1,
    "recall",
    "What is the longest message, in bytes, that an RSA-2048 key with OAEP-SHA256 encrypts? Find it by trying "
    "(encrypt_data_rsa raises MessageTooLongError past it) and pass the number.",
    _check_q1,
    "Encrypt b'x' * n for growing n with a 2048-bit OAEP key until MessageTooLongError; or compute k - 2*hLen - 2 "
    "with k = 256 bytes and hLen = 32 (RFC 8017, section 7.1.1).",
    """kms = KeyCustodian()
kms.generate_rsa_pair("limit-test")
limit = 0
while True:
    try:
        kms.encrypt_data_rsa("limit-test", b"x" * (limit + 1))
    except MessageTooLongError:
        break
    limit += 1
q1.check(limit)""",
)


def _token_algorithm(token: str) -> str | None:
    """A token's algorithm, or ``None`` if it is not a well-formed token."""
    try:
        return inspect_token(token).algorithm
    except KMSError:
        return None


def _drawn_data_key(custodian: KeyCustodian, data_key: object) -> bytes | str:
    """The bytes of a data key ``custodian`` drew with generate_data_key, or what is wrong with ``data_key``."""
    if isinstance(data_key, DataKey):
        wrapped, keks = data_key.wrapped, [data_key.key_id]
    elif isinstance(data_key, str):  # its wrapped token alone: any of the custodian's GCM keys may be the KEK
        wrapped = data_key
        keks = [info.key_id for info in custodian.list_keys() if info.active and info.algorithm == "aes-256-gcm"]
    else:
        return f"data_key should be what kms.generate_data_key returned, not {kind(data_key)}."
    if not isinstance(wrapped, str) or _token_algorithm(wrapped) != "aes-256-gcm":
        return "data_key's wrapped key is not a token: pass what kms.generate_data_key returned."
    entries = student_entries(custodian)
    for kek in keks:
        try:
            with as_checker(custodian):
                plaintext = custodian.decrypt_data_aes(kek, wrapped, encoding=None)
        except KMSError:
            continue
        done = {e.operation for e in entries if e.key_id == kek and e.outcome == "ok"}
        if done & {"import_aes_key", "derive_shared_key", "accept_key_exchange"}:  # bytes known outside it
            return (
                f"the KEK {kek!r} was imported or agreed with a peer, so its tokens could be made outside the "
                "custodian: make it with establish_aes_key."
            )
        if "encrypt_data_aes" in done:  # rewrap only moves tokens the KEK already held
            return (
                f"the KEK {kek!r} also encrypted data it was given (encrypt_data_aes): a token under it need not "
                "be a data key the custodian drew. Keep a KEK for generate_data_key only."
            )
        if "generate_data_key" not in done:  # pragma: no cover - a token under the KEK came from somewhere
            return f"the audit log shows no generate_data_key with {kek!r}."
        return plaintext
    return (
        "data_key does not open with a KEK in kms (without associated data): pass what kms.generate_data_key "
        "returned, with the custodian that made it."
    )


def _check_q2(kms: object, data_key: object, wrapped_key: object, report_token: object) -> str | None:
    custodian = student_custodian(kms)
    if not isinstance(wrapped_key, str) or not isinstance(report_token, str):
        return "pass your custodian, the data key, then two tokens: the wrapped data key and the encrypted report."
    report_algorithm, wrapped_algorithm = _token_algorithm(report_token), _token_algorithm(wrapped_key)
    if report_algorithm is None or wrapped_algorithm is None:
        return "wrapped_key and report_token should be tokens (kms:v1:...)."
    if report_algorithm.startswith("rsa"):
        return "the report is an RSA token: 1 KiB is far over RSA's limit. Encrypt the report with AES."
    if report_algorithm != "aes-256-gcm":
        return "encrypt the report with an AES-256-GCM data key: CBC does not protect it from changes."
    if not wrapped_algorithm.startswith("rsa"):
        return (
            "wrap the data key with Alice's RSA public key (encrypt_with_public_key), so that only she can unwrap it."
        )
    try:
        sent = alice.decrypt_data_rsa("alice-rsa", wrapped_key, encoding=None)
    except KMSError:
        return "Alice cannot unwrap the data key: wrap it with alice_public_pem."
    if len(sent) != 32:
        return f"Alice unwrapped {len(sent)} bytes: wrap the 32-byte data key itself."
    drawn = _drawn_data_key(custodian, data_key)
    if isinstance(drawn, str):
        return drawn
    if drawn != sent:
        return (
            "the key you wrapped for Alice is not the one your custodian drew with generate_data_key: a data key "
            "must come from the CSPRNG, and only the custodian's audit log can show that it did."
        )
    reader = KeyCustodian()
    reader.import_aes_key("report", sent)
    try:
        report = reader.decrypt_data_aes("report", report_token, encoding=None)
    except KMSError:
        return "the data key Alice unwrapped does not decrypt the report (no associated data here)."
    if report != REPORT:
        return "the report decrypts, but to something else: encrypt REPORT."
    return None


q2 = Exercise(
    2,
    "build",
    "Send Alice `REPORT` (1 KiB). In a custodian of your own, `bob`, make a KEK and draw a fresh data key with "
    "generate_data_key; encrypt the report with it (AES-256-GCM) and wrap it with `alice_public_pem`. "
    "Pass (bob, data_key, wrapped_key, report_token).",
    _check_q2,
    "establish_aes_key makes the KEK; generate_data_key(kek) returns a DataKey whose .plaintext is 32 bytes from "
    "the CSPRNG; import_aes_key keeps it in a custodian to encrypt the report; "
    "encrypt_with_public_key(alice_public_pem, data_key.plaintext) wraps it for Alice.",
    """bob = KeyCustodian()
bob.establish_aes_key("kek")
data_key = bob.generate_data_key("kek")
bob.import_aes_key("report-key", data_key.plaintext)
report_token = bob.encrypt_data_aes("report-key", REPORT)
wrapped_key = encrypt_with_public_key(alice_public_pem, data_key.plaintext)
q2.check(bob, data_key, wrapped_key, report_token)""",
)


#: How many ciphertext bytes a forgery may change: one flipped byte, or a few (a token made anew changes nearly all).
_MAX_FLIPPED = 16


def _forgery_problem(token: str, forged: str) -> str | None:
    """What is wrong with ``forged`` as a forgery of the PKCS#1 v1.5 ``token``, if anything."""
    if _token_algorithm(token) is None:
        return "token is not a token: make it with encrypt_data_rsa."
    if _token_algorithm(forged) is None:
        return "forged is not a well-formed token: make it from token with tamper(token, index, mask)."
    if inspect_token(token).algorithm != "rsa-pkcs1v15":
        return "use a PKCS#1 v1.5 key (padding='pkcs1v15'): a forged OAEP token is refused with DecryptionError."
    version, _, original = parse_token(token)
    forged_version, _, changed = parse_token(forged)
    flipped = sum(a != b for a, b in zip(original, changed, strict=False))
    if forged == token or len(changed) != len(original) or forged_version != version:
        return "forge the token: flip a byte of its ciphertext with tamper."
    if flipped > _MAX_FLIPPED:
        return (
            f"forged differs from token in {flipped} of {len(original)} bytes: that is another encryption, not a "
            "forgery. Flip one byte of token's ciphertext with tamper."
        )
    return None


def _check_q3(kms: object, token: object, forged: object, result: object) -> str | None:
    custodian = student_custodian(kms)
    if not isinstance(token, str) or not isinstance(forged, str):
        return "pass the custodian, the token, the forged token and what decrypting it gave."
    problem = _forgery_problem(token, forged)
    if problem is not None:
        return problem
    version = inspect_token(token).version
    if isinstance(result, BaseException):
        return "result is an exception: decrypt the forged token with encoding=None and keep what it returns."
    if type(result) is not bytes:  # exactly bytes: a subclass's own __eq__ must not judge itself
        return "decrypt with encoding=None, so that the result is the raw bytes."
    keys = [info for info in custodian.list_keys() if info.algorithm == "rsa-pkcs1v15"]
    for info in keys:
        if info.active and version not in info.revoked_versions:
            try:
                with as_checker(custodian):
                    if custodian.decrypt_data_rsa(info.key_id, forged, encoding=None) == result:
                        return None
            except KMSError:
                continue
    # A key revoked since (the whole key, or the token's version): its material is gone, so the outcome is read
    # from the audit log, which shows a decryption with that version that raised nothing.
    revoked = [info.key_id for info in keys if not info.active or version in info.revoked_versions]
    decrypted = {
        e.key_id
        for e in student_entries(custodian)
        if e.operation == "decrypt_data_rsa" and e.outcome == "ok" and e.version == version
    }
    if any(key_id in decrypted for key_id in revoked):
        return None
    return "decrypting the forged token with your PKCS#1 v1.5 key does not give that result."


q3 = Exercise(
    3,
    "break",
    "Make a PKCS#1 v1.5 key in `legacy_kms`, encrypt a message, flip one byte of the token with tamper, and "
    "decrypt the forgery with encoding=None. Pass (legacy_kms, token, forged, result).",
    _check_q3,
    "generate_rsa_pair(key_id, padding='pkcs1v15'); tamper(token, 100, 0x01) flips one bit of the ciphertext.",
    """kms = KeyCustodian()
kms.generate_rsa_pair("legacy", padding="pkcs1v15")
token = kms.encrypt_data_rsa("legacy", "Classified Information")
forged = tamper(token, 100, 0x01)
result = kms.decrypt_data_rsa("legacy", forged, encoding=None)
q3.check(kms, token, forged, result)""",
    lambda kms, token, forged, result: (
        "No exception was raised: the forgery decrypted to pseudo-random bytes (implicit rejection), so an attacker "
        "learns nothing from trying. A padding error here would be Bleichenbacher's oracle."
    ),
)


#: Fewer different byte values than this in 32 random bytes has odds below 1 in 10**14.
_MIN_DISTINCT = 16


def _looks_like_text(data: bytes) -> bool:
    """Whether ``data`` is printable ASCII: 32 random bytes are, with odds of (95/256)**32, about 1 in 6e13."""
    return all(0x20 <= byte < 0x7F for byte in data)


def _check_q4(kms: object, key_id: object, wrapped_key: object, rewrapped: object) -> str | None:
    custodian = student_custodian(kms)
    if not isinstance(key_id, str) or key_id not in custodian:
        return "pass your custodian, the RSA key's id (a str), the old wrapped key and the rewrapped one."
    info = custodian.key_info(key_id)
    if info.kind != "rsa":
        return f"{key_id!r} is not an RSA key."
    if not info.active:
        return f"{key_id!r} was revoked as a whole: revoke only its old version, once the wrapped key is moved."
    if info.version < 2:
        return f"{key_id!r} is at version 1: rotate it first."
    if not isinstance(wrapped_key, str) or not isinstance(rewrapped, str):
        return "wrapped_key and rewrapped should be tokens."
    if _token_algorithm(wrapped_key) is None or _token_algorithm(rewrapped) is None:
        return "wrapped_key and rewrapped should be tokens (kms:v1:...): encrypt_data_rsa and rewrap return them."
    old_version, new_version = inspect_token(wrapped_key).version, inspect_token(rewrapped).version
    if new_version != info.version:
        return f"the rewrapped token is at version {new_version}, not the newest ({info.version})."
    if old_version >= new_version:
        return (
            f"wrapped_key is at version {old_version}: pass the token wrapped before the rotation, and the one "
            "rewrap made from it."
        )
    problem = _rewrap_problem(custodian, key_id)
    if problem is not None:
        return problem
    return _wrapped_key_problem(custodian, key_id, wrapped_key, rewrapped, old_version in info.revoked_versions)


def _rewrap_problem(custodian: KeyCustodian, key_id: str) -> str | None:
    """What the audit log shows wrong since the latest rotation of ``key_id``: a copy made outside, or no rewrap."""
    log = [e for e in student_entries(custodian) if e.key_id == key_id and e.outcome == "ok"]
    rotated = max(e.seq for e in log if e.operation == "rotate_key")
    after = [e.operation for e in log if e.seq > rotated]
    if "decrypt_data_rsa" in after:
        return (
            "the audit log shows a decryption since the rotation: the data key left the custodian. rewrap keeps it "
            "inside; start again with a fresh custodian."
        )
    if "encrypt_data_rsa" in after:
        return (
            "the audit log shows encrypt_data_rsa since the rotation: rewrapped is a new encryption, not a rewrap. "
            "rewrap moves the old token without the data key leaving the custodian."
        )
    if "rewrap" not in after:
        return "the audit log shows no rewrap since the rotation: rewrap moves the token to the newest version."
    return None


def _wrapped_key_problem(
    custodian: KeyCustodian, key_id: str, wrapped_key: str, rewrapped: str, old_revoked: bool
) -> str | None:
    """What is wrong with the data key the tokens hold (once the old version is revoked, only the new one is read)."""
    try:
        with as_checker(custodian):
            moved = custodian.decrypt_data_rsa(key_id, rewrapped, encoding=None)
    except KMSError:
        return f"rewrapped does not decrypt with {key_id!r}: pass the token rewrap returned."
    if len(moved) != 32:
        return f"the wrapped key holds {len(moved)} bytes: a data key is 32 random bytes (an AES-256 key)."
    if _looks_like_text(moved):
        return "the wrapped key holds text: a data key is 32 random bytes (secrets.token_bytes(32)), not a password."
    if len(set(moved)) < _MIN_DISTINCT:
        return (
            f"the wrapped key has only {len(set(moved))} different byte values and does not look random: a data key "
            "is 32 random bytes (secrets.token_bytes(32))."
        )
    if not old_revoked:  # once version 1 is revoked, its token cannot be read to compare
        try:
            with as_checker(custodian):
                old = custodian.decrypt_data_rsa(key_id, wrapped_key, encoding=None)
        except KMSError:
            return f"wrapped_key does not decrypt with {key_id!r}: pass the token you wrapped before the rotation."
        if old != moved:
            return "the rewrapped token holds something else than the old one."
    return None


q4 = Exercise(
    4,
    "apply",
    "In a custodian of your own with an RSA key, wrap a data key, rotate the RSA key, and move the wrapped key to "
    "the new version without the data key leaving the custodian. Pass (kms, key_id, wrapped_key, rewrapped).",
    _check_q4,
    "rotate_key makes a new key pair; rewrap re-encrypts a token under the newest version, inside the custodian.",
    """kms = KeyCustodian()
kms.generate_rsa_pair("wrapping")
wrapped_key = kms.encrypt_data_rsa("wrapping", secrets.token_bytes(32))
kms.rotate_key("wrapping")
rewrapped = kms.rewrap("wrapping", wrapped_key)
q4.check(kms, "wrapping", wrapped_key, rewrapped)""",
)


quiz = Quiz(
    Question(
        "How many bytes does RSA-2048 with OAEP-SHA256 encrypt at most?",
        {"a": "256", "b": "245", "c": "190", "d": "214"},
        "c",
        "k - 2*hLen - 2 = 256 - 64 - 2 = 190 (RFC 8017, 7.1.1). 214 is OAEP with SHA-1 (hLen = 20); 245 is "
        "PKCS#1 v1.5's k - 11; 256 is the modulus.",
    ),
    Question(
        "You flip a bit of byte 100 of a token made with a PKCS#1 v1.5 key (tamper(token, 100, 0x01), as in "
        "exercise 3), and decrypt the forgery with decrypt_data_rsa(..., encoding=None). What happens?",
        {
            "a": "DecryptionError, with the one message kmslib gives every failure",
            "b": "It returns pseudo-random bytes, with no error",
            "c": "DecryptionError saying that the padding is wrong",
        },
        "b",
        "Implicit rejection, in OpenSSL 3.2 and later (which pyca/cryptography ships): there is no padding error "
        "to observe, the defence against Bleichenbacher (1998) and the Marvin attack (2023). A padding check of "
        "one's own would bring the oracle back.",
    ),
    Question(
        "Why encrypt a long message with AES and only its key with RSA?",
        {
            "a": "RSA encrypts at most a few hundred bytes per operation, and slowly",
            "b": "RSA is insecure for long messages",
            "c": "RSA would reveal the message's length, and AES-GCM hides it",
        },
        "a",
        "Hybrid encryption: RSA wraps a 32-byte data key, AES-GCM encrypts the data (GCM hides no length: its "
        "ciphertext is exactly as long as the plaintext). Cloud KMSs do something else: "
        "they wrap data keys under a symmetric key that never leaves the KMS (envelope encryption, lesson 06).",
    ),
    Question(
        "Is OAEP safe however it is decoded?",
        {"a": "Yes: its design rules out padding oracles", "b": "No: decoding must not leak why it failed"},
        "b",
        "Manger (CRYPTO 2001) recovers OAEP plaintexts from a decoder that tells its failures apart, by error or by "
        "timing. OpenSSL's decoder is written to run in constant time; do not add checks around it.",
    ),
)
