"""Lesson 04 (revocation and the lifecycle): four checked exercises, of rising difficulty, and the quiz.

- ``q1`` (recall): revoke a stolen laptop's key, with a reason;
- ``q2`` (apply): after a leak of version 1, rotate, rewrap every token, then revoke version 1, in that
  order (the checker reads the order from the audit log);
- ``q3`` (break): find the entry a forger edited in an exported log, using the heads an auditor saved;
- ``q4`` (build): save a head, let the log grow, forge an export, and show that only the head catches it.

Each scenario comes from a function that makes a fresh custodian, so a cell can be run again from
the start after a mistake (a version revoked too early cannot be brought back, as in real life).
"""

from __future__ import annotations

import json
import re
import secrets

from kmslib.audit import AuditEntry, AuditLog
from kmslib.course import classroom_clock, rewrite_log
from kmslib.course.exercises import Exercise, Question, Quiz, kind, student_custodian, whole
from kmslib.custodian import KeyCustodian
from kmslib.errors import KMSError
from kmslib.tokens import inspect_token

__all__ = ["exported", "q1", "q2", "q3", "q4", "quiz", "records", "saved_heads"]

LAPTOP = "laptop-disk"
RECORDS = "records"
_MESSAGES = ("patient 1041: allergy penicillin", "patient 1042: none", "patient 1043: latex")
#: The entries records() leaves in the log: the key, then one encryption per message.
_SETUP_ENTRIES = 1 + len(_MESSAGES)


# ---------------------------------------------------------------- q1: revoke, with a reason

#: What the checkers ask of a reason, as the feedback says it: a simple rule, not a judgement of the words.
_REASON_RULE = (
    "at least two words (of two letters or more) saying what happened, such as 'laptop stolen': "
    "the audit trail must tell a reader why, months later."
)


def _says_something(reason: str | None) -> bool:
    """Whether ``reason`` has at least two words of two letters or more (any alphabet)."""
    return reason is not None and len(re.findall(r"[^\W\d_]{2,}", reason)) >= 2


def _check_q1(kms: object) -> str | None:
    custodian = student_custodian(kms)
    if LAPTOP not in custodian:
        return f"there is no key {LAPTOP!r} in your custodian: make it first."
    info = custodian.key_info(LAPTOP)
    if info.active:
        return f"{LAPTOP!r} is still active: revoke the whole key (no version=...)."
    if not _says_something(info.reason):
        return f"give a reason that says something: {_REASON_RULE}"
    revoked = [e for e in custodian.audit_log if e.operation == "invalidate_key" and e.key_id == LAPTOP]
    if not any(e.outcome == "ok" and e.version is None for e in revoked):
        return f"the audit log shows no revocation of {LAPTOP!r}: revoke it with invalidate_key, which records it."
    return None


q1 = Exercise(
    1,
    "recall",
    f"The laptop that held key {LAPTOP!r} was stolen. Make the key in `kms`, then revoke the whole key with a reason.",
    _check_q1,
    "invalidate_key takes reason=... (a few words saying what happened); without version=..., it revokes the "
    "whole key.",
    f'kms.establish_aes_key("{LAPTOP}")\nkms.invalidate_key("{LAPTOP}", reason="laptop stolen on the train")\n'
    "q1.check(kms)",
)


# ---------------------------------------------------------------- q2: rotate, rewrap, revoke


def records() -> tuple[KeyCustodian, list[str]]:
    """A fresh custodian whose key ``records`` has version 1, and three tokens made by that version."""
    kms = KeyCustodian(clock=classroom_clock())
    kms.establish_aes_key(RECORDS)
    return kms, [kms.encrypt_data_aes(RECORDS, message) for message in _MESSAGES]


