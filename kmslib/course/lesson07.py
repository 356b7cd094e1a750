"""Lesson 07 (sealed storage): what the notebook shows, four checked exercises, and the quiz.

- :func:`workspace`: a fresh folder for the lesson's store files;
- :func:`mistype`: a share with one word changed to another valid word, for the checksum to catch;
- :func:`describe_shares`: what a set of shares says about itself (count, words, threshold), never the words;
- :func:`attacker_view`: the store file read with ``sqlite3``, as whoever copied it reads it;
- :func:`found_in_files`: whether some bytes appear anywhere in a store's files (its WAL included);
- :func:`crash_demo`: a real process killed with SIGKILL in the middle of key changes, and what survived.

Exercises:

- ``q1`` (recall): a store whose unseal key is split into 5 shares, any 3 of which open it;
- ``q2`` (apply): open it with three shares, keep a key and encrypt with it, and close it again;
- ``q3`` (break): swap two keys' sealed rows in a copy of the file, as an attacker would, and see it refused;
- ``q4`` (apply): a share holder leaves: rekey to new shares, so that the old ones open nothing.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kmslib.course.exercises import Exercise, Question, Quiz, kind
from kmslib.custodian import KeyCustodian
from kmslib.errors import KMSError, StoreError, UnsealError
from kmslib.unsealing import share_progress

__all__ = [
    "PAYROLL",
    "AttackerView",
    "CrashReport",
    "attacker_view",
    "crash_demo",
    "describe_shares",
    "found_in_files",
    "mistype",
    "q1",
    "q2",
    "q3",
    "q4",
    "quiz",
    "workspace",
]

#: The record exercise 2 encrypts.
PAYROLL = "2026-01: Ana 4100, Ben 3900, Chen 4250"


def workspace() -> Path:
    """A new, empty folder for this lesson's store files (in the system's temporary folder)."""
    return Path(tempfile.mkdtemp(prefix="kmslib-lesson07-"))


def mistype(share: str, position: int = 5) -> str:
    """``share`` with one word replaced by another word of SLIP-0039's list: the mistake a checksum is for."""
    words = share.split()
    words[position] = "academic" if words[position] != "academic" else "acid"
    return " ".join(words)


def describe_shares(shares: list[str]) -> str:
    """How many shares, of how many words, and how many of them open the store; never their words."""
    have, need = share_progress(shares)
    words = sorted({len(share.split()) for share in shares})
    return f"{have} distinct shares of {'/'.join(map(str, words))} words each; any {need} of them unseal the store"


@dataclass(frozen=True)
class AttackerView:
    """What the store file shows to whoever copied it: its tables, read with ``sqlite3``."""

    keys: list[tuple[str, str, str, int, str]]
    sealed: list[tuple[str, int, str, int]]
    audit_records: int
    meta: list[str]

    def __repr__(self) -> str:
        lines = ["keys (readable: id, kind, algorithm, newest version, state):"]
        lines += [f"  {row}" for row in self.keys]
        lines.append("versions (key id, version, algorithm, length of the sealed blob: nonce + key + tag):")
        lines += [f"  {row}" for row in self.sealed]
        lines.append(f"audit: {self.audit_records} records, hash-chained")
        lines.append(f"meta: {', '.join(self.meta)}")
        return "\n".join(lines)


def attacker_view(path: str | os.PathLike[str]) -> AttackerView:
    """Read a closed store file with the standard library's ``sqlite3`` (read-only), as an attacker would.

    Raises:
        StoreError: the file is held open by a custodian (close it first), or is not a store.
    """
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True)
        try:
            keys = db.execute("SELECT key_id, kind, algorithm, newest, state FROM keys ORDER BY position").fetchall()
            sealed = db.execute(
                "SELECT key_id, version, algorithm, length(sealed) FROM versions ORDER BY key_id, version"
            ).fetchall()
            audit = db.execute("SELECT coalesce(sum(count), 0) FROM audit").fetchone()[0]
            meta = [row[0] for row in db.execute("SELECT name FROM meta ORDER BY name")]
        finally:
            db.close()
    except sqlite3.Error as exc:
        problem = f"the file cannot be read ({exc}): close the custodian that holds it first"
    else:
        return AttackerView(keys, sealed, audit, meta)
    raise StoreError(problem)


