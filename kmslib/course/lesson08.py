"""Lesson 08 (sealed storage): what the notebook shows, four checked exercises, and the quiz.

- :func:`workspace`: a fresh folder for the lesson's store files;
- :func:`mistype`: a share with one word changed to another valid word, for the checksum to catch;
- :func:`describe_shares`: what a set of shares says about itself (count, words, threshold), never the words;
- :func:`attacker_view`: the store file read with ``sqlite3``, as whoever copied it reads it;
- :func:`found_in_files`: whether some bytes appear anywhere in a store's files (its WAL included);
- :func:`crash_demo`: a real process killed with SIGKILL in the middle of key changes, and what survived
  (which shows atomic commits; only a power loss or an operating-system crash would test durability).

Exercises:

- ``q1`` (recall): a store whose unseal key is split into 5 shares, any 3 of which open it;
- ``q2`` (apply): open it with three shares, keep a key and encrypt with it, and close it again;
- ``q3`` (break): swap two keys' sealed rows in a copy of the file, as an attacker would, and see it refused;
  the check opens the copy and swaps the rows back in a scratch copy, to find exactly that swap;
- ``q4`` (apply): a share holder leaves: rekey a copy of the store to new shares, keeping every key; the old
  shares no longer open the rekeyed copy, and still open the store from before (a backup, in effect).

Every check opens the store itself, and can be run again at any time with the same verdict: q4 rekeys a
copy, so the store that q1 to q3 judge keeps its shares.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kmslib.course.exercises import Exercise, Question, Quiz, kind
from kmslib.custodian import KeyCustodian
from kmslib.errors import KMSError, StoreError, UnsealError
from kmslib.keyinfo import KeyInfo
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
    return Path(tempfile.mkdtemp(prefix="kmslib-lesson08-"))


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
            f"of its loop.\nReopened (every seal, MAC and manifest checked, so no change is there in part): {kept}; "
            f"the audit log {log}."
        )


def crash_demo(path: str | os.PathLike[str], *, changes: int = 20, passphrase: str = "crash demo") -> CrashReport:  # noqa: S107 - a demo store's passphrase
    """Make a store at ``path``, let a real process change keys in it, kill it with SIGKILL, and reopen.

    The process (:mod:`kmslib.course.crash_worker`) prints each change after its call returned; it is
    killed as soon as it has printed ``changes`` of them, while it is in the middle of the next one.

    What this shows: each change is committed whole or not at all, and a change reported done
    outlives the process. What it cannot show is durability: after a kill the operating system still
    holds the committed writes in its page cache and writes them out, ``fsync`` or not (SQLite's
    ``synchronous=OFF`` would print the same). Only a power loss or an operating-system crash tests the
    ``fsync`` that ``synchronous=FULL`` makes before each call returns.

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


def _closed(kms: KeyCustodian) -> bool:
    try:
        kms.list_keys()
    except StoreError:
        return True
    return False


def _path(value: object, name: str = "path") -> Path | str:
    if isinstance(value, KeyCustodian):
        closed = " (a closed one)" if _closed(value) else ""
        return f"{name} should be the store's file (a str or Path), not a custodian{closed}: pass the path you opened."
    if not isinstance(value, (str, os.PathLike)):
        return f"{name} should be the store's file (a str or Path), not {kind(value)}."
    path = Path(value)
    try:
        found = path.is_file()
    except (OSError, ValueError):  # a name the file system cannot hold (too long, say): no file is there
        found = False
    if not found:
        return f"there is no file at {str(path)!r} ({name}): make the store with kmslib.init_store first."
    return path


def _shares(value: object, name: str = "shares") -> list[str] | str:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(s, str) for s in value):
        return f"{name} should be the list of shares (strings) that init_store or rekey returned."
    return list(value)


