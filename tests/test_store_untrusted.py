"""The store's unseal parameters and meta rows are untrusted input (issue 22, item 4).

Each test edits a store file with ``sqlite3`` directly, as an attacker with the file can, and
checks that opening it is refused with the right error, before any key derivation runs with the
attacker's parameters (spies record every call), without a secret in the traceback, with the
file's bytes unchanged, and with the store unlocked while the exception is still referenced.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from shamir_mnemonic import cipher
from shamir_mnemonic.share import Share

import kmslib
from helpers import ROOT, leaks
from kmslib import KeyCustodian, KMSError, StoreError, UnsealError, unsealing

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The bytes of a fresh passphrase store, of a scrypt one, and of a share store (made once: Argon2id is slow)."""
    folder = tmp_path_factory.mktemp("templates")
    made: dict[str, bytes] = {}
    kmslib.init_store(folder / "passphrase.db", passphrase=PASSPHRASE)
    made["passphrase"] = (folder / "passphrase.db").read_bytes()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(unsealing, "_argon2id", lambda: None)  # as on OpenSSL before 3.2
        kmslib.init_store(folder / "scrypt.db", passphrase=PASSPHRASE)
    made["scrypt"] = (folder / "scrypt.db").read_bytes()
    shares = kmslib.init_store(folder / "shares.db", shares=3, threshold=2)
    made["shares"] = (folder / "shares.db").read_bytes()
    made["the shares"] = "\n".join(shares).encode()
    return made