def found_in_files(path: str | os.PathLike[str], secret: bytes) -> bool:
    """Whether ``secret`` appears anywhere in the store's files: the database, its WAL and any journal."""
    store = Path(path)
    return any(secret in file.read_bytes() for file in store.parent.glob(f"{store.name}*") if file.is_file())


@dataclass(frozen=True)
class CrashReport:
    """What a crash in the middle of key changes left behind."""

    reported: int
    missing: list[str]
    audit_verifies: bool

    @property
    def nothing_lost(self) -> bool:
        """Whether every change the process reported as done is in the reopened store."""
        return not self.missing and self.audit_verifies

    def __repr__(self) -> str:
        kept = (
            f"all {self.reported} are in the reopened store"
            if not self.missing
            else f"{len(self.missing)} are missing: {self.missing}"
        )
        log = "verifies" if self.audit_verifies else "does NOT verify"
        return (
            f"The process reported {self.reported} key changes as done, then was killed with SIGKILL in the middle "
            f"of its loop.\nReopened: {kept}; the audit log {log}."
        )


def crash_demo(path: str | os.PathLike[str], *, changes: int = 20, passphrase: str = "crash demo") -> CrashReport:  # noqa: S107 - a demo store's passphrase
    """Make a store at ``path``, let a real process change keys in it, kill it with SIGKILL, and reopen.

    The process (:mod:`kmslib.course.crash_worker`) prints each change after its call returned; it is
    killed as soon as it has printed ``changes`` of them, while it is in the middle of the next one.

    Returns:
        A :class:`CrashReport`: how many changes were reported done, which of them are missing (none,
        if the store keeps its promise), and whether the audit log verifies.
    """
    from kmslib import init_store  # noqa: PLC0415 - the store's modules only when a store is used

    init_store(path, passphrase=passphrase)
    worker = subprocess.Popen(  # noqa: S603 - this interpreter, this package's own module
        [sys.executable, "-m", "kmslib.course.crash_worker", str(path), passphrase],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert worker.stdout is not None
    reported: list[str] = []
    for line in worker.stdout:
        if line.startswith(("created", "rotated")):
            reported.append(line.strip())
            if len(reported) >= changes:
                worker.kill()  # SIGKILL on POSIX: no clean-up of any kind
                break
    worker.wait()
    worker.stdout.close()
    with KeyCustodian.open(path, passphrase=passphrase) as kms:
        missing = []
        for change in reported:
            what, key_id = change.split()
            if key_id not in kms or (what == "rotated" and kms.key_info(key_id).version < 2):
                missing.append(change)
        verifies = kms.audit_log.verify()
    return CrashReport(len(reported), missing, verifies)


# ---------------------------------------------------------------------- exercises


def _path(value: object) -> Path | str:
    if not isinstance(value, (str, os.PathLike)):
        return f"pass the store's path (a str or Path), not {kind(value)}."
    path = Path(value)
    if not path.is_file():
        return f"there is no file at {str(path)!r}: make the store with kmslib.init_store first."
    return path


def _shares(value: object, name: str = "shares") -> list[str] | str:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(s, str) for s in value):
        return f"{name} should be the list of shares (strings) that init_store or rekey returned."
    return list(value)


def _opens(path: Path, shares: list[str]) -> str | None:
    """``None`` if ``shares`` open the store (opened and closed again), else why not."""
    try:
        KeyCustodian.open(path, shares=shares).close()
    except StoreError as exc:
        if "open elsewhere" in str(exc):
            return "the store is still open: close your custodian (kms.close(), or end the with block) first."
        return f"the store refuses to open: {exc}"
    except UnsealError as exc:
        return f"those shares do not open it: {exc}"
    return None


def _answer(path: object, shares: object) -> tuple[Path, list[str]] | str:
    """The student's store and shares, or what is wrong with them."""
    store = _path(path)
    if isinstance(store, str):
        return store
    given = _shares(shares)
    if isinstance(given, str):
        return given
    return store, given


