"""Lesson 06 (envelope encryption): four checked exercises, of rising difficulty, and the quiz.

- ``q1`` (recall): encrypt a report into an envelope, bound to its file name;
- ``q2`` (apply): rotate the KEK and rewrap the envelope: the data's bytes do not change;
- ``q3`` (build): build an envelope by hand around a data key from ``generate_data_key``, by the published format;
- ``q4`` (build): crypto-shredding done for real: one customer's data under a KEK of its own, and that KEK destroyed.

The checkers judge the envelopes and the custodian's state and audit log; their own decryptions run
under :func:`~kmslib.course.exercises.as_checker`, so checking again gives the same verdict.
"""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmslib.course.exercises import Exercise, Question, Quiz, as_checker, kind, student_custodian, student_entries
from kmslib.custodian import KeyCustodian
from kmslib.envelope import HEADER, MAX_WRAPPED_BYTES, DataKey, split
from kmslib.errors import DecryptionError, KeyRevokedError, KeyStateError, KMSError
from kmslib.tokens import parse_exact

__all__ = ["ACME", "ACME_CONTEXT", "ACME_KEK", "CONTEXT", "KEK", "REPORT", "q1", "q2", "q3", "q4", "quiz"]

#: The shared KEK of the exercises.
KEK = "kek"
#: The data of the exercises, and the associated data it is bound to.
REPORT = b"Quarterly report: revenue 1.2M, costs 0.9M. " * 40
CONTEXT = "file=report.pdf"
#: Exercise 4's customer: its own KEK, its records (a length no other data here has), their associated data.
ACME_KEK = "acme-kek"
ACME = b"acme ltd, order 7731: 40 crates, paid by card ending 4242.\n" * 8
ACME_CONTEXT = "customer=acme"
_NONCE, _TAG = 12, 16
_MADE = frozenset({"encrypt_envelope", "generate_data_key", "generate_data_key_without_plaintext", "rewrap_envelope"})


def _envelope(value: object, name: str) -> memoryview | str:
    """A student's envelope as a view, or which part of the format is wrong."""
    if isinstance(value, str):
        return f"{name} is a text token: an envelope is bytes (encrypt_envelope returns one)."
    if not isinstance(value, (bytes, bytearray, memoryview)):
        return f"{name} should be an envelope (bytes), not {kind(value)}."
    view = memoryview(bytes(value))  # a copy, whatever the buffer's shape (the exercises' envelopes are small)
    raw = bytes(view[: len(HEADER) + 2 + MAX_WRAPPED_BYTES])
    if not raw.startswith(b"KMSE"):
        return f"{name} is not an envelope: it should start with b'KMSE\\x01'."
    if not raw.startswith(HEADER):
        return f"{name}'s version byte, right after b'KMSE', should be 0x01."
    if len(raw) < len(HEADER) + 2:
        return f"{name} ends after its header: the 2-byte length and the wrapped token come next."
    start = len(HEADER) + 2
    (big,) = struct.unpack_from(">H", raw, len(HEADER))
    (little,) = struct.unpack_from("<H", raw, len(HEADER))
    token = raw[start : start + big]
    if not (0 < big <= MAX_WRAPPED_BYTES and token.isascii() and parse_exact(token.decode("ascii")) is not None):
        if 0 < little <= MAX_WRAPPED_BYTES and parse_exact(raw[start : start + little].decode("latin-1")) is not None:
            return f"{name}'s 2-byte length is little-endian: the format's is big-endian (struct.pack('>H', n))."
        return (
            f"{name}'s 2-byte length should be followed by the wrapped token (data_key.wrapped as ASCII bytes), "
            "and give exactly its length."
        )
    if split(view) is None:
        return f"{name} is too short: after the wrapped token come a 12-byte nonce, the ciphertext and a 16-byte tag."
    return view


def _token(view: memoryview) -> tuple[str, int, memoryview]:
    """A well-formed envelope's wrapped token, the KEK version it names, and its body (nonce, ciphertext, tag)."""
    parts = split(view)
    assert parts is not None
    parsed = parse_exact(parts[0])
    assert parsed is not None
    return parts[0], parsed[0], parts[1]


def _other_kek(custodian: KeyCustodian, view: memoryview, kek: str, contexts: tuple[str | None, ...]) -> str | None:
    """The id of another live AES-GCM key of the custodian that opens the envelope, if one does."""
    for info in custodian.list_keys():
        if info.key_id == kek or info.state != "active" or info.algorithm != "aes-256-gcm":
            continue
        for context in contexts:
            try:
                with as_checker(custodian):
                    custodian.decrypt_envelope(info.key_id, view, associated_data=context)
            except KMSError:
                continue
            return info.key_id
    return None


