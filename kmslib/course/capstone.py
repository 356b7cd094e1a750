"""The capstone's "your turn" exercises (see :mod:`kmslib.course.exercises`).

The student's custodian lives in a sealed store (lesson 07). The exercises, each judged from the
custodian's state, the envelopes and the audit log:

- ``q1``: a KEK ``ops`` in the store;
- ``q2``: a report in an envelope under it, bound to its department;
- ``q3``: after a compromise, rotate the KEK and rewrap the envelope (the data's bytes untouched);
- ``q4``: revoke the exposed version, with a reason, after the rewrap;
- ``q5``: a signed audit checkpoint, then a restart: the reopened store holds all of it, and the
  auditor's check of the log against the checkpoint passes;
- ``q6``: the replacement terminal comes online: a new hybrid key exchange, kept in the store, that the
  terminal (played by the checker) can use both ways.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from kmslib.audit import AuditLog
from kmslib.course.exercises import Exercise, envelope_answer, envelope_problem, student_custodian
from kmslib.custodian import KeyCustodian
from kmslib.envelope import split
from kmslib.errors import KeyRevokedError, KMSError
from kmslib.tokens import parse_token

__all__ = ["EXERCISES", "PASSPHRASE", "REPORT", "Terminal", "new_store", "q1", "q2", "q3", "q4", "q5", "q6"]

KEY_ID = "ops"
#: What exercises 3 and 4 say when given a custodian without the KEK of exercise 1.
_NO_KEK = f"there is no key {KEY_ID!r} in that custodian: pass the store's custodian, `kms`, where exercise 1 made it."
#: The report the exercises encrypt, and the associated data it is bound to.
REPORT = b"Quarterly report: revenue 1.2M, costs 0.9M."
CONTEXT = "dept=finance"
#: The passphrase of the exercises' store (a classroom one: a real one is long and kept apart).
PASSPHRASE = "capstone classroom passphrase"  # noqa: S105 - a teaching store's, printed in the notebook


def new_store() -> Path:
    """A new passphrase store for the exercises, in a fresh temporary folder; returns its path."""
    from kmslib import init_store  # noqa: PLC0415 - the store's modules only when a store is used

    path = Path(tempfile.mkdtemp(prefix="kmslib-capstone-")) / "head-office.db"
    init_store(path, passphrase=PASSPHRASE)
    return path


def _check_q1(kms: object) -> str | None:
    custodian = student_custodian(kms)
    if custodian.store_path is None:
        return "kms is an in-memory custodian: open the store, kms = KeyCustodian.open(path, passphrase=PASSPHRASE)."
    if KEY_ID not in custodian:
        return f"there is no key {KEY_ID!r} in the custodian yet."
    info = custodian.key_info(KEY_ID)
    if info.kind != "aes":
        return f"{KEY_ID!r} is a {info.kind} key; a KEK is an AES key."
    if info.algorithm != "aes-256-gcm":
        return f"{KEY_ID!r} uses {info.algorithm}; a KEK must be AES-256-GCM. Make a GCM key."
    return None


def _check_q2(kms: object, envelope: object) -> str | None:
    custodian = student_custodian(kms)
    view = envelope_answer(envelope, "report_envelope")
    if isinstance(view, str):
        return view
    return envelope_problem(custodian, KEY_ID, view, CONTEXT, REPORT)


def _since_rotation(custodian: KeyCustodian) -> list[str] | None:
    """The successful operations on the KEK since its last rotation (``None`` if it was never rotated)."""
    ok = [e for e in custodian.audit_log if e.key_id == KEY_ID and e.outcome == "ok"]
    rotations = [e.seq for e in ok if e.operation == "rotate_key"]
    if not rotations:
        return None
    return [e.operation for e in ok if e.seq > rotations[-1]]


def _check_q3(kms: object, old: object, new: object) -> str | None:  # noqa: PLR0911 - a message per mistake
    custodian = student_custodian(kms)
    if KEY_ID not in custodian:
        return _NO_KEK
    info = custodian.key_info(KEY_ID)
    if info.version < 2:
        return f"{KEY_ID!r} is still at version 1: rotate it first."
    old_view, new_view = envelope_answer(old, "report_envelope"), envelope_answer(new, "report_envelope_v2")
    if isinstance(old_view, str):
        return old_view
    if isinstance(new_view, str):
        return new_view
    old_parts, new_parts = split(old_view), split(new_view)
    assert old_parts is not None
    assert new_parts is not None
    version = parse_token(new_parts[0])[0]
    if version != info.version:
        return f"report_envelope_v2's data key is wrapped by version {version}; rewrap moves it to {info.version}."
    if bytes(old_parts[1]) != bytes(new_parts[1]):
        return (
            "the data was encrypted again (its nonce, ciphertext and tag changed): rewrap_envelope re-wraps only the "
            "data key, and the report never leaves the custodian's memory."
        )
    since = _since_rotation(custodian)
    if since is None or "rewrap_envelope" not in since:  # pragma: no cover - a same payload needs a rewrap
        return "the audit log shows no rewrap_envelope since the rotation."
    if custodian.decrypt_envelope(KEY_ID, new_view, associated_data=CONTEXT) != REPORT:  # pragma: no cover
        return "the rewrapped envelope should still hold the report."
    return None


def _check_q4(kms: object, old: object) -> str | None:  # noqa: PLR0911 - a message per mistake
    custodian = student_custodian(kms)
    if KEY_ID not in custodian:
        return _NO_KEK
    info = custodian.key_info(KEY_ID)
    if not info.active:
        return f"the whole key {KEY_ID!r} was revoked: the rewrapped envelope is lost too. Revoke only version 1."
    if 1 not in info.revoked_versions:
        return "version 1 is not revoked yet."
    if not info.reason or not info.reason.strip():
        return "give a reason that says something, so that the audit trail says why."
    log = list(custodian.audit_log)
    revoked = next(e.seq for e in log if e.key_id == KEY_ID and e.operation == "invalidate_key" and e.version == 1)
    rewraps = [e.seq for e in log if e.key_id == KEY_ID and e.operation == "rewrap_envelope" and e.outcome == "ok"]
    if not rewraps or min(rewraps) > revoked:
        return "version 1 was revoked before the envelope was rewrapped: the order is rotate, rewrap, then revoke."
    view = envelope_answer(old, "report_envelope")
    if isinstance(view, str):
        return view
    try:
        custodian.decrypt_envelope(KEY_ID, view, associated_data=CONTEXT)
    except KeyRevokedError:
        return None
    except KMSError:  # pragma: no cover - another failure: the envelope is not the report's
        return "report_envelope should be the envelope made in exercise 2."
    return "the old envelope still opens: its data key is wrapped by a version that is still live."


def _check_q5(  # noqa: PLR0911 - a message per mistake
    kms: object, checkpoint: object, public_key: object, envelope: object
) -> str | None:
    custodian = student_custodian(kms)
    if custodian.store_path is None:
        return "pass the custodian reopened from the store (KeyCustodian.open), after closing the first one."
    operations = [e.operation for e in custodian.audit_log]
    if "close" not in operations:
        return "the store was never closed: close kms (the restart), then open the store again as kms2."
    if not isinstance(checkpoint, str) or not checkpoint.startswith("kmslib-checkpoint:"):
        return "checkpoint should be the text that sign_audit_checkpoint returned."
    if not isinstance(public_key, str) or "PUBLIC KEY" not in public_key:
        return "public_key should be the PEM that export_public_key returned for the signing key."
    count = checkpoint.split(":")[2]
    if not count.isdigit():
        return "checkpoint should be the text that sign_audit_checkpoint returned."
    signed_at = int(count)
    if "close" not in operations[signed_at:]:
        return "sign the checkpoint before the restart, so that the auditor checks the log across it."
    if not AuditLog.verify_jsonl(custodian.audit_log.to_jsonl(), checkpoint=checkpoint, public_key=public_key):
        return "the reopened store's log does not extend the checkpoint with that public key."
    info = custodian.key_info(KEY_ID)
    if not info.active or 1 not in info.revoked_versions:
        return f"after the restart, {KEY_ID!r} should be active with version 1 revoked: finish exercise 4 first."
    view = envelope_answer(envelope, "report_envelope_v2")
    if isinstance(view, str):
        return view
    if custodian.decrypt_envelope(KEY_ID, view, associated_data=CONTEXT) != REPORT:  # pragma: no cover
        return "the rewrapped envelope should still hold the report."
    return None


class Terminal:
    """The replacement shop terminal, played by exercise 6's checker: it starts a hybrid exchange with head office.

    Its custodian is its own (in memory); its public key, ``terminal.public``, is what it sends over the network.
    """

    LINK = "link-2"

    def __init__(self) -> None:
        self.custodian = KeyCustodian()
        private, public = self.custodian.generate_diffie_hellman_params_and_key(group="x25519mlkem768")
        self._private = private
        #: The terminal's public key (X25519MLKEM768, 1216 bytes on the wire).
        self.public = public

    def finish(self, reply: object) -> str | None:
        """Finish the exchange with head office's reply; ``None`` if it worked, else what went wrong."""
        if self.LINK in self.custodian:
            return None
        try:
            self.custodian.derive_shared_key(self.LINK, self._private, reply)
        except KMSError as exc:
            return f"the terminal cannot finish the exchange with that reply ({type(exc).__name__})"
        return None

    def __repr__(self) -> str:
        return "Terminal(the replacement shop terminal; send head office terminal.public)"