def _progress(shares: list[str], name: str = "shares") -> tuple[int, int] | str:
    """``(distinct shares, threshold)`` of a set of shares, or what is wrong with them, in plain words."""
    if not shares:
        return f"{name} is empty: pass the list of shares that init_store or rekey returned."
    try:
        return share_progress(shares)
    except KMSError as exc:
        return f"{name} are not one set of valid shares: {exc}."


def _refusal(path: Path, secret: dict[str, object]) -> KMSError | str | None:
    """Open the store and close it again: ``None`` if it opens, the error kmslib raised, or why it cannot be tried.

    An open in this process is refused by the store's registry before any file is touched, so the
    check never disturbs a custodian the student still holds.
    """
    try:
        KeyCustodian.open(path, **secret).close()  # type: ignore[arg-type]
    except StoreError as exc:
        if "another custodian in this process" in str(exc):
            return (
                f"{path.name} is open in a custodian of yours: close it (kms.close(), or end the with block) and "
                "check again."
            )
        if "which holds its lock file" in str(exc):
            return f"{path.name} is open in another process: close it there, then check again."
        if "open elsewhere" in str(exc):
            return (
                f"{path.name} is locked by another connection (an sqlite3 connection with changes not committed, "
                "or another program): commit and close it, then check again."
            )
        return exc
    except KMSError as exc:
        return exc
    return None


def _opens(path: Path, shares: list[str]) -> str | None:
    """``None`` if ``shares`` open the store (opened and closed again), else why not."""
    refused = _refusal(path, {"shares": shares})
    if isinstance(refused, UnsealError):
        return f"those shares do not open {path.name}: {refused}"
    if isinstance(refused, KMSError):
        return f"{path.name} refuses to open: {refused}"
    return refused


#: What the lesson's own store (the notebook's first cells) did first, in its audit log: (operation, key id).
_LESSON_STORY = (
    ("establish_aes_key", "payroll"),
    ("import_aes_key", "imported"),
    ("generate_signing_key", "auditor"),
    ("encrypt_data_aes", "payroll"),
)
_LESSONS_OWN = (
    "that is the lesson's own store (its cell made 'payroll', 'imported' and 'auditor', and encrypted PAYROLL), "
    "or a copy of it: make a new store of your own at path with init_store, as the task asks."
)


def _is_lesson_store(kms: KeyCustodian) -> bool:
    """Whether the store's log begins as the lesson's own store's does (its opens and closes aside)."""
    story = [(e.operation, e.key_id) for e in kms.audit_log if e.operation not in {"open", "close"}]
    return tuple(story[: len(_LESSON_STORY)]) == _LESSON_STORY


def _answer(path: object, shares: object, name: str = "path") -> tuple[Path, list[str]] | str:
    """The student's store and shares, or what is wrong with them."""
    store = _path(path, name)
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
    progress = _progress(given)
    if isinstance(progress, str):
        return progress
    have, need = progress
    if have != 5:
        return f"there are {have} distinct shares: make 5, one for each holder."
    if need != 3:
        return f"any {need} of your shares open the store: the task asks for any 3 (threshold=3)."
    problem = _opens(store, given[:3]) or _opens(store, given[2:])
    if problem is not None:
        return problem
    with KeyCustodian.open(store, shares=given) as kms:
        return _LESSONS_OWN if _is_lesson_store(kms) else None


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
        if _is_lesson_store(kms):
            return _LESSONS_OWN
        if "payroll" not in kms:
            return "the store has no key 'payroll': make it while the store is open."
        info = kms.key_info("payroll")
        if info.algorithm != "aes-256-gcm":
            return f"'payroll' is a {info.algorithm} key: the task asks for AES-256-GCM (establish_aes_key's default)."
        if not info.active:
            return "'payroll' is revoked in the store: the key must still work after the restart."
        try:
            plaintext = kms.decrypt_data_aes("payroll", token)
        except KMSError:
            plaintext = None
    if plaintext is None:
        return "the token does not decrypt with the store's 'payroll': encrypt with that key, while the store is open."
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