def _made_here(custodian: KeyCustodian, kek: str, version: int) -> bool:
    """Whether the student's own operations made a data key under ``kek`` at ``version`` (its audit log shows it)."""
    return any(
        e.key_id == kek and e.version == version and e.outcome == "ok" and e.operation in _MADE
        for e in student_entries(custodian)
    )


def _opens(custodian: KeyCustodian, view: memoryview, name: str, context: str, expected: bytes) -> str | None:
    """What is wrong with envelope ``name``, which should hold ``expected`` under :data:`KEK`, bound to ``context``."""
    data: bytes | None = None
    try:
        with as_checker(custodian):
            data = custodian.decrypt_envelope(KEK, view, associated_data=context)
    except KeyRevokedError:
        return f"the version of {KEK!r} that wrapped {name}'s data key was revoked: it opens no more."
    except DecryptionError:
        pass
    if data is not None:
        return None if data == expected else f"{name} opens, but holds other data than the exercise's."
    try:
        with as_checker(custodian):
            custodian.decrypt_envelope(KEK, view)
    except KMSError:
        pass
    else:
        return f"{name} opens without associated data: bind associated_data={context!r}."
    other = _other_kek(custodian, view, KEK, (context, None))
    if other is not None:
        return f"{name} opens under {other!r}: make it with {KEK!r}."
    if not _made_here(custodian, KEK, _token(view)[1]):
        return f"{name}'s data key was not wrapped by this custodian's {KEK!r}: was it made in another custodian?"
    return (
        f"{name} does not open with associated_data={context!r}: bind exactly that associated data (the same "
        f"string at encryption and decryption), with this custodian's {KEK!r}, and pass the envelope unchanged."
    )


def _kek_ready(custodian: KeyCustodian) -> str | None:
    if KEK not in custodian:
        return f"make the KEK {KEK!r} (an AES-256-GCM key) in your custodian first."
    info = custodian.key_info(KEK)
    if info.algorithm != "aes-256-gcm":
        return f"{KEK!r} should be an AES-256-GCM key (establish_aes_key's default mode), not {info.algorithm}."
    if info.state != "active":
        return f"your KEK {KEK!r} was revoked: every envelope under it is gone; start again with a fresh custodian."
    return None


def _check_q1(kms: object, sealed: object) -> str | None:
    custodian = student_custodian(kms)
    problem = _kek_ready(custodian)
    if problem is not None:
        return problem
    view = _envelope(sealed, "sealed")
    if isinstance(view, str):
        return view
    return _opens(custodian, view, "sealed", CONTEXT, REPORT)


q1 = Exercise(
    1,
    "recall",
    f"In `my_kms`, make an AES-256-GCM KEK {KEK!r} and encrypt `REPORT` into an envelope bound to the associated "
    f"data {CONTEXT!r} (`CONTEXT`). Pass (my_kms, sealed).",
    _check_q1,
    "establish_aes_key makes the KEK; encrypt_envelope(key_id, data, associated_data=...) returns the envelope.",
    f'my_kms.establish_aes_key("{KEK}")\nsealed = my_kms.encrypt_envelope("{KEK}", REPORT, associated_data=CONTEXT)\n'
    "q1.check(my_kms, sealed)",
)


def _check_q2(kms: object, old: object, new: object) -> str | None:
    custodian = student_custodian(kms)
    problem = _kek_ready(custodian)
    if problem is not None:
        return problem
    if custodian.key_info(KEK).version < 2:
        return f"rotate the KEK {KEK!r} first (rotate_key): there is no newer version to move to."
    old_view, new_view = _envelope(old, "old"), _envelope(new, "new")
    if isinstance(old_view, str):
        return old_view
    if isinstance(new_view, str):
        return new_view
    if bytes(old_view) == bytes(new_view):
        return (
            "old and new are the same envelope: pass the envelope from before the rotation as old, and what "
            "rewrap_envelope returned as new."
        )
    _, old_version, old_body = _token(old_view)
    _, new_version, new_body = _token(new_view)
    if bytes(old_body) != bytes(new_body):
        return (
            "the nonce, ciphertext or tag changed: the data was encrypted again. rewrap_envelope re-wraps only the "
            "data key, which is the point: rotating a KEK never touches the data."
        )
    if new_version <= old_version:
        return (
            f"new's data key is wrapped by version {new_version} of {KEK!r}, old's by version {old_version}: new "
            "should be what rewrap_envelope returned after rotate_key, under a newer version than old."
        )
    return _old_problem(custodian, old_view, new_version) or _opens(custodian, new_view, "new", CONTEXT, REPORT)


