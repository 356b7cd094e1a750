"""A tamper-evident audit log: every key operation, hash-chained.

Every operation that uses or changes a key is recorded, failures included. Reading metadata
(``key_info``, ``list_keys``) is not: it reveals nothing secret, and a live view such as the
course's dashboard, which re-reads the keys after each entry, would otherwise flood the log.

Each :class:`AuditEntry` records the UTC time, the operation, the key id, the key version,
the outcome and the principal who called (``"owner"`` for the plain custodian), never plaintext,
tokens, credentials or key material. The outcome is ``"ok"``, the name of
the kmslib error the operation raised, or ``"error:<name>"`` for any other exception, so that
no failure can ever read as ``"ok"``. An entry's ``hash`` is SHA-256 over its own fields and the
previous entry's hash.

What the chain proves, and what it does not:

- Checked on its own, a chain proves only that it is internally consistent. Anyone who can
  rewrite the log can recompute every hash after an edit, and a log whose tail was cut is
  just as consistent.
- Checked against a **head kept elsewhere** (a :attr:`AuditLog.head` saved earlier, outside the
  reach of whoever could rewrite the log, or the head of a signed checkpoint), it proves that no
  entry up to that head was edited, removed, inserted or reordered, and that the log was not
  cut before it: :meth:`AuditLog.verify` and :meth:`AuditLog.verify_jsonl` take ``head=``.
  Entries after the head are growth since it was taken; they must chain on from it, but
  nothing outside vouches for them until a later head is saved.
- A signed checkpoint (``KeyCustodian.sign_audit_checkpoint``) proves that the log keeper's key
  vouched for that head, at that entry count, at that time. It does not stop the keeper from
  signing a checkpoint of a different history later; an auditor who kept an earlier checkpoint
  detects that, because the new log no longer extends it. It is not Certificate Transparency
  (RFC 9162): there are no Merkle inclusion or consistency proofs, and no gossip between
  auditors, so an auditor sees a forked history only by comparing checkpoints with others.

The log hands out copies of its entries, never its own. Recording sits on the path of every
encryption, so it costs little: an operation appends one immutable record of plain values to
a private list (``list.append`` is atomic), and the hash chain is computed, in order, the
first time anyone reads the log (or at once, when someone has subscribed to it). A custodian
opened from a sealed store saves the records, in batches, from a thread of its own
(:mod:`kmslib.store`).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, overload

from kmslib import errors
from kmslib._checks import plain_key_id
from kmslib.policy import OWNER

__all__ = [
    "CHECKPOINT_CONTEXT",
    "GENESIS",
    "KEY_CHANGES",
    "AuditEntry",
    "AuditLog",
    "Audited",
    "checkpoint_statement",
    "outcome",
    "verify_chain",
]

#: The ``prev_hash`` of the first entry, and the head of an empty log.
GENESIS = "0" * 64

#: How every checkpoint statement begins. ``KeyCustodian.sign`` refuses any message that begins with it, so
#: whoever may call ``sign`` with a key cannot make a checkpoint of it (domain separation, NIST SP 800-57 Pt 1 §5.2).
CHECKPOINT_CONTEXT = b"kmslib-checkpoint:"


def checkpoint_statement(count: int, head: str, time: datetime) -> bytes:
    """What a checkpoint's signature covers: ``kmslib-checkpoint:v1:<entries>:<head>:<time>``, in ASCII."""
    return CHECKPOINT_CONTEXT + f"v1:{count}:{head}:{time.isoformat()}".encode("ascii")


#: kmslib's own error classes: the only outcomes recorded by their bare name.
_OWN_ERRORS = frozenset(
    cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.KMSError)
)


def outcome(exc: BaseException) -> str:
    """The outcome recorded for an operation that raised ``exc``.

    kmslib's own errors are recorded by class name (``"DecryptionError"``); any other exception
    as ``"error:<class name>"``, so that a foreign class named ``ok`` cannot pass for success.
    """
    cls = type(exc)
    return cls.__name__ if cls in _OWN_ERRORS else f"error:{cls.__name__}"