def make(templates: dict[str, bytes], tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.db"
    path.write_bytes(templates[kind])
    return path


def files_of(path: Path) -> dict[str, bytes]:
    """The store's files and their bytes; not its lock file, which any open makes (empty) and leaves in place."""
    return {
        p.name: p.read_bytes()
        for p in sorted(path.parent.iterdir())
        if p.name.startswith(path.name) and p.name != f"{path.name}.lock"
    }


def set_row(path: Path, name: str, value: object) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("UPDATE meta SET value = ? WHERE name = ?", (value, name))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def unseal_row(path: Path) -> dict[str, Any]:
    db = sqlite3.connect(path)
    (text,) = db.execute("SELECT value FROM meta WHERE name = 'unseal'").fetchone()
    db.close()
    return dict(json.loads(text))


class KdfSpy:
    """Stands in for both key-derivation functions and records every call; it derives a zero key."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[dict[str, object]] = []
        spy = self

        class Derivation:
            def __init__(self, **parameters: object) -> None:
                spy.calls.append(parameters)

            def derive(self, passphrase: bytes) -> bytes:
                return bytes(32)

        monkeypatch.setattr(unsealing, "_argon2id", lambda: Derivation)
        monkeypatch.setattr(unsealing, "Scrypt", Derivation)


def lock_free(path: Path) -> bool:
    """Whether another process can take the store's write lock now (SQLite's, which an open store holds)."""
    script = (
        "import sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)\n"
        "try:\n    db.execute('BEGIN EXCLUSIVE')\nexcept sqlite3.OperationalError:\n    sys.exit(3)\n"
        "db.execute('ROLLBACK')\ndb.close()\n"
    )
    return subprocess.run([sys.executable, "-c", script, str(path)], check=False, timeout=60).returncode == 0


def refused(path: Path, error: type[KMSError], **secret: object) -> KMSError:
    """Open ``path`` with ``secret``, expecting ``error``; check what the refusal leaves. Returns the kept error."""
    before = files_of(path)
    kept: KMSError | None = None
    try:
        KeyCustodian.open(path, **secret)  # type: ignore[arg-type]
    except KMSError as exc:
        kept = exc
    assert type(kept) is error, repr(kept)
    words = [s.encode() for s in secret.get("shares") or []] + [str(secret.get("passphrase", "")).encode()]
    assert leaks(kept, [w for w in words if w]) == []
    assert files_of(path) == before
    assert lock_free(path), "the refused open still holds the store's lock"
    return kept


# ---------------------------------------------------------------------- the passphrase's KDF parameters

BAD_PASSPHRASE_PARAMETERS = {
    "iterations=2**64": {"iterations": 2**64},
    "iterations=10**6": {"iterations": 10**6},
    "iterations=0": {"iterations": 0},
    "iterations=3.0": {"iterations": 3.0},
    "iterations='3'": {"iterations": "3"},
    "lanes=2**24": {"lanes": 2**24},
    "lanes=True": {"lanes": True},
    "memory_cost=2**40": {"memory_cost": 2**40},
    "memory_cost=2**32": {"memory_cost": 2**32},
    "memory_cost=-1": {"memory_cost": -1},
    "kdf=pbkdf2": {"kdf": "pbkdf2"},
    "kdf=None": {"kdf": None},
    "an extra field": {"extra": 1},
    "method=shares": {"method": "shares"},
    "salt of 17 bytes": {"salt": "00" * 17},
    "salt of 8 bytes": {"salt": "00" * 8},
    "salt in upper case": {"salt": "AB" * 16},
    "salt with a space": {"salt": " " + "00" * 16},
    "salt as a number": {"salt": 12},
    "no salt": {"salt": None},
    "no iterations": {"iterations": None},
}


BAD_SCRYPT_PARAMETERS = {
    "n=2**64": {"n": 2**64},
    "n=2**40": {"n": 2**40},
    "n=3": {"n": 3},
    "n=2**17+1": {"n": 2**17 + 1},
    "n=True": {"n": True},
    "r=2**40": {"r": 2**40},
    "r=0": {"r": 0},
    "p=0": {"p": 0},
    "p=2**31": {"p": 2**31},
    "p=1.0": {"p": 1.0},
    "an argon2id field too": {"iterations": 3},
    "no r": {"r": None},
}


BAD_PARAMETERS = [
    *((f"argon2id, {name}", "passphrase", edit) for name, edit in BAD_PASSPHRASE_PARAMETERS.items()),
    *((f"scrypt, {name}", "scrypt", edit) for name, edit in BAD_SCRYPT_PARAMETERS.items()),
]


@pytest.mark.parametrize(
    ("kdf", "edit"), [(kdf, edit) for _, kdf, edit in BAD_PARAMETERS], ids=[n for n, *_ in BAD_PARAMETERS]
)
def test_kdf_parameters_out_of_range_are_store_errors_before_any_derivation(
    templates: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kdf: str, edit: dict[str, object]
) -> None:
    path = make(templates, tmp_path, kdf)
    row = {k: v for k, v in {**unseal_row(path), **edit}.items() if v is not None}
    set_row(path, "unseal", json.dumps(row))
    spy = KdfSpy(monkeypatch)
    refused(path, StoreError, passphrase=PASSPHRASE)
    assert spy.calls == []


def test_the_parameter_sets_kmslib_writes_still_open_and_derive_with_exactly_them(
    templates: dict[str, bytes], tmp_path: Path
) -> None:
    for kind, expected in (("passphrase", unsealing.ARGON2ID), ("scrypt", unsealing.SCRYPT)):
        path = make(templates, tmp_path, kind)
        row = unseal_row(path)
        assert {k: row[k] for k in expected} == expected
        with KeyCustodian.open(path, passphrase=PASSPHRASE) as kms:
            kms.establish_aes_key("k")
        with KeyCustodian.open(path, passphrase=PASSPHRASE) as kms:
            assert "k" in kms


@pytest.mark.parametrize(
    ("kind", "edit"),
    [
        ("passphrase", {"iterations": 2**64}),
        ("passphrase", {"memory_cost": 2**40}),
        ("scrypt", {"n": 2**64}),
        ("scrypt", {"n": 2**40}),
    ],
    ids=["argon2id iterations=2**64", "argon2id memory_cost=2**40", "scrypt n=2**64", "scrypt n=2**40"],
)
def test_with_the_real_kdfs_values_they_cannot_take_are_store_errors_not_overflow_or_memory_errors(
    templates: dict[str, bytes], tmp_path: Path, kind: str, edit: dict[str, object]
) -> None:
    # pyca's own refusals of these values are OverflowError and MemoryError, raised from frames holding the passphrase
    path = make(templates, tmp_path, kind)
    set_row(path, "unseal", json.dumps({**unseal_row(path), **edit}))
    refused(path, StoreError, passphrase=PASSPHRASE)


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        "3",
        '"passphrase"',
        "null",
        "PADDED",
        "not json",
    ],
    ids=["a list", "a number", "a string", "null", "too long", "not JSON"],
)
def test_an_unseal_row_that_is_not_a_small_json_object_is_a_store_error(
    templates: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    path = make(templates, tmp_path, "passphrase")
    if text == "PADDED":  # the row kmslib wrote, with 5,000 spaces after it: still the same JSON object
        text = json.dumps(unseal_row(path)) + " " * 5000
    set_row(path, "unseal", text)
    spy = KdfSpy(monkeypatch)
    refused(path, StoreError, passphrase=PASSPHRASE)
    assert spy.calls == []


def test_an_unseal_row_stored_as_bytes_is_a_store_error(templates: dict[str, bytes], tmp_path: Path) -> None:
    path = make(templates, tmp_path, "passphrase")
    set_row(path, "unseal", json.dumps(unseal_row(path)).encode())  # json.loads would take bytes
    refused(path, StoreError, passphrase=PASSPHRASE)


def test_derive_unseal_key_checks_its_parameters_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = KdfSpy(monkeypatch)
    good = {**unsealing.ARGON2ID, "salt": "00" * 16}
    with pytest.raises(StoreError, match="not the ones kmslib writes"):
        unsealing.derive_unseal_key(b"p", {**good, "iterations": 2**64})
    with pytest.raises(StoreError, match="unknown key-derivation function"):
        unsealing.derive_unseal_key(b"p", {**good, "kdf": "pbkdf2"})
    assert spy.calls == []
    unsealing.derive_unseal_key(b"p", good)
    assert spy.calls == [{"salt": bytes(16), "length": 32, "iterations": 3, "lanes": 4, "memory_cost": 2**16}]


# ---------------------------------------------------------------------- a share store's row


@pytest.mark.parametrize(
    "edit",
    [{"shares": 17}, {"threshold": 1}, {"threshold": True}, {"shares": 3.0}, {"threshold": 4}, {"extra": 1}],
    ids=["17 shares", "threshold 1", "threshold True", "shares 3.0", "threshold above shares", "an extra field"],
)
def test_a_share_stores_row_out_of_range_is_a_store_error(
    templates: dict[str, bytes], tmp_path: Path, edit: dict[str, object]
) -> None:
    path = make(templates, tmp_path, "shares")
    set_row(path, "unseal", json.dumps({**unseal_row(path), **edit}))
    shares = templates["the shares"].decode().split("\n")
    refused(path, StoreError, shares=shares[:2])


# ---------------------------------------------------------------------- deeply nested JSON in meta rows


@pytest.mark.parametrize("row", ["unseal", "manifest", "audit_manifest"])
def test_100000_nested_lists_in_a_meta_row_are_a_store_error(
    templates: dict[str, bytes], tmp_path: Path, row: str
) -> None:
    path = make(templates, tmp_path, "passphrase")
    set_row(path, row, "[" * 100_000 + "]" * 100_000)
    refused(path, StoreError, passphrase=PASSPHRASE)


def test_key_ids_full_of_brackets_and_quotes_still_open(templates: dict[str, bytes], tmp_path: Path) -> None:
    path = make(templates, tmp_path, "passphrase")
    ids = [
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        '{"\\"[{' * 20,
        "]]]]" * 30,
    ]
    with KeyCustodian.open(path, passphrase=PASSPHRASE) as kms:
        for key_id in ids:
            kms.establish_aes_key(key_id)
    with KeyCustodian.open(path, passphrase=PASSPHRASE) as kms:
        assert all(key_id in kms for key_id in ids)


# ---------------------------------------------------------------------- SLIP-39's iteration exponent


def with_exponent(shares: list[str], exponent: int) -> list[str]:
    """The same shares, re-encoded (with a valid checksum) as if made with another iteration exponent."""
    return [dataclasses.replace(Share.from_mnemonic(s), iteration_exponent=exponent).mnemonic() for s in shares]


@pytest.fixture
def cipher_spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every iteration exponent shamir-mnemonic's cipher is asked to decrypt with (it then runs as usual)."""
    exponents: list[int] = []
    real = cipher.decrypt

    def spy(ciphertext: bytes, passphrase: bytes, exponent: int, *rest: Any) -> bytes:
        exponents.append(exponent)
        if exponent > 3:
            raise AssertionError(f"the cipher ran with iteration exponent {exponent}")
        return real(ciphertext, passphrase, exponent, *rest)

    monkeypatch.setattr(cipher, "decrypt", spy)
    return exponents