q1 = Exercise(
    1,
    "recall",
    f"Open the store as `kms`, and make an AES-256-GCM key-encryption key called {KEY_ID!r} in it.",
    _check_q1,
    "KeyCustodian.open(path, passphrase=...) opens the store; establish_aes_key makes a GCM key by default.",
    f'kms = KeyCustodian.open(path, passphrase=PASSPHRASE)\nkms.establish_aes_key("{KEY_ID}")\nq1.check(kms)',
)
q2 = Exercise(
    2,
    "apply",
    f"Encrypt `REPORT` into an envelope under {KEY_ID!r}, bound to the associated data {CONTEXT!r}; keep it in "
    "`report_envelope`.",
    _check_q2,
    "encrypt_envelope(key_id, data, associated_data=...) returns the envelope.",
    f'report_envelope = kms.encrypt_envelope("{KEY_ID}", REPORT, associated_data="{CONTEXT}")\n'
    "q2.check(kms, report_envelope)",
)
q3 = Exercise(
    3,
    "apply",
    f"A copy of `report_envelope` was on the stolen terminal. Rotate {KEY_ID!r}, then rewrap your envelope to the "
    "new version as `report_envelope_v2`: the data's bytes must not change.",
    _check_q3,
    "rotate_key adds a version; rewrap_envelope needs the same associated_data as the original.",
    f'kms.rotate_key("{KEY_ID}")\n'
    f'report_envelope_v2 = kms.rewrap_envelope("{KEY_ID}", report_envelope, associated_data="{CONTEXT}")\n'
    "q3.check(kms, report_envelope, report_envelope_v2)",
)
q4 = Exercise(
    4,
    "apply",
    f"Revoke version 1 of {KEY_ID!r} only, with a reason, so that the stolen copy can never be opened through the "
    "custodian again.",
    _check_q4,
    "invalidate_key takes version=... and reason=...; the newest version cannot be revoked alone.",
    f'kms.invalidate_key("{KEY_ID}", version=1, reason="a copy was on the stolen terminal")\n'
    "q4.check(kms, report_envelope)",
)
q5 = Exercise(
    5,
    "build",
    "Make an Ed25519 signing key 'auditor' and sign an audit checkpoint for the auditor, with its public key. Then "
    "restart: close `kms` and open the store again as `kms2`. Pass (kms2, checkpoint, public_key, report_envelope_v2).",
    _check_q5,
    "generate_signing_key, sign_audit_checkpoint and export_public_key; then kms.close() and KeyCustodian.open again.",
    'kms.generate_signing_key("auditor")\n'
    'checkpoint = kms.sign_audit_checkpoint("auditor")\n'
    'public_key = kms.export_public_key("auditor")\n'
    "kms.close()\n"
    "kms2 = KeyCustodian.open(path, passphrase=PASSPHRASE)\n"
    "q5.check(kms2, checkpoint, public_key, report_envelope_v2)",
)