def _old_problem(custodian: KeyCustodian, old: memoryview, new_version: int) -> str | None:
    """What is wrong with q2's ``old``: it should open as it did before the rotation, unless its version is retired.

    An envelope spliced by hand (an old token around a new encryption's body) opens under no data key.
    """
    try:
        with as_checker(custodian):
            custodian.decrypt_envelope(KEK, old, associated_data=CONTEXT)
    except (KeyRevokedError, KeyStateError):  # old's version retired after the rewrap, as the lesson's own cell does
        rewrapped = any(
            e.operation == "rewrap_envelope" and e.key_id == KEK and e.version == new_version and e.outcome == "ok"
            for e in student_entries(custodian)
        )
        if not rewrapped:
            return (
                f"old's version of {KEK!r} was revoked, and the audit log shows no rewrap_envelope to version "
                f"{new_version}: move the envelope with rewrap_envelope before revoking the old version."
            )
    except KMSError:
        return (
            f"old does not open under {KEK!r} with associated_data={CONTEXT!r}: pass your envelope from exercise 1 "
            "(sealed), unchanged, as old."
        )
    return None


q2 = Exercise(
    2,
    "apply",
    f"Rotate the KEK {KEK!r} in `my_kms`, then move your envelope `sealed` to the new version with rewrap_envelope. "
    "Pass (my_kms, old, new): old is `sealed`, new what rewrap_envelope returns; the data's bytes must not change.",
    _check_q2,
    "rotate_key, then rewrap_envelope(key_id, envelope, associated_data=...) with the same associated data.",
    f'my_kms.rotate_key("{KEK}")\nold = sealed\nnew = my_kms.rewrap_envelope("{KEK}", old, associated_data=CONTEXT)\n'
    "q2.check(my_kms, old, new)",
)


def _check_q3(kms: object, data_key: object, built: object) -> str | None:
    custodian = student_custodian(kms)
    problem = _kek_ready(custodian)
    if problem is not None:
        return problem
    if not isinstance(data_key, DataKey):
        return f"data_key should be what generate_data_key({KEK!r}) returned (a DataKey), not {kind(data_key)}."
    view = _envelope(built, "built")
    if isinstance(view, str):
        return view
    token, _, body = _token(view)
    if token != data_key.wrapped:
        return (
            "built carries another wrapped key than data_key.wrapped: was it made by encrypt_envelope? Build it by "
            "hand around data_key."
        )
    generated = any(
        e.key_id == KEK and e.version == _token(view)[1] and e.outcome == "ok"
        for e in student_entries(custodian)
        if e.operation in {"generate_data_key", "generate_data_key_without_plaintext"}
    )
    if not generated:
        return (
            f"the audit log shows no generate_data_key({KEK!r}) at the version that wrapped data_key: make the data "
            "key with generate_data_key, then build the envelope around it by hand."
        )
    try:
        with as_checker(custodian):
            key = custodian.decrypt_data_aes(KEK, data_key.wrapped, encoding=None)
    except KeyRevokedError:
        return f"the version of {KEK!r} that wrapped data_key was revoked: make a new data key."
    except KMSError:
        return (
            f"data_key.wrapped does not unwrap under {KEK!r} with no associated data: call "
            f"generate_data_key({KEK!r}) with no associated data."
        )
    # Compared as a plain copy: a bytes subclass's own == judges nothing.
    if not isinstance(data_key.plaintext, bytes) or bytes(data_key.plaintext) != key:
        return "data_key.plaintext is not the key its wrapped token holds: use the DataKey generate_data_key returned."
    aesgcm = AESGCM(key)
    for aad in (HEADER, b"", b"KMSE"):
        try:
            data = aesgcm.decrypt(bytes(body[:_NONCE]), bytes(body[_NONCE:]), aad)
        except InvalidTag:  # try the next plausible associated data
            continue
        if aad != HEADER:
            return f"the data was encrypted with associated data {aad!r}: the format's is b'KMSE\\x01'."
        if data != REPORT:
            return "built opens, but holds other data: encrypt REPORT."
        with as_checker(custodian):  # the custodian agrees (raises nothing the lines above would not catch)
            custodian.decrypt_envelope(KEK, view)
        return None
    return (
        "the part after the token does not open under data_key.plaintext with associated data b'KMSE\\x01': it "
        "should be the 12-byte nonce you encrypted with, then what AESGCM.encrypt returned (ciphertext and tag)."
    )