def _order(log: list[AuditEntry]) -> str | None:
    """What is wrong with the order of the operations on ``records`` since version 1, if anything."""
    ok = [e for e in log if e.key_id == RECORDS and e.outcome == "ok"]
    rotations = [e.seq for e in ok if e.operation == "rotate_key"]
    rewraps = [e.seq for e in ok if e.operation == "rewrap"]
    revocations = [e.seq for e in ok if e.operation == "invalidate_key" and e.version == 1]
    failed = [e for e in log if e.key_id == RECORDS and e.outcome != "ok"]
    if not revocations:
        return "version 1 is not revoked yet."
    # The student's own decryptions and encryptions, before the revocation (a checker's come after it).
    copies = [
        e.seq
        for e in ok
        if e.operation in ("decrypt_data_aes", "encrypt_data_aes") and _SETUP_ENTRIES <= e.seq < revocations[0]
    ]
    if copies and len(rewraps) < len(_MESSAGES):
        return (
            "the audit log shows decryptions and encryptions instead of rewraps: decrypt-then-encrypt puts every "
            "plaintext in your program's memory. rewrap re-encrypts inside the custodian and returns only the token."
        )
    # A token encrypted anew cannot be told from a rewrapped one: after any encryption, no token can be trusted.
    if any(e.operation == "encrypt_data_aes" and e.seq >= _SETUP_ENTRIES for e in ok):
        return (
            "the audit log shows encrypt_data_aes with 'records' since records() made the tokens: a token encrypted "
            "anew looks like a rewrapped one, and its plaintext passed through your program. Start again from "
            "records(), and keep only what rewrap returns."
        )
    if not rotations or rotations[0] > revocations[0]:
        return "rotate first: the newest version cannot be revoked, and the data needs a version to move to."
    before = [seq for seq in rewraps if seq < revocations[0]]
    if len(before) < len(_MESSAGES):
        late = [e for e in failed if e.operation == "rewrap"]
        return (
            f"only {len(before)} of {len(_MESSAGES)} tokens were rewrapped before version 1 was revoked"
            + (": the later rewraps failed, and that data is now unreadable. " if late else ". ")
            + "Start again from records(), and revoke last."
        )
    return None


def _versions(new_tokens: object) -> tuple[list[str], list[int]] | str:
    """The student's new tokens and the version of each, or what is wrong with their shape."""
    if not isinstance(new_tokens, (list, tuple)) or len(new_tokens) != len(_MESSAGES):
        return f"new_tokens should be the list of the {len(_MESSAGES)} rewrapped tokens, in order."
    if not all(isinstance(token, str) for token in new_tokens):
        return "new_tokens should hold the token strings that rewrap returns."
    versions = []
    for index, token in enumerate(new_tokens):
        try:
            versions.append(inspect_token(token).version)
        except KMSError:
            return f"new_tokens[{index}] is not a token (kms:v1:...): keep what rewrap returns."
    return list(new_tokens), versions


def _check_q2(kms: object, new_tokens: object) -> str | None:
    custodian = student_custodian(kms)
    if RECORDS not in custodian:
        return "pass the custodian that records() gave you."
    info = custodian.key_info(RECORDS)
    if not info.active:
        return f"the whole key {RECORDS!r} was revoked: only version 1 leaked. Start again from records()."
    shape = _versions(new_tokens)
    if isinstance(shape, str):
        return shape
    tokens, versions = shape
    if 1 in versions:
        return f"new_tokens[{versions.index(1)}] is still at version 1: rewrap it to the newest version."
    gone = [v for v in versions if v in info.revoked_versions]
    if gone:
        return (
            f"the rewrapped tokens are at version {gone[0]}, which you revoked: that is the version that holds the "
            "data now. Revoke version 1, the leaked one. Start again from records()."
        )
    problem = _order(list(custodian.audit_log))
    if problem is not None:
        return problem
    if not _says_something(dict(info.version_reasons).get(1)):
        return f"give version 1's revocation a reason that says something: {_REASON_RULE}"
    for index, token in enumerate(tokens):
        try:
            plaintext = custodian.decrypt_data_aes(RECORDS, token)
        except KMSError:
            return f"new_tokens[{index}] does not decrypt with {RECORDS!r}."
        if plaintext != _MESSAGES[index]:
            return f"new_tokens[{index}] holds another record than tokens[{index}]: keep the order."
    return None


