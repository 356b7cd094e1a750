"""Helpers the course's notebooks share, so that no notebook copies code from another.

- :func:`classroom_clock`: a deterministic clock for custodians shown in notebooks;
- :func:`tamper`: flip bits inside a token's payload, for the tampering lessons;
- :func:`cbc_token`: a CBC token built from an IV and ciphertext blocks, as an attacker builds one;
- :func:`rewrite_log` and :func:`rechain`: edit an audit log and recompute every hash, as a forger would;
- :data:`____`: the blank that "your turn" cells start with;
- :mod:`kmslib.course.pictures`: the matplotlib pictures (imported on demand);
- :mod:`kmslib.course.exercises`: exercises and quizzes (``check``, ``hint``, ``solution``);
- :mod:`kmslib.course.lesson01` ... : each lesson's exercises and quiz;
- :mod:`kmslib.course.hardware`: lesson 10's practice token (SoftHSM2) and Clulow's attack;
- :mod:`kmslib.course.certificates`: lesson 11's course PKI and a relying party that skips status;
- :mod:`kmslib.course.capstone`: the capstone's exercise checkers.

Like :mod:`kmslib.widgets`, this package is never imported by ``import kmslib``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from kmslib.audit import GENESIS, AuditEntry
from kmslib.course.exercises import blank
from kmslib.tokens import AES_CBC, format_token, parse_token

__all__ = ["COURSE", "____", "cbc_token", "classroom_clock", "rechain", "rewrite_log", "tamper"]

#: The notebooks of the course, in order: (file name, title).
COURSE = (
    ("00_start_here.ipynb", "Start here"),
    ("01_aes.ipynb", "AES: symmetric encryption"),
    ("02_rsa.ipynb", "RSA: public-key encryption"),
    ("03_diffie_hellman.ipynb", "Diffie-Hellman: agreeing a key in public"),
    ("04_revocation_and_lifecycle.ipynb", "Revocation and the key lifecycle"),
    ("05_key_states.ipynb", "Key states and cryptoperiods"),
    ("06_envelope_encryption.ipynb", "Envelope encryption: data keys"),
    ("07_signatures_and_trust.ipynb", "Signatures and trust"),
    ("08_sealed_storage.ipynb", "Sealed storage: where the root key lives"),
    ("09_access_control.ipynb", "Access control: who may use a key"),
    ("10_keys_in_hardware.ipynb", "Keys in hardware: PKCS#11, auto-unseal, wrapped import and a key ceremony"),
    ("11_certificates_and_revocation.ipynb", "Certificates and revocation: telling the relying parties"),
    ("12_capstone.ipynb", "Capstone: a stolen terminal, and the decisions of the response"),
)


#: The blank in "your turn" cells (as in Kaggle's learntools).
____ = blank


def classroom_clock(start: datetime | None = None, step: timedelta = timedelta(seconds=1)) -> Callable[[], datetime]:
    """A clock for ``KeyCustodian(clock=...)`` that starts at a fixed time and ticks ``step`` per call.

    Notebooks use it so that timestamps in their outputs are the same on every run.

    Args:
        start: the first time (default 2026-01-05 09:00 UTC, a Monday morning class).
        step: how far each reading moves the clock.

    Returns:
        A callable returning timezone-aware UTC datetimes.
    """
    now = [start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)]

    def clock() -> datetime:
        current = now[0]
        now[0] = current + step
        return current

    return clock


def tamper(token: str, index: int, mask: int | bytes) -> str:
    """Return ``token`` with payload byte(s) from ``index`` XORed with ``mask``; the header is kept.

    Args:
        token: a kmslib token.
        index: the first payload byte to change (0 is the first byte of the nonce or IV).
        mask: one int (0-255) for one byte, or bytes to XOR from ``index`` on.

    Returns:
        The tampered token, still well-formed.

    Raises:
        DecryptionError: ``token`` is malformed.
        ValueError: the mask runs past the end of the payload.
    """
    version, algorithm, payload = parse_token(token)
    masks = bytes([mask]) if isinstance(mask, int) else bytes(mask)
    if not 0 <= index <= len(payload) - len(masks):
        raise ValueError(f"the payload has {len(payload)} bytes; cannot change {len(masks)} from index {index}")
    changed = bytearray(payload)
    for offset, value in enumerate(masks):
        changed[index + offset] ^= value
    return f"kms:v{version}:{algorithm}:{base64.b64encode(bytes(changed)).decode('ascii')}"


def rewrite_log(jsonl: str, index: int, **changes: object) -> str:
    """Edit entry ``index`` of an exported audit log and recompute every hash from there on.

    This is what anyone who can write to the log can do: the result is a consistent chain, so
    it verifies on its own. Only a head saved earlier, and kept out of the forger's reach, shows
    the edit.

    Args:
        jsonl: a log exported by ``AuditLog.to_jsonl()``.
        index: the entry to edit (its ``seq``).
        changes: new values for the entry's fields, such as ``outcome="ok"``.

    Returns:
        The forged log, as JSON lines.

    Raises:
        ValueError: no entry ``index``, a field that entries do not have, or a time that is not one.
    """
    entries = [AuditEntry.from_dict(json.loads(line)) for line in jsonl.splitlines() if line.strip()]
    if not 0 <= index < len(entries):
        raise ValueError(f"the log has {len(entries)} entries; there is no entry {index}")
    fields = {field.name for field in dataclasses.fields(AuditEntry)} - {"seq", "prev_hash", "hash"}
    if not set(changes) <= fields:
        raise ValueError(f"entries have the fields {sorted(fields)}, not {sorted(set(changes) - fields)}")
    if "time" in changes:
        changes["time"] = _as_time(changes["time"])
    entries[index] = dataclasses.replace(entries[index], **changes)  # type: ignore[arg-type]
    return "".join(json.dumps(entry.to_dict()) + "\n" for entry in rechain(entries))


def _as_time(value: object) -> datetime:
    """A forged entry's time: a timezone-aware datetime, or ISO 8601 text such as ``"2026-01-05T09:00:00+00:00"``."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"time must be ISO 8601 text, such as '2026-01-05T09:00:00+00:00': {value!r}") from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError("time must be a datetime with its timezone, or ISO 8601 text with an offset")
    return value


def rechain(entries: list[AuditEntry]) -> list[AuditEntry]:
    """Recompute every ``seq``, ``prev_hash`` and ``hash`` of ``entries``: a consistent chain, as anyone can make one.

    Args:
        entries: audit entries, in the order the forged log should have them.

    Returns:
        New entries that chain from the first to the last.
    """
    out: list[AuditEntry] = []
    prev = GENESIS
    for seq, entry in enumerate(entries):
        fresh = dataclasses.replace(entry, seq=seq, prev_hash=prev)
        out.append(dataclasses.replace(fresh, hash=fresh.expected_hash()))
        prev = out[-1].hash
    return out


def cbc_token(iv: bytes, ciphertext: bytes, version: int = 1) -> str:
    """A version-``version`` ``aes-256-cbc`` token of ``iv`` and ``ciphertext``, built by hand as the format says.

    Args:
        iv: 16 bytes.
        ciphertext: whole 16-byte blocks.
        version: the key version the token names.

    Raises:
        ValueError: an IV that is not 16 bytes, or ciphertext that is not whole blocks.
    """
    if len(iv) != 16 or not ciphertext or len(ciphertext) % 16:
        raise ValueError("a CBC token is a 16-byte IV and one or more whole 16-byte blocks")
    return format_token(version, AES_CBC, bytes(iv) + bytes(ciphertext))