def test_shares_kmslib_makes_use_iteration_exponent_1(templates: dict[str, bytes]) -> None:
    shares = templates["the shares"].decode().split("\n")
    assert {Share.from_mnemonic(s).iteration_exponent for s in shares} == {unsealing.SHARE_ITERATION_EXPONENT} == {1}


def test_shares_with_iteration_exponent_15_are_refused_before_the_cipher_runs(
    templates: dict[str, bytes], tmp_path: Path, cipher_spy: list[int]
) -> None:
    path = make(templates, tmp_path, "shares")
    shares = with_exponent(templates["the shares"].decode().split("\n")[:2], 15)
    error = refused(path, UnsealError, shares=shares)
    assert "iteration exponent 15" in str(error)
    with pytest.raises(UnsealError, match="iteration exponent 15"):
        unsealing.combine_shares(shares)
    with pytest.raises(UnsealError, match=r"share 1 .*iteration exponent 15"):
        unsealing.share_progress(shares)
    assert cipher_spy == []


def refused_share_sets() -> dict[str, list[str]]:
    shares = unsealing.split_unseal_key(bytes(range(32)), 3, 2)
    words = shares[1].split()
    return {
        "exponent 15": with_exponent(shares, 15)[:2],
        "a mistyped share": [shares[0], " ".join([*words[:-2], words[-1], words[-2]])],
        "too few": [shares[0]],
        "two sets": [shares[0], unsealing.split_unseal_key(bytes(32), 3, 2)[1]],
    }