q2 = Exercise(
    2,
    "apply",
    f"Version 1 of {RECORDS!r} leaked. With `lab, tokens = records()`: rotate, rewrap every token (keep them, "
    "in order, in `new_tokens`), then revoke version 1 only, with a reason.",
    _check_q2,
    "rotate_key, then rewrap each token (rewrap never shows the plaintext), then invalidate_key(..., version=1). "
    "Revoking first makes version 1's tokens unreadable before they are moved.",
    f"""kms, tokens = records()
kms.rotate_key("{RECORDS}")
new_tokens = [kms.rewrap("{RECORDS}", token) for token in tokens]
kms.invalidate_key("{RECORDS}", version=1, reason="version 1 leaked")
q2.check(kms, new_tokens)""",
)


# ---------------------------------------------------------------- q3: find the edited entry


def _tampered_log() -> tuple[str, dict[int, str], int]:
    """A day's log, the heads an auditor saved after every entry, and a forgery of it (which entry is secret)."""
    kms = KeyCustodian(clock=classroom_clock())
    kms.establish_aes_key("payroll")
    heads: dict[int, str] = {}
    for month in ("jan", "feb", "mar", "apr", "may", "jun"):
        token = kms.encrypt_data_aes("payroll", f"salaries {month}")
        kms.decrypt_data_aes("payroll", token)
    kms.rotate_key("payroll")
    kms.invalidate_key("payroll", version=1, reason="routine")
    for entry in kms.audit_log:
        heads[entry.seq] = entry.hash
    edited = 1 + secrets.randbelow(len(heads) - 2)
    return rewrite_log(kms.audit_log.to_jsonl(), edited, operation="export_public_key"), heads, edited


#: A log exported by a custodian, with one entry edited by someone who then recomputed the chain.
#: saved_heads: the hash of each entry, as an auditor saved it right after that entry (seq -> hash).
exported, saved_heads, _EDITED = _tampered_log()


def _check_q3(edited_seq: object) -> str | None:
    seq = whole(edited_seq)
    if seq is None:
        return f"pass the seq number of the edited entry (an int), not {kind(edited_seq)}."
    if not 0 <= seq < len(saved_heads):
        return f"the log has entries 0 to {len(saved_heads) - 1}."
    if seq == _EDITED:
        return None
    if seq == _EDITED + 1:
        return f"entry {seq} no longer matches its saved head, but neither does the one before it. Look earlier."
    if seq > _EDITED:
        return f"entry {seq} differs from its saved head, but it is not the first that does."
    return f"entry {seq} still matches the head the auditor saved for it: it is as it was."


q3 = Exercise(
    3,
    "break",
    "Someone edited one entry of `exported` and recomputed every hash after it, so the chain verifies on its own. "
    "Using `saved_heads` (seq -> the hash the auditor saved after that entry), find the seq of the edited entry.",
    _check_q3,
    "Read each line with json.loads and compare its hash with saved_heads[seq]. The forger had to recompute the "
    "hash of every entry from the edited one on, so the first mismatch is the edit.",
    """first_bad = None
for line in exported.splitlines():
    entry = json.loads(line)
    if entry["hash"] != saved_heads[entry["seq"]]:
        first_bad = entry["seq"]
        break
q3.check(first_bad)""",
)


# ---------------------------------------------------------------- q4: only a saved head catches a forgery


def _entries(export: str) -> list[AuditEntry] | None:
    """The entries of an exported log, or ``None`` if it is not one."""
    try:
        return [AuditEntry.from_dict(json.loads(line)) for line in export.splitlines() if line.strip()]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _content(entry: AuditEntry) -> tuple[object, ...]:
    """What an entry says, without the chain's fields (an edit at entry i changes every hash from i on)."""
    return (entry.seq, entry.time, entry.principal, entry.operation, entry.key_id, entry.version, entry.outcome)


#: How the notebook's own ``kms`` begins (operation, key id, outcome): rotate, rewrap, then revoke version 1.
_LESSON_EXAMPLE = (
    ("establish_aes_key", RECORDS, "ok"),
    ("encrypt_data_aes", RECORDS, "ok"),
    ("rotate_key", RECORDS, "ok"),
    ("rewrap", RECORDS, "ok"),
    ("invalidate_key", RECORDS, "ok"),
)