def _digest(  # noqa: PLR0917 - the chained fields, in their fixed order
    seq: int,
    time: str,
    operation: str,
    key_id: str | None,
    version: int | None,
    outcome: str,
    prev: str,
    principal: str = OWNER,
) -> str:
    fields: list[object] = [seq, time, operation, key_id, version, outcome, prev]
    if principal != OWNER:  # the owner's entries hash as before principals existed: old logs still verify
        fields.append(principal)
    return hashlib.sha256(json.dumps(fields, separators=(",", ":")).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One recorded operation.

    Attributes:
        seq: the entry's position in the log, from 0.
        time: when the operation finished (timezone-aware UTC).
        operation: the custodian method's name, such as ``"encrypt_data_aes"``.
        key_id: the key the operation named, or ``None``.
        version: the key version it used, or ``None``.
        outcome: ``"ok"``, or the class name of the error it raised.
        prev_hash: the previous entry's :attr:`hash` (:data:`GENESIS` for the first).
        hash: SHA-256 over this entry's fields and ``prev_hash``, in hex.
        principal: who called: ``"owner"`` for the plain custodian, else the name of the principal
            whose view (``KeyCustodian.as_principal``) made the call. It is inside the hash: a
            principal's name is hashed after ``prev_hash``; the owner's entries hash without it, as
            they did before principals existed, so logs exported then still verify, and an entry
            moved from one principal to another (the owner included) no longer matches its hash.

    """

    seq: int
    time: datetime
    operation: str
    key_id: str | None
    version: int | None
    outcome: str
    prev_hash: str
    hash: str
    principal: str = OWNER

    def _copy(self) -> AuditEntry:
        """A copy to hand out: the log's own entries never leave it."""
        return AuditEntry(
            self.seq,
            self.time,
            self.operation,
            self.key_id,
            self.version,
            self.outcome,
            self.prev_hash,
            self.hash,
            self.principal,
        )

    def expected_hash(self) -> str:
        """The hash this entry's fields call for (equal to :attr:`hash` unless it was edited)."""
        return _digest(
            self.seq,
            self.time.isoformat(),
            self.operation,
            self.key_id,
            self.version,
            self.outcome,
            self.prev_hash,
            self.principal,
        )

    def to_dict(self) -> dict[str, Any]:
        """The entry as a JSON-ready dict (time in ISO 8601)."""
        return {
            "seq": self.seq,
            "time": self.time.isoformat(),
            "operation": self.operation,
            "key_id": self.key_id,
            "version": self.version,
            "outcome": self.outcome,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
            "principal": self.principal,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditEntry:
        """Rebuild an entry from :meth:`to_dict` output (one without ``principal``, from before it, is the owner's)."""
        return cls(
            seq=data["seq"],
            time=datetime.fromisoformat(data["time"]),
            operation=data["operation"],
            key_id=data["key_id"],
            version=data["version"],
            outcome=data["outcome"],
            prev_hash=data["prev_hash"],
            hash=data["hash"],
            principal=data.get("principal", OWNER),
        )


def verify_chain(entries: Iterable[AuditEntry], *, head: str | None = None) -> bool:
    """Check that ``entries`` form an unbroken chain from the first entry, and reach ``head``.

    Args:
        entries: the entries, in order.
        head: a head kept elsewhere: the :attr:`AuditLog.head` saved earlier (or :data:`GENESIS`,
            the head of the empty log). Without it, the check proves internal consistency only:
            a consistent rewrite or a cut tail passes.

    Returns:
        ``True`` if every entry chains to the one before it and, with ``head``, one of them
        has that hash (the entries after it are growth since the head was taken); else ``False``.

    """
    prev = GENESIS
    reached = head is None or head == GENESIS
    for seq, entry in enumerate(entries):
        if entry.seq != seq or entry.prev_hash != prev or entry.expected_hash() != entry.hash:
            return False
        prev = entry.hash
        reached = reached or prev == head
    return reached


#: What an operation leaves in the queue until the log is read: time, operation, key id, version, outcome,
#: and, for a principal's call (never the owner's), the principal's name as a sixth item.
Record = (
    tuple[datetime | float, str, str | None, int | None, str]
    | tuple[datetime | float, str, str | None, int | None, str, str]
)

#: The principal on whose behalf this thread calls the custodian (``KeyCustodian.as_principal``'s views set it);
#: ``None`` for the owner.
ACTING: ContextVar[str | None] = ContextVar("kmslib_acting_principal", default=None)


class AuditLog(Sequence[AuditEntry]):
    """The read-only, thread-safe, hash-chained sequence of a custodian's operations.

    Args:
        now: the clock entries are stamped with: a timezone-aware datetime, or seconds since
            the epoch (the default, ``time.time``: the cheapest clock to read).
    """

    def __init__(self, now: Callable[[], datetime | float] = time.time) -> None:
        self._now = now
        #: Every operation, in order, as recorded: append-only (``list.append`` is atomic).
        self._records: list[Record] = []
        #: The chain over the first ``len(_entries)`` records, extended when someone reads the log.
        self._entries: list[AuditEntry] = []
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[AuditEntry], None]] = []
        # A sealed store's writer (kmslib.store): records up to ``_saved`` are in the store. Once
        # ``_batch`` are unsaved, a new record wakes the store's writer thread; once ``_limit`` are,
        # the recording thread writes them itself, so that no more than ``_limit`` are ever unsaved.
        self._write: Callable[[int, list[Record]], None] | None = None
        self._wake: threading.Event | None = None
        self._batch = self._limit = 0
        self._saved = 0
        self._save_lock = threading.Lock()
        #: Records one operation: ``_record((time, operation, key_id, version, outcome))`` with a
        #: time from ``_now`` and a key id that is ``None`` or a valid id (kmslib's own use). While
        #: nobody has subscribed and no store saves the log, it is the list's own ``append``: no
        #: Python call on the hot path.
        self._record: Callable[[Record], None] = self._records.append
        #: What :attr:`_record` does once it has added the principal (itself while there are no principals).
        self._plain_record: Callable[[Record], None] = self._records.append
        self._principals = False

    def _append(self, operation: str, key_id: object, version: object, outcome: str) -> None:
        """Record one operation, now (kmslib's own use: the log is read-only to everyone else).

        Only plain values are recorded, so that reading the log never fails on a record.

        Args:
            operation: the operation's name.
            key_id: the key id it was given: its plain ``str`` value, cut to the longest valid
                id, or ``None`` if it is not a ``str``.
            version: the key version it used: a plain ``int``, or ``None``.
            outcome: ``"ok"`` or what :func:`outcome` made of the error.
        """
        if type(version) is not int:
            version = int.__int__(version) if isinstance(version, int) and not isinstance(version, bool) else None
        self._record((self._now(), operation, plain_key_id(key_id), version, outcome))

    def _append_as(self, principal: str, operation: str, outcome: str) -> None:
        """Record one operation on no key under ``principal``'s name, whoever is acting (kmslib's own use)."""
        self._plain_record((self._now(), operation, None, None, outcome, principal))

    def _record_and_notify(self, record: Record) -> None:
        """:attr:`_record` while someone has subscribed: record, tell the subscribers, then save if due."""
        self._records.append(record)
        self._notify()
        if self._write is not None:
            self._save_if_due()

    def _record_and_save(self, record: Record) -> None:
        """:attr:`_record` for a stored log: record; wake the writer once a batch is unsaved."""
        records = self._records
        records.append(record)
        if len(records) - self._saved >= self._batch:
            self._save_if_due()

    def _save_if_due(self) -> None:
        unsaved = len(self._records) - self._saved
        if unsaved >= self._limit:
            self.flush()  # the writer is behind: this thread writes, so that the bound holds
        elif unsaved >= self._batch and self._wake is not None and not self._wake.is_set():
            self._wake.set()

    def _notify(self) -> None:
        with self._lock:
            entries = self._chain()
            entry = entries[-1]._copy()
            subscribers = list(self._subscribers)
        for callback in subscribers:  # outside the lock: a callback may read the log
            try:
                callback(entry)
            except Exception as exc:  # noqa: BLE001 - a broken viewer must not break key operations
                warnings.warn(f"an audit log subscriber failed: {exc!r}", RuntimeWarning, stacklevel=3)

    def _chain(self) -> list[AuditEntry]:
        """Hash the records not yet on the chain, in the order they came (call with the lock held)."""
        records, entries = self._records, self._entries
        prev = entries[-1].hash if entries else GENESIS
        for seq in range(len(entries), len(records)):
            record = records[seq]
            when, operation, key_id, version, result = record[:5]
            principal = record[5] if len(record) == 6 else OWNER
            stamp = when if isinstance(when, datetime) else datetime.fromtimestamp(when, UTC)
            digest = _digest(seq, stamp.isoformat(), operation, key_id, version, result, prev, principal)
            entries.append(AuditEntry(seq, stamp, operation, key_id, version, result, prev, digest, principal))
            prev = digest
        return entries

    def _rewire(self) -> None:
        """Choose :attr:`_record` (call with the lock held): the cheapest that does what is needed."""
        if self._subscribers:
            self._plain_record = self._record_and_notify
        elif self._write is not None:
            self._plain_record = self._record_and_save
        else:
            self._plain_record = self._records.append
        self._record = self._record_as_principal if self._principals else self._plain_record

    def _record_as_principal(self, record: Record) -> None:
        """:attr:`_record` once principals exist: a principal's call is recorded with the principal's name."""
        principal = ACTING.get()
        # kmslib's records have 5 items; concatenation is faster than (*record, principal)
        self._plain_record(record if principal is None else record + (principal,))  # type: ignore[arg-type]  # noqa: RUF005

    def _enable_principals(self) -> None:
        """Name principals in new records from now on (the custodian calls it when it issues a credential)."""
        with self._lock:
            self._principals = True
            self._rewire()

    def _restore(
        self,
        records: list[Record],
        write: Callable[[int, list[Record]], None],
        wake: threading.Event,
        *,
        batch: int,
        limit: int,
    ) -> None:
        """Start from a store's records (already checked) and save new ones with ``write`` (kmslib.store's use).

        Args:
            records: the stored records, in order; their chain is recomputed when the log is read.
            write: ``write(first, records)`` stores records durably, in order; called under a lock.
            wake: set when a batch is unsaved (the store's writer thread waits on it).
            batch: how many unsaved records wake the writer.
            limit: how many unsaved records make the recording thread write them itself.
        """
        with self._lock:
            self._records = list(records)
            self._entries = []
            self._saved = len(self._records)
            self._write, self._wake, self._batch, self._limit = write, wake, max(1, batch), max(1, limit)
            self._rewire()

    def _detach(self) -> None:
        """Stop saving records (the store was closed); the log stays readable."""
        with self._lock:
            self._write = self._wake = None
            self._rewire()

    def flush(self) -> None:
        """Write the records a sealed store has not saved yet (nothing to do for an in-memory custodian).

        Raises:
            StoreError: the store could not write them; they stay in memory and a later flush retries.
        """
        with self._save_lock:
            write = self._write
            start, end = self._saved, len(self._records)
            if write is None or end == start:
                return
            write(start, self._records[start:end])
            self._saved = end

    def subscribe(self, callback: Callable[[AuditEntry], None]) -> Callable[[], None]:
        """Call ``callback(entry)`` after every new entry (a live view such as the course's dashboard).

        Args:
            callback: called in the thread that made the entry, after the operation ended.

        Returns:
            A function that unsubscribes ``callback``.
        """
        with self._lock:
            self._subscribers.append(callback)
            self._rewire()

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)
                self._rewire()

        return unsubscribe

    @overload
    def __getitem__(self, index: int) -> AuditEntry: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[AuditEntry]: ...
    def __getitem__(self, index: int | slice) -> AuditEntry | Sequence[AuditEntry]:
        with self._lock:
            found = self._chain()[index]
        if isinstance(found, list):
            return [entry._copy() for entry in found]
        return found._copy()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)  # counting needs no hashing

    def __iter__(self) -> Iterator[AuditEntry]:
        with self._lock:
            entries = list(self._chain())
        return iter([entry._copy() for entry in entries])

    @property
    def head(self) -> str:
        """The hash of the newest entry (:data:`GENESIS` while the log is empty)."""
        with self._lock:
            entries = self._chain()
            return entries[-1].hash if entries else GENESIS

    def count_and_head(self) -> tuple[int, str]:
        """The number of entries and the head, read together: the head is the hash of entry ``count - 1``."""
        with self._lock:
            entries = self._chain()
            return len(entries), entries[-1].hash if entries else GENESIS

    def _checkpoint_statement(self, now: datetime) -> bytes:
        """Save the log up to its head, then return the statement a checkpoint of that head signs.

        Raises:
            StoreError: a sealed store could not save the records; nothing is to be signed.
        """
        count, head = self.count_and_head()
        self.flush()  # saves every record up to at least ``count``: a crash cannot cut the log before it
        return checkpoint_statement(count, head, now)

    def verify(
        self, *, head: str | None = None, checkpoint: str | None = None, public_key: str | bytes | None = None
    ) -> bool:
        """Check the log's chain, against a head kept elsewhere or a signed checkpoint.

        Args:
            head: a :attr:`head` saved earlier, where whoever could rewrite the log cannot
                change it. Without it, this proves only that the chain is internally
                consistent: a consistent rewrite of the log would pass.
            checkpoint: a checkpoint from ``KeyCustodian.sign_audit_checkpoint``, as in :meth:`verify_jsonl`.
            public_key: the PEM of the key that signed ``checkpoint`` (required with it).

        Returns:
            ``True`` if the chain is unbroken and reaches ``head`` and the checkpoint's head at its
            count; entries after them are growth since.

        Raises:
            ArgumentTypeError: an argument of the wrong type, or a checkpoint without its public key.

        """
        signed = _signed(checkpoint, public_key)
        with self._lock:
            entries = list(self._chain())
        return signed is not False and _extends(entries, head, signed)

    def to_jsonl(self) -> str:
        """The log as JSON lines, one entry a line (verify it later with :meth:`verify_jsonl`)."""
        return "".join(json.dumps(entry.to_dict()) + "\n" for entry in self)

    @staticmethod
    def verify_jsonl(
        text: str, *, head: str | None = None, checkpoint: str | None = None, public_key: str | bytes | None = None
    ) -> bool:
        """Check a log exported by :meth:`to_jsonl`, against a head kept elsewhere or a signed checkpoint.

        Args:
            text: the JSON lines.
            head: a :attr:`head` saved earlier, kept apart from the export. Without it (or a checkpoint),
                this proves only internal consistency: a rewritten log with every hash recomputed, or
                one whose last lines were cut, would pass.
            checkpoint: a checkpoint from ``KeyCustodian.sign_audit_checkpoint``: the export must extend
                the head it signed.
            public_key: the PEM of the key that signed ``checkpoint`` (required with it). An auditor who
                holds this key detects a log that was cut, reordered, edited or re-chained before the
                checkpoint's head; not a different history the keeper signed later, unless the auditor
                kept an earlier checkpoint that it fails to extend.

        Returns:
            ``True`` if the chain is unbroken and reaches ``head``, and its entry number ``<entries>``
            is the checkpoint's head (lines after them are growth since); ``False`` if anything up to them
            was edited, removed, inserted or reordered, if the log was cut before them, if the checkpoint's
            count is not its head's position, if its signature does not verify with ``public_key``, or if
            a line cannot be read.

        Raises:
            ArgumentTypeError: an argument of the wrong type, or a checkpoint without its public key.

        """
        if not isinstance(text, str):
            raise errors.ArgumentTypeError(f"text must be a str, not {type(text).__name__}")
        if head is not None and not isinstance(head, str):
            raise errors.ArgumentTypeError(f"head must be a str or None, not {type(head).__name__}")
        signed = _signed(checkpoint, public_key)
        if signed is False:
            return False
        try:
            entries = [AuditEntry.from_dict(json.loads(line)) for line in text.splitlines() if line.strip()]
            return _extends(entries, head, signed)
        except (ValueError, KeyError, TypeError, AttributeError):
            return False

    def __repr__(self) -> str:
        return f"AuditLog(entries={len(self)}, head={self.head[:16]!r})"


