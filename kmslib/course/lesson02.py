"""Lesson 02 (RSA): four checked exercises, of rising difficulty, and the quiz.

- ``q1`` (recall): the longest message RSA-2048 with OAEP-SHA256 encrypts;
- ``q2`` (build): send Alice a 1 KiB report by hybrid encryption, with only her public key;
- ``q3`` (break): see implicit rejection: a forged PKCS#1 v1.5 token decrypts, without an error;
- ``q4`` (apply): after Alice rotates her key, rewrap the wrapped data key without it leaving the custodian.
"""

from __future__ import annotations

import hashlib

from kmslib.course.exercises import Exercise, Question, Quiz, student_custodian
from kmslib.custodian import KeyCustodian
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
    if not isinstance(limit, int) or isinstance(limit, bool):
        return f"pass the number of bytes (an int), not {type(limit).__name__}."
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


def _check_q2(wrapped_key: object, report_token: object) -> str | None:
    if not isinstance(wrapped_key, str) or not isinstance(report_token, str):
        return "pass two tokens: the wrapped data key, then the encrypted report."
    if inspect_token(report_token).algorithm.startswith("rsa"):
        return "the report is an RSA token: 1 KiB is far over RSA's limit. Encrypt the report with AES."
    if inspect_token(report_token).algorithm != "aes-256-gcm":
        return "encrypt the report with an AES-256-GCM data key: CBC does not protect it from changes."
    if not inspect_token(wrapped_key).algorithm.startswith("rsa"):
        return (
            "wrap the data key with Alice's RSA public key (encrypt_with_public_key), so that only she can unwrap it."
        )
    try:
        data_key = alice.decrypt_data_rsa("alice-rsa", wrapped_key, encoding=None)
    except KMSError:
        return "Alice cannot unwrap the data key: wrap it with alice_public_pem."
    if len(data_key) != 32:
        return f"Alice unwrapped {len(data_key)} bytes: wrap the 32-byte data key itself."
    reader = KeyCustodian()
    reader.import_aes_key("report", data_key)
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
    "Send Alice `REPORT` (1 KiB): encrypt it with a fresh AES-256-GCM data key in a custodian of your own, and wrap "
    "that data key with `alice_public_pem`. Pass (wrapped_key, report_token).",
    _check_q2,
    "secrets.token_bytes(32) is a data key; import_aes_key keeps it in your custodian; "
    "encrypt_with_public_key(alice_public_pem, data_key) wraps it for Alice.",
    """data_key = secrets.token_bytes(32)
bob = KeyCustodian()
bob.import_aes_key("report-key", data_key)
report_token = bob.encrypt_data_aes("report-key", REPORT)
wrapped_key = encrypt_with_public_key(alice_public_pem, data_key)
q2.check(wrapped_key, report_token)""",
)


def _check_q3(kms: object, token: object, forged: object, result: object) -> str | None:
    custodian = student_custodian(kms)
    if not isinstance(token, str) or not isinstance(forged, str):
        return "pass the custodian, the token, the forged token and what decrypting it gave."
    if inspect_token(token).algorithm != "rsa-pkcs1v15":
        return "use a PKCS#1 v1.5 key (padding='pkcs1v15'): a forged OAEP token is refused with DecryptionError."
    _, _, original = parse_token(token)
    _, _, changed = parse_token(forged)
    if forged == token or len(changed) != len(original):
        return "forge the token: flip a byte of its ciphertext with tamper."
    if isinstance(result, BaseException):
        return "result is an exception: decrypt the forged token with encoding=None and keep what it returns."
    if not isinstance(result, bytes):
        return "decrypt with encoding=None, so that the result is the raw bytes."
    key_ids = [info.key_id for info in custodian.list_keys() if info.active and info.algorithm == "rsa-pkcs1v15"]
    for key_id in key_ids:
        try:
            if custodian.decrypt_data_rsa(key_id, forged, encoding=None) == result:
                break
        except KMSError:
            continue
    else:
        return "decrypting the forged token with your PKCS#1 v1.5 key does not give that result."
    return None


q3 = Exercise(
    3,
    "break",
    "Make a PKCS#1 v1.5 key in `kms`, encrypt a message, flip one byte of the token with tamper, and decrypt the "
    "forgery with encoding=None. Pass (kms, token, forged, result).",
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


def _check_q4(kms: object, key_id: object, wrapped_key: object, rewrapped: object) -> str | None:
    custodian = student_custodian(kms)
    if not isinstance(key_id, str) or key_id not in custodian:
        return "pass your custodian, the RSA key's id, the old wrapped key and the rewrapped one."
    info = custodian.key_info(key_id)
    if info.kind != "rsa":
        return f"{key_id!r} is not an RSA key."
    if info.version < 2:
        return f"{key_id!r} is at version 1: rotate it first."
    if not isinstance(wrapped_key, str) or not isinstance(rewrapped, str):
        return "wrapped_key and rewrapped should be tokens."
    if inspect_token(rewrapped).version != info.version:
        return f"the rewrapped token is at version {inspect_token(rewrapped).version}, not the newest ({info.version})."
    log = [e for e in custodian.audit_log if e.key_id == key_id and e.outcome == "ok"]
    rotated = max(e.seq for e in log if e.operation == "rotate_key")
    after = [e.operation for e in log if e.seq > rotated]
    if "rewrap" not in after:
        return (
            "the audit log shows no rewrap since the rotation: decrypting and encrypting again takes the data key out "
            "of the custodian. rewrap keeps it inside."
        )
    old = custodian.decrypt_data_rsa(key_id, wrapped_key, encoding=None)
    if custodian.decrypt_data_rsa(key_id, rewrapped, encoding=None) != old:
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
        {"a": "256", "b": "245", "c": "190", "d": "2048"},
        "c",
        "k - 2*hLen - 2 = 256 - 64 - 2 = 190 (RFC 8017, 7.1.1). 245 is PKCS#1 v1.5's k - 11; 256 is the modulus.",
    ),
    Question(
        "kmslib decrypts a forged PKCS#1 v1.5 token. What happens?",
        {
            "a": "DecryptionError, with the one message",
            "b": "It returns pseudo-random bytes, with no error",
            "c": "It returns the original message",
        },
        "b",
        "Implicit rejection: there is no padding error to observe, the defence against Bleichenbacher (1998) and "
        "the Marvin attack (2023). A padding check of one's own would bring the oracle back.",
    ),
    Question(
        "Why encrypt a long message with AES and only its key with RSA?",
        {
            "a": "RSA encrypts at most a few hundred bytes per operation, and slowly",
            "b": "RSA is insecure for long messages",
            "c": "AES keys cannot be stored otherwise",
        },
        "a",
        "Hybrid encryption: RSA wraps a 32-byte data key, AES-GCM encrypts the data. Cloud KMSs do something else: "
        "they wrap data keys under a symmetric key that never leaves the KMS (envelope encryption, lesson 05).",
    ),
    Question(
        "Is OAEP safe however it is decoded?",
        {"a": "Yes: its design rules out padding oracles", "b": "No: decoding must not leak why it failed"},
        "b",
        "Manger (CRYPTO 2001) recovers OAEP plaintexts from a decoder that tells its failures apart, by error or by "
        "timing. OpenSSL's decoder is written to run in constant time; do not add checks around it.",
    ),
)