q3 = Exercise(
    3,
    "build",
    f"Build an envelope `built` of `REPORT` by hand (no associated data), around a data key "
    f"`data_key = my_kms.generate_data_key({KEK!r})`: raw AESGCM for the data, and the format b'KMSE' | 0x01 | "
    "length (2 bytes, big-endian) | wrapped token | nonce | ciphertext and tag. decrypt_envelope must open it. "
    "Pass (my_kms, data_key, built).",
    _check_q3,
    "The data's associated data is b'KMSE\\x01' (plus the caller's, none here); AESGCM.encrypt returns ciphertext "
    "and tag together; struct.pack('>H', n) writes the length.",
    f"""data_key = my_kms.generate_data_key("{KEK}")
nonce = os.urandom(12)
body = nonce + AESGCM(data_key.plaintext).encrypt(nonce, REPORT, b"KMSE\\x01")
wrapped = data_key.wrapped.encode("ascii")
built = b"KMSE\\x01" + struct.pack(">H", len(wrapped)) + wrapped + body
q3.check(my_kms, data_key, built)""",
)


def _shred_problem(custodian: KeyCustodian, gone: memoryview) -> str | None:
    """What is wrong with Acme's shred: its own KEK, destroyed whole, and the envelope made under it; or ``None``."""
    if ACME_KEK not in custodian:
        return (
            f"give Acme a KEK of its own, {ACME_KEK!r}, and encrypt ACME under it. Rotating, rewrapping and revoking "
            f"a version of the shared {KEK!r} is a migration, not an erasure: the rewrapped envelope still opens "
            "the same ciphertext under the newer version."
        )
    acme = custodian.key_info(ACME_KEK)
    if acme.algorithm != "aes-256-gcm":
        return f"{ACME_KEK!r} should be an AES-256-GCM key, a KEK that encrypt_envelope can use, not {acme.algorithm}."
    if acme.state != "revoked":
        try:
            with as_checker(custodian):
                custodian.decrypt_envelope(ACME_KEK, gone, associated_data=ACME_CONTEXT)
        except KMSError:
            return (
                f"{ACME_KEK!r} still has a live version: destroy every version (invalidate_key({ACME_KEK!r}) with "
                "no version), or a rewrapped copy of Acme's data still opens."
            )
        return f"acme_sealed still opens under {ACME_KEK!r}: destroy that KEK with invalidate_key({ACME_KEK!r})."
    destroyed = any(
        e.operation == "invalidate_key" and e.key_id == ACME_KEK and e.version is None and e.outcome == "ok"
        for e in student_entries(custodian)
    )
    if not destroyed:
        return (
            f"the audit log shows no invalidate_key({ACME_KEK!r}): destroy the KEK with that call, which drops "
            "every version's material; a key record changed by hand keeps it."
        )
    if len(_token(gone)[2]) != _NONCE + len(ACME) + _TAG:
        return "acme_sealed does not hold ACME (its ciphertext has another length): pass Acme's envelope."
    other = _other_kek(custodian, gone, ACME_KEK, (ACME_CONTEXT, None))
    if other is not None:
        return f"acme_sealed opens under {other!r}: Acme's data must be under {ACME_KEK!r} alone, the KEK you destroy."
    if not _made_here(custodian, ACME_KEK, _token(gone)[1]):
        return (
            f"{ACME_KEK!r} never wrapped a data key at the version acme_sealed names: encrypt ACME with "
            f"encrypt_envelope({ACME_KEK!r}, ...) before destroying the KEK."
        )
    return None


def _check_q4(kms: object, acme_sealed: object, kept: object) -> str | None:
    custodian = student_custodian(kms)
    gone, still = _envelope(acme_sealed, "acme_sealed"), _envelope(kept, "kept")
    if isinstance(gone, str):
        return gone
    if isinstance(still, str):
        return still
    problem = _shred_problem(custodian, gone)
    if problem is not None:
        return problem
    if KEK in custodian and custodian.key_info(KEK).state == "revoked":
        return f"kept (your `new`) no longer opens: you destroyed the shared {KEK!r} too. Shred only Acme's KEK."
    problem = _kek_ready(custodian)
    if problem is not None:
        return problem
    if bytes(still) == bytes(gone):
        return "kept is Acme's envelope again: pass your envelope `new`, which must still open."
    return _opens(custodian, still, "kept", CONTEXT, REPORT)