def _extends(entries: list[AuditEntry], head: object, signed: tuple[int, str] | None) -> bool:
    """Whether ``entries`` chain unbroken, reach ``head``, and hold the signed head at its signed count."""
    if head is not None and not isinstance(head, str):
        raise errors.ArgumentTypeError(f"head must be a str or None, not {type(head).__name__}")
    if not verify_chain(entries, head=head):
        return False
    if signed is None:
        return True
    count, signed_head = signed
    if count == 0:
        return signed_head == GENESIS
    return count <= len(entries) and entries[count - 1].hash == signed_head


def _signed(checkpoint: object, public_key: str | bytes | None) -> tuple[int, str] | Literal[False] | None:
    """``None`` without a checkpoint; else its ``(count, head)``, or ``False`` if it is malformed or forged.

    A checkpoint is ``kmslib-checkpoint:v1:<entries>:<head>:<time>:<signature token>``; the signature covers
    everything before ``:kms:``.
    """
    from kmslib.signing import verify_signature  # noqa: PLC0415 - signing is only needed here

    if checkpoint is None:
        return None
    if public_key is None:
        raise errors.ArgumentTypeError("a checkpoint needs the public_key that signed it")
    if not isinstance(checkpoint, str):
        raise errors.ArgumentTypeError(f"checkpoint must be a str, not {type(checkpoint).__name__}")
    cut = checkpoint.rfind(":kms:v")
    statement, token = checkpoint[:cut], checkpoint[cut + 1 :]
    parts = statement.split(":", 4)
    if cut < 0 or len(parts) != 5 or parts[:2] != ["kmslib-checkpoint", "v1"]:
        return False
    if not (parts[2].isascii() and parts[2].isdigit() and len(parts[2]) <= 20):
        return False
    try:
        verify_signature(public_key, statement, token)
    except errors.SignatureError:
        return False
    return int(parts[2]), parts[3]