def _check_q1(path: object, shares: object) -> str | None:
    answer = _answer(path, shares)
    if isinstance(answer, str):
        return answer
    store, given = answer
    if not given:
        return "init_store returned no shares: that is a passphrase store. Pass shares=5, threshold=3 instead."
    have, need = share_progress(given)
    if have != 5:
        return f"there are {have} distinct shares: make 5, one for each holder."
    if need != 3:
        return f"any {need} of your shares open the store: the task asks for any 3 (threshold=3)."
    return _opens(store, given[:3]) or _opens(store, given[2:])


q1 = Exercise(
    1,
    "recall",
    "Make a new store at `path` whose unseal key is split into 5 shares, any 3 of which open it. Pass (path, shares).",
    _check_q1,
    "kmslib.init_store(path, shares=..., threshold=...) returns the shares; it refuses a file that exists.",
    'path = folder / "exercise.db"\nshares = kmslib.init_store(path, shares=5, threshold=3)\nq1.check(path, shares)',
)


def _check_q2(path: object, shares: object, token: object) -> str | None:
    answer = _answer(path, shares)
    if isinstance(answer, str):
        return answer
    store, given = answer
    if not isinstance(token, str):
        return f"token should be the text token encrypt_data_aes returned, not {kind(token)}."
    problem = _opens(store, given)
    if problem is not None:
        return problem
    with KeyCustodian.open(store, shares=given) as kms:
        if "payroll" not in kms:
            return "the store has no key 'payroll': make it while the store is open."
        try:
            plaintext = kms.decrypt_data_aes("payroll", token)
        except KMSError as exc:
            return f"the token does not decrypt with 'payroll' ({type(exc).__name__}): encrypt with that key."
    if plaintext != PAYROLL:
        return "the token holds another text: encrypt PAYROLL."
    return None


q2 = Exercise(
    2,
    "apply",
    "Open your store with three of its shares, make an AES-256-GCM key 'payroll', encrypt `PAYROLL` with it, and "
    "close the custodian. Pass (path, shares, token): the key must still be there after the restart.",
    _check_q2,
    "KeyCustodian.open(path, shares=...) in a with block: the key is saved before establish_aes_key returns.",
    "with KeyCustodian.open(path, shares=shares[:3]) as kms:\n"
    '    kms.establish_aes_key("payroll")\n'
    '    token = kms.encrypt_data_aes("payroll", PAYROLL)\n'
    "q2.check(path, shares, token)",
)


def _check_q3(copy: object, error: object) -> str | None:
    store = _path(copy)
    if isinstance(store, str):
        return store
    if isinstance(error, UnsealError):
        return "that is an UnsealError: open the copy with its right shares, to see what the barrier does."
    if not isinstance(error, StoreError):
        return f"error should be the StoreError that opening the tampered copy raised, not {kind(error)}."
    try:
        rows = sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True)
        try:
            sealed = rows.execute("SELECT key_id, version, sealed FROM versions").fetchall()
        finally:
            rows.close()
    except sqlite3.Error:
        return "the copy cannot be read with sqlite3: copy the store file while it is closed."
    if len({blob for _, _, blob in sealed}) != len(sealed) or len(sealed) < 2:
        return "the copy should hold at least two sealed rows, swapped (each still a distinct blob)."
    if "moved from another row" not in str(error):
        return f"the store refused it for another reason ({error}): swap two keys' sealed material, nothing else."
    return None


