"""The capstone's "your turn" exercises (see :mod:`kmslib.course.exercises`)."""

from __future__ import annotations

from kmslib.course.exercises import Exercise, student_custodian
from kmslib.custodian import KeyCustodian
from kmslib.errors import KMSError
from kmslib.tokens import inspect_token

__all__ = ["EXERCISES", "q1", "q2", "q3", "q4"]

KEY_ID = "ops"
MESSAGE = "quarterly report"
CONTEXT = "dept=finance"


def _check_q1(kms: object) -> str | None:
    custodian = student_custodian(kms)
    if KEY_ID not in custodian:
        return f"there is no key {KEY_ID!r} in the custodian yet."
    info = custodian.key_info(KEY_ID)
    if info.kind != "aes":
        return f"{KEY_ID!r} is an {info.kind.upper()} key; the exercise asks for AES."
    if info.algorithm != "aes-256-gcm":
        return f"{KEY_ID!r} uses {info.algorithm}; GCM authenticates, CBC does not. Make a GCM key."
    return None


def _check_q2(kms: object, token: object) -> str | None:
    custodian = student_custodian(kms)
    if not isinstance(token, str) or not token.startswith("kms:"):
        return "report_token should be the token string that encrypt_data_aes returns."
    if inspect_token(token).algorithm != "aes-256-gcm":
        return "encrypt with the GCM key 'ops'."
    try:
        plaintext = custodian.decrypt_data_aes(KEY_ID, token, associated_data=CONTEXT)
    except KMSError:
        try:
            custodian.decrypt_data_aes(KEY_ID, token)
        except KMSError:
            return "the token does not decrypt with 'ops': was it made by that key?"
        return f"the token decrypts without associated data: bind associated_data={CONTEXT!r}."
    if plaintext != MESSAGE:
        return f"the token holds {len(plaintext)} characters of something else; encrypt {MESSAGE!r}."
    return None


def _after_rotation(custodian: KeyCustodian) -> tuple[list[str], int | None]:
    """The operations on the key since its last rotation, and the seq of that rotation."""
    ok = [e for e in custodian.audit_log if e.key_id == KEY_ID and e.outcome == "ok"]
    rotations = [e.seq for e in ok if e.operation == "rotate_key"]
    if not rotations:
        return [], None
    return [e.operation for e in ok if e.seq > rotations[-1]], rotations[-1]


def _check_q3(kms: object, token: object) -> str | None:
    custodian = student_custodian(kms)
    info = custodian.key_info(KEY_ID)
    if info.version < 2:
        return f"{KEY_ID!r} is still at version 1: rotate it first."
    if not isinstance(token, str) or not token.startswith("kms:"):
        return "report_token_v2 should be the token string that rewrap returns."
    if inspect_token(token).version != info.version:
        return f"the token is at version {inspect_token(token).version}; rewrap moves it to {info.version}."
    since, _ = _after_rotation(custodian)
    if "rewrap" not in since:
        return (
            "the audit log shows no rewrap since the rotation: decrypting and encrypting again puts the report in "
            "your program's memory. rewrap moves it to the new version inside the custodian."
        )
    if custodian.decrypt_data_aes(KEY_ID, token, associated_data=CONTEXT) != MESSAGE:
        return "the rewrapped token should still hold the report."
    return None


def _check_q4(kms: object) -> str | None:
    custodian = student_custodian(kms)
    info = custodian.key_info(KEY_ID)
    if not info.active:
        return f"the whole key {KEY_ID!r} was revoked; revoke only version 1 (version=1)."
    if 1 not in info.revoked_versions:
        return "version 1 is not revoked yet."
    if not info.reason or not info.reason.strip():
        return "give a reason that says something, so the audit trail says why."
    log = list(custodian.audit_log)
    revoked = next(e.seq for e in log if e.key_id == KEY_ID and e.operation == "invalidate_key" and e.version == 1)
    rewraps = [e.seq for e in log if e.key_id == KEY_ID and e.operation == "rewrap" and e.outcome == "ok"]
    if not rewraps or min(rewraps) > revoked:
        return "version 1 was revoked before any token was rewrapped: the order is rotate, rewrap, then revoke."
    return None


q1 = Exercise(
    1,
    "recall",
    f"Make an AES-256-GCM key called {KEY_ID!r} in `kms`.",
    _check_q1,
    "establish_aes_key takes the key id; GCM is the default mode.",
    f'kms.establish_aes_key("{KEY_ID}")',
)
q2 = Exercise(
    2,
    "apply",
    f"Encrypt {MESSAGE!r} under {KEY_ID!r}, bound to the associated data {CONTEXT!r}; keep it in `report_token`.",
    _check_q2,
    "encrypt_data_aes takes associated_data=... as a keyword argument.",
    f'report_token = kms.encrypt_data_aes("{KEY_ID}", "{MESSAGE}", associated_data="{CONTEXT}")',
)
q3 = Exercise(
    3,
    "apply",
    f"Rotate {KEY_ID!r}, then rewrap `report_token` to the new version as `report_token_v2`.",
    _check_q3,
    "rotate_key adds a version; rewrap needs the same associated_data as the original token.",
    f'kms.rotate_key("{KEY_ID}")\nreport_token_v2 = kms.rewrap("{KEY_ID}", report_token, associated_data="{CONTEXT}")',
)
q4 = Exercise(
    4,
    "apply",
    f"Version 1 of {KEY_ID!r} was on the stolen laptop: revoke that version only, with a reason.",
    _check_q4,
    "invalidate_key takes version=... and reason=...; the newest version cannot be revoked alone.",
    f'kms.invalidate_key("{KEY_ID}", version=1, reason="laptop stolen")',
)

#: The exercises in order.
EXERCISES = (q1, q2, q3, q4)