def _check_q6(kms: object, terminal: object, reply: object) -> str | None:  # noqa: PLR0911 - a message per mistake
    custodian = student_custodian(kms)
    if not isinstance(terminal, Terminal):
        return "terminal should be the Terminal() whose public key you accepted."
    if custodian.store_path is None:
        return "accept the exchange in the reopened store's custodian (kms2), so that the new link is kept."
    if Terminal.LINK not in custodian:
        return f"head office has no key {Terminal.LINK!r}: accept_key_exchange({Terminal.LINK!r}, terminal.public)."
    problem = terminal.finish(reply)
    if problem is not None:
        return problem
    if custodian.key_info(Terminal.LINK).fingerprint != terminal.custodian.key_info(Terminal.LINK).fingerprint:
        return "the terminal and head office hold different keys: was the reply made for terminal.public?"
    made = [e for e in custodian.audit_log if e.key_id == Terminal.LINK and e.outcome == "ok"]
    if not made or made[0].operation != "accept_key_exchange":
        return "the audit log shows no accepted exchange for the new link: use accept_key_exchange."
    token = terminal.custodian.encrypt_data_aes(Terminal.LINK, "sales=1990", associated_data="2026-01-08")
    if custodian.decrypt_data_aes(Terminal.LINK, token, associated_data="2026-01-08") != "sales=1990":
        return "head office cannot read the terminal's figures."  # pragma: no cover
    return None


q6 = Exercise(
    6,
    "build",
    "The replacement terminal comes online after the restart and sends its hybrid public key, `terminal.public`. "
    f"Accept the exchange in `kms2` as the new link {Terminal.LINK!r}. Pass (kms2, terminal, reply).",
    _check_q6,
    "accept_key_exchange(key_id, initiator_public) keeps the key and returns the reply to send back.",
    f'terminal = Terminal()\nreply = kms2.accept_key_exchange("{Terminal.LINK}", terminal.public)\n'
    "q6.check(kms2, terminal, reply)",
)

#: The exercises in order.
EXERCISES = (q1, q2, q3, q4, q5, q6)