def _sealed_rows(store: Path, snapshot: Path) -> list[tuple[str, int, bytes]] | str:
    """Copy ``store`` (with whatever its WAL holds) to ``snapshot`` with sqlite3, and its sealed rows; or why not."""
    try:
        source = sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True)
        try:
            target = sqlite3.connect(snapshot)
            try:
                source.backup(target)
            finally:
                target.close()
            rows = source.execute("SELECT key_id, version, sealed FROM versions ORDER BY key_id, version").fetchall()
        finally:
            source.close()
    except sqlite3.Error:
        return f"{store.name} cannot be read as a store with sqlite3: copy the store's file while it is closed."
    return [(str(key_id), int(version), bytes(sealed)) for key_id, version, sealed in rows]


def _undone_swaps(store: Path, shares: list[str]) -> list[tuple[str, str]] | str:
    """Which swaps of two keys' sealed rows, undone in a scratch copy, give back a store that opens with ``shares``."""
    found: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="kmslib-lesson08-check-") as scratch:
        snapshot = Path(scratch) / "snapshot.db"
        rows = _sealed_rows(store, snapshot)
        if isinstance(rows, str):
            return rows
        for n, (first, second) in enumerate(itertools.combinations(rows, 2)):
            if first[0] == second[0]:
                continue  # two versions of one key: not the swap asked for
            trial = Path(scratch) / f"trial-{n}.db"
            shutil.copy(snapshot, trial)
            db = sqlite3.connect(trial)
            try:
                for (key_id, version, _), (_, _, blob) in ((first, second), (second, first)):
                    db.execute(
                        "UPDATE versions SET sealed = ? WHERE key_id = ? AND version = ?", (blob, key_id, version)
                    )
                db.commit()
            finally:
                db.close()
            if _refusal(trial, {"shares": shares}) is None:
                found.append((first[0], second[0]))
    return found


def _check_q3(copy: object, shares: object, error: object) -> str | None:
    answer = _answer(copy, shares, "copy")
    if isinstance(answer, str):
        return answer
    store, given = answer
    if not isinstance(error, KMSError):
        return f"error should be the StoreError that opening the copy raised (catch it with except), not {kind(error)}."
    refused = _refusal(store, {"shares": given})
    if isinstance(refused, str):
        return refused
    if refused is None:
        return (
            f"{store.name} opens with your shares: nothing in it was swapped. Change the copy with sqlite3 "
            "(and commit before you close the connection)."
        )
    if isinstance(refused, UnsealError):
        return f"your shares do not unseal {store.name} ({refused}): pass the shares the copied store opens with."
    swaps = _undone_swaps(store, given)
    if isinstance(swaps, str):
        return swaps
    if len(swaps) != 1:
        return (
            f"{store.name} is refused, but not for one swap of two keys' sealed rows: it was changed in some other "
            "way too, or more than once. Start again from a fresh copy of the closed store, and swap only the "
            "sealed column of two keys' rows in the versions table."
        )
    if not isinstance(error, StoreError) or str(error) != str(refused):
        return (
            f"that is not the error opening {store.name} raises: pass the StoreError that "
            "KeyCustodian.open(copy, shares=...) raised."
        )
    return None


def _praise_q3(copy: object, shares: object, error: object) -> str:
    return f"The swap was found and refused: {error}"


q3 = Exercise(
    3,
    "break",
    "Make a second key in your store, then copy the closed file (shutil.copy). In the copy, swap the sealed "
    "material of two keys with sqlite3, as an attacker who can write to the disk would, and try to open the copy "
    "with your shares. Pass (copy, shares, error): error is what KeyCustodian.open raised. The check opens the copy "
    "itself, and swaps the rows back in a scratch copy to see that exactly that swap was made.",
    _check_q3,
    "UPDATE versions SET sealed = ? WHERE key_id = ?, once for each key, with the other key's blob; commit; then "
    "catch the StoreError from KeyCustodian.open.",
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
    "q3.check(copy, shares, error)",
    _praise_q3,
)