@pytest.mark.parametrize("case", ["exponent 15", "a mistyped share", "too few", "two sets"])
@pytest.mark.parametrize("function", [unsealing.combine_shares, unsealing.share_progress])
def test_refused_shares_stay_in_no_frame_of_the_error_when_combined_or_counted_directly(
    case: str, function: Any
) -> None:
    # the unseal form calls share_progress itself: its errors are shown, and Jupyter keeps the last one
    given = refused_share_sets()[case]
    if function is unsealing.share_progress and case == "too few":
        assert function(given) == (1, 2)
        return
    with pytest.raises(UnsealError) as caught:
        function(given)
    assert leaks(caught.value, [s.encode() for s in given]) == []


def test_shares_with_exponents_0_and_1_combine(cipher_spy: list[int]) -> None:
    secret = bytes(range(32))
    shares = unsealing.split_unseal_key(secret, 3, 2)
    assert unsealing.combine_shares(shares[:2]) == secret
    # accepted; another secret, since the exponent is part of SLIP-0039's encryption of it
    assert unsealing.combine_shares(with_exponent(shares, 0)[:2]) != secret
    assert cipher_spy == [1, 0]


# ---------------------------------------------------------------------- failures inside the derivation


def test_a_memory_error_inside_the_kdf_leaves_no_passphrase_and_no_lock(
    templates: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make(templates, tmp_path, "passphrase")

    class Exhausted:
        def __init__(self, **parameters: object) -> None:
            pass

        def derive(self, passphrase: bytes) -> bytes:
            raise MemoryError

    monkeypatch.setattr(unsealing, "_argon2id", lambda: Exhausted)
    kept: BaseException | None = None
    try:
        KeyCustodian.open(path, passphrase=PASSPHRASE)
    except MemoryError as exc:
        kept = exc
    assert kept is not None
    assert leaks(kept, [PASSPHRASE.encode()]) == []
    tb = kept.__traceback__
    while tb is not None:  # no frame of its traceback holds the store's connection, even a closed one
        assert "sqlite3.Connection" not in {
            type(v).__module__ + "." + type(v).__name__ for v in tb.tb_frame.f_locals.values()
        }
        tb = tb.tb_next
    script = "import sys, kmslib\nkmslib.KeyCustodian.open(sys.argv[1], passphrase=sys.argv[2]).close()\n"
    command = [sys.executable, "-c", script, str(path), PASSPHRASE]
    opened = subprocess.run(command, check=False, timeout=120, cwd=ROOT)  # this checkout's kmslib
    assert opened.returncode == 0, "another process could not open the store while the MemoryError was kept"


# ---------------------------------------------------------------------- the bounded JSON reader itself


def test_the_bounded_json_reader_counts_brackets_outside_strings_only() -> None:
    from kmslib import _json

    assert _json.loads('{"a": ["[[[[", "\\"{{{{"]}', what="row", max_depth=2) == {"a": ["[[[[", '"{{{{']}
    assert _json.loads("[[1]]", what="row", max_depth=2) == [[1]]
    refusals = {
        "[[[1]]]": "nested more than 2 deep",
        '["abc': "unterminated string",
        '"\\"' * 10_000: "unterminated string",
        "]" + "[" * 10: "closes a bracket it never opened",
        "[1,]": "not valid JSON",
        "1" * 5000: "not valid JSON",  # more digits than Python converts
        "[" + " " * 100 + "]": "longer than the 50 characters",
    }
    for text, problem in refusals.items():
        with pytest.raises(StoreError, match=problem):
            _json.loads(text, what="row", max_depth=2, max_chars=50 if text.startswith("[ ") else None)
    with pytest.raises(StoreError, match="not text"):
        _json.loads(b"[]", what="row", max_depth=2)