q3 = Exercise(
    3,
    "break",
    "Make a second key in your store, then copy the closed file (shutil.copy). In the copy, swap the sealed "
    "material of two keys with sqlite3, as an attacker who can write to the disk would, and try to open the copy "
    "with your shares. Pass (copy, error): the error it raised.",
    _check_q3,
    "UPDATE versions SET sealed = ? WHERE key_id = ?, once for each key, with the other key's blob; then catch the "
    "StoreError from KeyCustodian.open.",
    "import shutil\nimport sqlite3\n\n"
    "with KeyCustodian.open(path, shares=shares[:3]) as kms:\n"
    '    kms.establish_aes_key("reports")\n'
    'copy = folder / "stolen-copy.db"\nshutil.copy(path, copy)\n'
    "db = sqlite3.connect(copy)\n"
    "(a,) = db.execute(\"SELECT sealed FROM versions WHERE key_id = 'payroll'\").fetchone()\n"
    "(b,) = db.execute(\"SELECT sealed FROM versions WHERE key_id = 'reports'\").fetchone()\n"
    "db.execute(\"UPDATE versions SET sealed = ? WHERE key_id = 'payroll'\", (b,))\n"
    "db.execute(\"UPDATE versions SET sealed = ? WHERE key_id = 'reports'\", (a,))\n"
    "db.commit()\ndb.close()\n"
    "try:\n    KeyCustodian.open(copy, shares=shares[:3])\nexcept StoreError as exc:\n    error = exc\n"
    "q3.check(copy, error)",
)


def _check_q4(path: object, old: object, new: object) -> str | None:
    store = _path(path)
    if isinstance(store, str):
        return store
    old_shares, new_shares = _shares(old, "old"), _shares(new, "new")
    for given in (old_shares, new_shares):
        if isinstance(given, str):
            return given
    assert isinstance(old_shares, list)
    assert isinstance(new_shares, list)
    have, need = share_progress(new_shares)
    if (have, need) != (4, 3):
        return f"the new set has {have} shares, any {need} of which open it: the task asks for 4, any 3."
    if set(new_shares) & set(old_shares):
        return "the new shares include old ones: rekey makes a whole new set."
    problem = _opens(store, new_shares[1:])
    if problem is not None:
        return problem
    if _opens(store, old_shares[:3]) is None:
        return (
            "the old shares still open the store: rekey it (KeyCustodian.rekey), so that the leaver's share is useless."
        )
    with KeyCustodian.open(store, shares=new_shares[:3]) as kms:
        if "payroll" not in kms:
            return "the key 'payroll' is gone: rekey replaces the unseal secret and keeps every key."
    return None


q4 = Exercise(
    4,
    "apply",
    "Ana leaves the team. Rekey your store to 4 new shares, any 3 of which open it, so that the old shares (hers "
    "included) open nothing. Pass (path, old_shares, new_shares).",
    _check_q4,
    "Open the store, then kms.rekey(current_shares, shares=..., threshold=...) returns the new shares.",
    "with KeyCustodian.open(path, shares=shares[:3]) as kms:\n"
    "    new_shares = kms.rekey(shares[:3], shares=4, threshold=3)\n"
    "q4.check(path, shares, new_shares)",
)


quiz = Quiz(
    Question(
        "What does a store's unseal key seal?",
        {"a": "Every key version in the store", "b": "Only the root key", "c": "The audit log"},
        "b",
        "The root key seals every key version; the unseal key seals only the root key. That is why a rekey "
        "re-seals one row, not every key (HashiCorp Vault's design).",
    ),
    Question(
        "With 5 shares and a threshold of 3, what do 2 shares reveal about the unseal key?",
        {"a": "Two thirds of it", "b": "Its first 22 words", "c": "Nothing at all"},
        "c",
        "Shamir's scheme hides the secret completely from fewer shares than the threshold: every secret is equally "
        "likely given any 2 of them (Shamir 1979).",
    ),
    Question(
        "A process is killed with kill -9 just after rotate_key returned. What does the store hold after a restart?",
        {
            "a": "The new version: a key change is on disk before its call returns",
            "b": "Maybe the old version only: the rotation was still in memory",
            "c": "Nothing: the store is corrupted",
        },
        "a",
        "Every key change is committed with synchronous=FULL before it returns; the lesson's crash demo kills a "
        "real process to show it.",
    ),
    Question(
        "An attacker replaces the whole store file with last month's copy. What does kmslib detect when it opens?",
        {
            "a": "The rollback: the manifest fails",
            "b": "Nothing: every part of the old file is authentic",
            "c": "That the audit log is shorter",
        },
        "b",
        "An old copy is a valid store. Only something kept elsewhere shows it: a signed audit checkpoint, or a "
        "saved head, newer than the file.",
    ),
)