def _keys(path: Path, shares: list[str]) -> dict[str, KeyInfo]:
    with KeyCustodian.open(path, shares=shares) as kms:
        return {info.key_id: info for info in kms.list_keys()}


def _q4_answer(path: object, team: object, old: object, new: object) -> tuple[Path, Path, list[str], list[str]] | str:
    """The two stores and the two sets of shares, or what is wrong with them (before anything is opened)."""
    backup, live = _path(path), _path(team, "team")
    if isinstance(backup, str):
        return backup
    if isinstance(live, str):
        return live
    if backup.resolve() == live.resolve() or backup.samefile(live):
        return "team is path itself: copy path to a new file (shutil.copy) and rekey the copy."
    old_shares, new_shares = _shares(old, "old_shares"), _shares(new, "new_shares")
    if isinstance(old_shares, str):
        return old_shares
    if isinstance(new_shares, str):
        return new_shares
    progress = _progress(new_shares, "new_shares")
    if isinstance(progress, str):
        return progress
    if progress != (4, 3):
        return f"the new set has {progress[0]} shares, any {progress[1]} of which open it: the task asks for 4, any 3."
    if set(new_shares) & set(old_shares):
        return "the new shares include old ones: rekey makes a whole new set."
    return backup, live, old_shares, new_shares


def _check_q4(path: object, team: object, old: object, new: object) -> str | None:
    answer = _q4_answer(path, team, old, new)
    if isinstance(answer, str):
        return answer
    backup, live, old_shares, new_shares = answer
    problem = _opens(live, new_shares[1:]) or _opens(live, new_shares[:3])
    if problem is not None:
        return problem
    refused = _refusal(live, {"shares": old_shares})
    if refused is None:
        return "the old shares still open team: rekey it (kms.rekey), so that they no longer open this file."
    if isinstance(refused, str):
        return refused
    kept = _refusal(backup, {"shares": old_shares})
    if isinstance(kept, UnsealError):
        return (
            "the old shares no longer open path: rekey the copy team, and leave path as it was (exercises 1 to 3 "
            "judge it, and it plays the backup from before the rekey)."
        )
    if kept is not None:
        return kept if isinstance(kept, str) else f"path refuses to open: {kept}"
    before, after = _keys(backup, old_shares), _keys(live, new_shares)
    if "payroll" not in after:
        return "team has no key 'payroll': copy the store that holds your keys, then rekey the copy."
    missing = sorted(set(before) - set(after))
    if missing:
        return (
            f"team has no key {missing[0]!r}, which path holds: copy path as it is now (after exercise 3), then "
            "rekey the copy, keeping every key."
        )
    for key_id, info in after.items():
        if before.get(key_id) != info:
            return (
                f"the key {key_id!r} in team differs from path's (its state, versions or material): a rekey changes "
                "who can unseal, never the keys. Copy path again and only rekey the copy."
            )
    return None


def _praise_q4(path: object, team: object, old: object, new: object) -> str:
    return (
        "The old shares no longer open team, and they still open path, the copy from before the rekey: "
        "destroying such backups is part of the rekey."
    )


q4 = Exercise(
    4,
    "apply",
    'Ana leaves the team. Copy your closed store to `team = folder / "team.db"` (`path` stays as it is: it plays '
    "the backup taken before the rekey, and exercises 1 to 3 keep judging it). Rekey `team` to 4 new shares, any 3 "
    "of which open it, keeping every key as it is. Pass (path, team, shares, new_shares): the old shares (Ana's "
    "included) must no longer open `team`.",
    _check_q4,
    "shutil.copy(path, team); open team with three old shares; kms.rekey(current_shares, shares=..., "
    "threshold=...) returns the new shares.",
    'team = folder / "team.db"\nshutil.copy(path, team)\n'
    "with KeyCustodian.open(team, shares=shares[:3]) as kms:\n"
    "    new_shares = kms.rekey(shares[:3], shares=4, threshold=3)\n"
    "q4.check(path, team, shares, new_shares)",
    _praise_q4,
)