q4 = Exercise(
    4,
    "build",
    f"Crypto-shredding for real. Customer Acme leaves: its records `ACME` must become unreadable, the other data "
    f"must not. In `my_kms`, give Acme a KEK of its own, {ACME_KEK!r}, encrypt `ACME` under it into `acme_sealed` "
    f"(associated data `ACME_CONTEXT`), then destroy that KEK, every version. Pass (my_kms, acme_sealed, new): "
    f"`new`, under {KEK!r}, must still open.",
    _check_q4,
    "establish_aes_key and encrypt_envelope as in exercise 1; invalidate_key(key_id) with no version revokes every "
    "version and drops their material. Revoking one version of the shared KEK would shred nothing: see the cell "
    "above.",
    f"""my_kms.establish_aes_key("{ACME_KEK}")
acme_sealed = my_kms.encrypt_envelope("{ACME_KEK}", ACME, associated_data=ACME_CONTEXT)
my_kms.invalidate_key("{ACME_KEK}", reason="customer left: crypto-shred its data")
q4.check(my_kms, acme_sealed, new)""",
)


quiz = Quiz(
    Question(
        "Why do KMSs wrap data keys instead of encrypting the data themselves?",
        {
            "a": "So that each data key can be revoked on its own in the KMS, without touching the KEK",
            "b": "Data may be large and far away: only a small wrapped key travels to and from the KMS, and each "
            "message gets its own key",
            "c": "So that the application can be given the KEK and encrypt locally, without a request per message",
        },
        "b",
        "AWS KMS Encrypt takes at most 4096 bytes of plaintext (AWS KMS API Reference, Encrypt); GenerateDataKey "
        "returns a key to encrypt with where the data lives. AWS KMS does not store, manage or track data keys (AWS "
        "KMS Developer Guide, 'Data keys'), so it cannot revoke one (a): it revokes the KEK, or a version of it. The "
        "KEK never leaves the KMS (c): only wrapped and plaintext data keys do.",
    ),
    Question(
        "You rotate the KEK and call rewrap_envelope. What changes in the envelope?",
        {
            "a": "The nonce and the tag too: the data key is new, so the data is encrypted again under it",
            "b": "The ciphertext: the data is encrypted again under the new KEK version, with the same data key",
            "c": "Only the wrapped data key in its header: nonce, ciphertext and tag are copied unchanged",
        },
        "c",
        "The data key stays the same; only its wrapping moves to the new KEK version (kmslib.envelope; the cell "
        "'Rotating the KEK never touches the data' prints it). rewrap_envelope first checks that the envelope is "
        "genuine (one AES-GCM decryption pass, plaintext discarded), then re-encrypts only the 32-byte data key.",
    ),
    Question(
        "A KEK wraps a fresh data key for every message, with AES-GCM and random 96-bit nonces. What limits how "
        "many messages that one KEK version may serve (NIST SP 800-38D)?",
        {
            "a": "The KEK itself: each wrap is one GCM invocation under it, and a key may make at most 2^32 with "
            "random nonces; kmslib refuses at the limit until you rotate",
            "b": "Nothing: each data key encrypts one message, so every GCM key stays at one invocation",
            "c": "About 2^48 wraps: the birthday bound of a 96-bit nonce, where a repeat becomes likely",
        },
        "a",
        "NIST SP 800-38D, section 8.3: with random 96-bit IVs, at most 2^32 invocations per key, so that the chance "
        "of a repeated nonce stays below 2^-32 (c is where a repeat becomes likely, far too late: a repeat is "
        "fatal). Data keys make one invocation each, but the KEK makes one per wrap (b forgets it); kmslib counts "
        "them per version (kmslib.usage) and raises KeyStateError at the limit.",
    ),
    Question(
        "Customer Acme leaves; its envelopes are under version 1 of the shared KEK. You rotate the KEK, rewrap every "
        "envelope, and revoke version 1. Is Acme's data erased?",
        {
            "a": "Yes: every data key wrapped by version 1 is now unreadable, so every envelope under it is shredded",
            "b": "No: the rewrapped envelopes open the same ciphertext under version 2. Erasing needs a KEK of Acme's "
            "own, with every copy of it destroyed, backups included",
            "c": "Not yet: a revoked version is only erased after the 7-to-30-day waiting period; then it is",
        },
        "b",
        "Rotate, rewrap and revoke is a migration: the data keys moved to version 2. Cryptographic erase works only "
        "when every copy of the key that protects the data is destroyed (NIST SP 800-88 Rev. 1, section 2.6; key "
        "destruction, NIST SP 800-57 Part 1 Rev. 5, section 8.3.4), so the data needs a KEK of its own. The 7-to-30-"
        "day wait (c) is AWS KMS ScheduleKeyDeletion's guard against a mistaken deletion, not a condition of "
        "revoking a version.",
    ),
)