def _check_q4(head: object, export: object, forged: object) -> str | None:
    if not (isinstance(head, str) and isinstance(export, str) and isinstance(forged, str)):
        return "pass three strings: the head you saved, the export, and the forged export."
    lines = _entries(export)
    if lines is None:
        return "export is not an exported audit log: pass what kms.audit_log.to_jsonl() returns."
    if [(e.operation, e.key_id, e.outcome) for e in lines[: len(_LESSON_EXAMPLE)]] == list(_LESSON_EXAMPLE):
        return "that is the lesson's own example (its kms): make a custodian of your own, as the task asks."
    seqs = [entry.seq for entry in lines if entry.hash == head]
    if not seqs:
        return "the export does not contain the head you saved: save kms.audit_log.head first, then export later."
    if len(lines) - 1 - seqs[0] < 3:
        return "let the log grow by at least 3 entries after you save the head, then export."
    if not AuditLog.verify_jsonl(export, head=head):
        return "the export does not verify against the head: export the same custodian's log, untouched."
    if forged == export:
        return "forged is the export itself: edit an entry with rewrite_log."
    edited = _entries(forged)
    if edited is None:
        return "forged is not an exported audit log: make it with rewrite_log(export, index, field=value)."
    if len(edited) != len(lines):
        return (
            f"forged has {len(edited)} entries and the export {len(lines)}: forged should be the export with an "
            "entry edited (rewrite_log keeps every entry)."
        )
    changed = [old.seq for old, new in zip(lines, edited, strict=True) if _content(old) != _content(new)]
    if not changed or len(changed) == len(lines):
        return "forged is another log, not your export with an entry edited: make it with rewrite_log(export, ...)."
    if not AuditLog.verify_jsonl(forged):
        return "the forgery does not even verify on its own: recompute the chain (rewrite_log does)."
    if AuditLog.verify_jsonl(forged, head=head):
        return "the forgery still verifies against the head: edit an entry at or before the saved head."
    return None


q4 = Exercise(
    4,
    "build",
    "In a custodian of your own: save the audit log's head, do at least 3 more operations, export the log, and "
    "forge the export with rewrite_log so that it verifies on its own. Pass (head, export, forged).",
    _check_q4,
    "head = kms.audit_log.head before the operations; export = kms.audit_log.to_jsonl() after; edit an entry at "
    "or before the head (one the head vouches for).",
    """kms = KeyCustodian()
kms.establish_aes_key("ledger")
head = kms.audit_log.head
for day in ("mon", "tue", "wed"):
    kms.encrypt_data_aes("ledger", f"totals {day}")
export = kms.audit_log.to_jsonl()
forged = rewrite_log(export, 0, key_id="someone-else")
q4.check(head, export, forged)""",
)


# ---------------------------------------------------------------- the quiz

quiz = Quiz(
    Question(
        "In a routine rotation (no compromise), what happens to the old versions of a key?",
        {
            "a": "They are revoked at once",
            "b": "They stay, to decrypt what they encrypted, until they are retired",
            "c": "They are deleted",
        },
        "b",
        "AWS KMS and Vault keep every version for decryption after a rotation; new data uses the newest. NIST SP "
        "800-57 Part 1 separates a key's deactivation (no new use) from its compromise and its destruction.",
    ),
    Question(
        "Version 1 of a key leaked. In which order do you act?",
        {"a": "revoke v1, rotate, rewrap", "b": "rotate, rewrap, revoke v1", "c": "rewrap, rotate, revoke v1"},
        "b",
        "Rotate first (the data needs a newer version to move to), rewrap everything, then revoke version 1 so "
        "that nothing can use it again. Revoking first strands every token of version 1.",
    ),
    Question(
        "An attacker copied tokens of version 1 while it was leaked. After you rotate, rewrap and revoke, is that "
        "data safe?",
        {"a": "Yes: rewrapping re-encrypts it", "b": "No: whoever has the key and the old tokens can still read them"},
        "b",
        "Rewrapping protects the copies you hold from now on. What was encrypted under the leaked version and "
        "copied is exposed; revocation only stops the custodian from using that version.",
    ),
    Question(
        "What does an audit chain that verifies against its own newest hash prove?",
        {
            "a": "That no entry was edited",
            "b": "Only that it is internally consistent",
            "c": "That the log is complete",
        },
        "b",
        "Anyone who can rewrite the log can recompute every hash. Only a head saved earlier and kept out of reach "
        "(another machine, a signed checkpoint) shows an edit, a removal or a cut tail.",
    ),
)