quiz = Quiz(
    Question(
        "What does a store's unseal key seal?",
        {
            "a": "Every key version in the store",
            "b": "The root key, and nothing else",
            "c": "The root key and the audit log",
        },
        "b",
        "The unseal key seals only the root key (the meta row 'root'); the root key seals every key version and "
        "MACs every key row, and the audit log is hash-chained, not sealed. That is HashiCorp Vault's barrier "
        "(Vault, Seal/Unseal; kmslib/store.py). kmslib's rekey replaces both: a new unseal key, and a new root key "
        "that re-seals every row.",
    ),
    Question(
        "The unseal key, 256 random bits, is split with SLIP-0039 into 5 shares, any 3 of which open the store. "
        "What do 2 shares tell whoever holds them about the key?",
        {
            "a": "Nothing at all: every value of the key stays equally likely, as in Shamir's scheme",
            "b": "About two thirds of the key's bits",
            "c": "Enough to narrow it down to about 2^224 of its 2^256 possible values, no more",
        },
        "c",
        "SLIP-0039 puts a digest of the secret on the polynomial (share index 254: 4 bytes of HMAC-SHA256 and random "
        "padding), so that a wrong set of shares is caught. Its price, in the spec's design rationale ('Digest'): "
        "with T - 1 shares, a brute-force search over the secret's values, keeping those whose digest fits, cuts its "
        "entropy by 32 bits. Plain Shamir (1979) would reveal nothing; here 224 bits remain, far beyond any search, "
        "which is why SLIP-0039 asks for secrets of at least 128 bits.",
    ),
    Question(
        "The last three words of a share are an RS1024 checksum. What does it catch?",
        {
            "a": "Up to three mistyped or misread words in that share",
            "b": "A share a dishonest holder made up",
            "c": "Both: a share with a valid checksum is a genuine share",
        },
        "a",
        "The checksum is computed from the share's own words with a public formula, so whoever makes up a share "
        "gives it a valid checksum; what it guarantees is to detect any error in at most 3 words (SLIP-0039, "
        "'Checksum'). A made-up share is caught only when the shares are combined: the digest fails (SLIP-0039, "
        "design rationale, 'Digest'), and the store refuses to unseal without saying whose share was wrong.",
    ),
    Question(
        "crash_demo kills a process with SIGKILL in the middle of its key changes, and the reopened store holds "
        "every change the process reported. What does that show?",
        {
            "a": "That every reported change was on the disk itself: the fsync of synchronous=FULL did its job",
            "b": "That each change is there whole or not at all, and what was reported done outlived the process",
            "c": "That the store would also survive a power cut in the middle of a change",
        },
        "b",
        "After a SIGKILL the operating system still holds the process's committed writes in its page cache and writes "
        "them out later, fsync or not: the demo would print the same with synchronous=OFF (the tests show it with "
        "plain SQLite). It shows atomic, consistent commits (SQLite, 'Atomic Commit In SQLite'). Durability, the "
        "fsync before a call returns (SQLite's PRAGMA synchronous=FULL), shows only when the power fails or the "
        "operating system crashes, which a notebook cannot stage.",
    ),
    Question(
        "Ben leaves, and the store is rekeyed to new shares. Ben kept his share, and last week's backup of the file "
        "is on a file server. What do Ben's share and two other old shares open?",
        {
            "a": "Nothing: the rekey rotated the root key",
            "b": "The rekeyed store, until it is restarted",
            "c": "Last week's backup, with every key in it; not the rekeyed store",
        },
        "c",
        "kmslib's rekey makes a new root key and re-seals every row of the live file under it, so the old shares open "
        "nothing in that file. The backup is another file: it still holds the old root key sealed under the old "
        "unseal key, and the old shares open it (README, 'Rekey rotates the root key'). Destroying the backups taken "
        "before, with the old shares, is part of the procedure (NIST SP 800-57 Part 1, section 8.3.4: key "
        "destruction).",
    ),
)