#: The operations that change a key, the store or who may use a key: their audit entries are saved before they return.
KEY_CHANGES = frozenset(
    [
        "establish_aes_key",
        "import_aes_key",
        "generate_rsa_pair",
        "import_rsa_key",
        "accept_key_exchange",
        "derive_shared_key",
        "generate_signing_key",
        "rotate_key",
        "invalidate_key",
        "rekey",
        "activate_key",
        "suspend_key",
        "resume_key",
        "deactivate_key",
        "mark_compromised",
        "set_rotation_policy",
        "rotate_key_by_policy",
        "deactivate_key_by_policy",
        "issue_credential",
        "revoke_credential",
        "set_key_policy",
        "create_grant",
        "revoke_grant",
        "approve",
    ]
)


class Audited:
    """Context manager that records one operation of a custodian in its audit log when it ends.

    An operation whose name is emptied meanwhile records nothing (a rotation by policy that another
    thread made first); a key change (:data:`KEY_CHANGES`) is saved before the call returns.
    """

    __slots__ = ("_custodian", "key_id", "operation", "version")

    def __init__(self, custodian: Any, operation: str, key_id: object = None, version: int | None = None) -> None:
        self._custodian = custodian
        self.operation = operation
        self.key_id = key_id
        self.version = version

    def __enter__(self) -> Audited:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        if not self.operation:  # nothing happened after all
            return False
        result = "ok" if exc is None else outcome(exc)
        audit = self._custodian._audit
        audit._append(self.operation, self.key_id, self.version, result)
        if exc is None and self.operation in KEY_CHANGES:
            audit.flush()  # a stored custodian saves the change's entry before the call returns
        return False
