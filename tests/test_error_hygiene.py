"""Errors leak nothing: no cause, no secret in a traceback frame, text encodings only (contract section 4).

A logged exception carries its ``__cause__``/``__context__`` chain, and a traceback keeps every
frame's locals (Jupyter keeps the last one in ``sys.last_traceback``). So every error of the
decrypt, rewrap and inspect paths must have no cause, and no kmslib frame of its traceback may
hold plaintext, padded bytes, key bytes or a key object.
"""

from __future__ import annotations

import codecs
import encodings.aliases
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import kmslib
from helpers import KMSLIB_DIR, leaks
from kmslib import DecryptionError, InvalidInputError, KeyCustodian, KMSError
from kmslib import custodian as custodian_module
from kmslib.aes import AESKeyVersion
from kmslib.tokens import format_token

KEY = bytes(range(100, 132))
SECRET = "TOP-SECRET-PLAINTEXT-0123456789"


def failure(call: Callable[[], object], error: type[KMSError] = DecryptionError) -> BaseException:
    with pytest.raises(error) as info:
        call()
    return info.value


@pytest.fixture
def keys(kms: KeyCustodian, rsa_pems: Callable[[int], str]) -> KeyCustodian:
    kms.import_aes_key("gcm", KEY)
    kms.import_aes_key("cbc", KEY, mode="cbc")
    kms.import_aes_key("other", bytes(range(1, 33)))
    kms.import_rsa_key("oaep", rsa_pems(0))
    kms.import_rsa_key("pkcs1", rsa_pems(0), padding="pkcs1v15")
    return kms


def cbc_token(plaintext_block: bytes) -> str:
    """A CBC token whose one block decrypts to exactly ``plaintext_block`` (padding not checked)."""
    iv = bytes(16)
    encryptor = Cipher(algorithms.AES(KEY), modes.CBC(iv)).encryptor()
    return format_token(1, "aes-256-cbc", iv + encryptor.update(plaintext_block) + encryptor.finalize())


def gcm_token(plaintext: bytes, associated_data: bytes | None = None) -> str:
    nonce = bytes(12)
    return format_token(1, "aes-256-gcm", nonce + AESGCM(KEY).encrypt(nonce, plaintext, associated_data))


def test_the_frame_walker_finds_what_it_looks_for() -> None:
    # The check itself must be able to fail: a frame holding a key object, a secret, and a cause.
    def holder() -> None:
        material = AESKeyVersion(KEY, "gcm")
        padded = SECRET.encode() + b"\x01"
        try:
            raise ValueError("inner")
        except ValueError:
            raise DecryptionError() from None
        del material, padded  # pragma: no cover

    holder.__code__ = holder.__code__.replace(co_filename=os.path.join(KMSLIB_DIR, "fake.py"))
    exc = failure(holder)
    found = leaks(exc, [SECRET.encode()])
    assert "__context__ = ValueError" in found
    assert any("'material' holds a AESKeyVersion" in f for f in found)
    assert any("'padded' holds a secret" in f for f in found)


GCM_FAILURES: dict[str, Callable[[KeyCustodian], object]] = {
    "tampered tag": lambda k: k.decrypt_data_aes("gcm", gcm_token(SECRET.encode())[:-4] + "AAA="),
    "other associated data": lambda k: k.decrypt_data_aes("gcm", gcm_token(SECRET.encode(), b"a"), associated_data="b"),
    "another key's token": lambda k: k.decrypt_data_aes("other", gcm_token(SECRET.encode())),
    "bad base64": lambda k: k.decrypt_data_aes("gcm", "kms:v1:aes-256-gcm:!!!!"),
    "bytes that are not UTF-8": lambda k: k.decrypt_data_aes("gcm", gcm_token(SECRET.encode() + b"\xff")),
    "bytes that are not ASCII": lambda k: k.decrypt_data_aes(
        "gcm", gcm_token(SECRET.encode() + b"\xe9"), encoding="ascii"
    ),
    "punycode that does not decode": lambda k: k.decrypt_data_aes(
        "gcm", gcm_token(SECRET.encode() + b"-\xff"), encoding="punycode"
    ),
    "a version that never existed": lambda k: k.decrypt_data_aes("gcm", "kms:v9" + gcm_token(SECRET.encode())[6:]),
    "rewrap, tampered": lambda k: k.rewrap("gcm", gcm_token(SECRET.encode())[:-4] + "AAA="),
    "rewrap, other associated data": lambda k: k.rewrap("gcm", gcm_token(SECRET.encode(), b"a"), associated_data="b"),
    "inspect, bad base64": lambda k: k.inspect_token("kms:v1:aes-256-gcm:A==="),
    "inspect, too short": lambda k: kmslib.inspect_token("kms:v1:aes-256-gcm:AAAA"),
}


@pytest.mark.parametrize("case", GCM_FAILURES)
def test_gcm_failures_carry_no_cause_and_no_secret(keys: KeyCustodian, case: str) -> None:
    exc = failure(lambda: GCM_FAILURES[case](keys))
    assert leaks(exc, [SECRET.encode(), KEY]) == []


def test_cbc_bad_padding_leaves_no_padded_bytes_behind(keys: KeyCustodian) -> None:
    block = b"PADDED-SECRET-\x07\x00"  # decrypts to this one block, whose padding is invalid
    exc = failure(lambda: keys.decrypt_data_aes("cbc", cbc_token(block)))
    assert leaks(exc, [block, block[:14], KEY]) == []


def test_cbc_text_that_does_not_decode_leaves_no_plaintext_behind(keys: KeyCustodian) -> None:
    block = b"CBC-SECRET-TEXT\xff" + b"\x10" * 16
    exc = failure(lambda: keys.decrypt_data_aes("cbc", cbc_token(block)))
    assert leaks(exc, [block[:15], KEY]) == []
    exc = failure(lambda: keys.rewrap("cbc", cbc_token(b"bad padding here")))
    assert leaks(exc, [b"bad padding here", KEY]) == []


def test_rsa_failures_leave_no_private_key_behind(keys: KeyCustodian) -> None:
    token = keys.encrypt_data_rsa("oaep", SECRET)
    tampered = token[:-8] + ("AAAAAAA=" if not token.endswith("AAAAAAA=") else "BBBBBBA=")
    exc = failure(lambda: keys.decrypt_data_rsa("oaep", tampered))
    assert leaks(exc, [SECRET.encode()]) == []
    exc = failure(lambda: keys.rewrap("oaep", tampered))
    assert leaks(exc, [SECRET.encode()]) == []


def test_pkcs1v15_text_that_does_not_decode_leaves_no_plaintext_behind(keys: KeyCustodian) -> None:
    public = keys.key_info("pkcs1")
    assert public.algorithm == "rsa-pkcs1v15"
    from cryptography.hazmat.primitives import serialization

    pem = keys.export_public_key("pkcs1")
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    secret = SECRET.encode() + b"\xff"
    token = format_token(1, "rsa-pkcs1v15", key.encrypt(secret, asym_padding.PKCS1v15()))
    exc = failure(lambda: keys.decrypt_data_rsa("pkcs1", token))
    assert leaks(exc, [SECRET.encode()]) == []


def test_other_errors_of_the_decrypt_path_hold_no_key_object(keys: KeyCustodian) -> None:
    # A key of the other kind, a revoked version, a revoked key: raised with the key's record nearby.
    token = keys.encrypt_data_aes("gcm", SECRET)
    for call, error in [
        (lambda: keys.decrypt_data_aes("oaep", token), kmslib.KeyTypeError),
        (lambda: keys.decrypt_data_rsa("gcm", token), kmslib.KeyTypeError),
        (lambda: keys.rewrap("gcm", token, associated_data=b"\x00"), DecryptionError),
    ]:
        exc = failure(call, error)
        assert leaks(exc, [SECRET.encode(), KEY]) == []
    keys.rotate_key("gcm")
    keys.invalidate_key("gcm", version=1)
    for call in (lambda: keys.decrypt_data_aes("gcm", token), lambda: keys.rewrap("gcm", token)):
        exc = failure(call, kmslib.KeyRevokedError)
        assert leaks(exc, [SECRET.encode(), KEY]) == []
    keys.invalidate_key("gcm")
    exc = failure(lambda: keys.decrypt_data_aes("gcm", token), kmslib.KeyRevokedError)
    assert leaks(exc, [SECRET.encode(), KEY]) == []


def test_encryption_errors_hold_no_key_object(keys: KeyCustodian) -> None:
    # The public method's frame keeps the plaintext argument the caller passed (the caller's frame
    # holds it too); no frame below it keeps the plaintext or anything of the key.
    passed = "KeyCustodian.encrypt_data_{}.* local 'plaintext' holds a secret"
    for call, error in [
        (lambda: keys.encrypt_data_aes("cbc", SECRET, associated_data="ctx"), InvalidInputError),
        (lambda: keys.encrypt_data_rsa("oaep", SECRET * 10), kmslib.MessageTooLongError),
        (lambda: keys.encrypt_data_aes("oaep", SECRET), kmslib.KeyTypeError),
    ]:
        exc = failure(call, error)
        found = leaks(exc, [SECRET.encode(), KEY])
        assert [f for f in found if not re.search(passed.format("(aes|rsa)"), f)] == []


# ---------------------------------------------------------------- encodings (defect 7)


def _stdlib_encodings() -> list[str]:
    names = set()
    for name in set(encodings.aliases.aliases.values()) | {"punycode", "idna", "utf_7", "unicode_escape"}:
        try:
            names.add(codecs.lookup(name).name)
        except LookupError:
            continue
    return sorted(names)


TEXT_ENCODINGS = [name for name in _stdlib_encodings() if codecs.lookup(name)._is_text_encoding]
OTHER_CODECS = ["rot13", "hex", "base64", "zlib", "bz2", "quopri", "uu"]


@pytest.mark.parametrize("name", OTHER_CODECS)
def test_codecs_that_are_not_text_encodings_are_refused_up_front(keys: KeyCustodian, name: str) -> None:
    token = keys.encrypt_data_aes("gcm", SECRET)
    entries = len(keys.audit_log)
    with pytest.raises(InvalidInputError, match="not a text encoding"):
        keys.decrypt_data_aes("gcm", token, encoding=name)
    assert keys.audit_log[entries].outcome == "InvalidInputError"
    assert keys.audit_log[entries].version is None  # refused before any decryption


def test_unknown_encodings_are_refused(keys: KeyCustodian) -> None:
    token = keys.encrypt_data_aes("gcm", SECRET)
    with pytest.raises(InvalidInputError, match="not a known text encoding"):
        keys.decrypt_data_aes("gcm", token, encoding="no-such-codec")


def test_every_stdlib_text_encoding_gives_text_or_the_one_decryption_error(keys: KeyCustodian) -> None:
    assert len(TEXT_ENCODINGS) > 80
    short = [b"\xff\xfe\x00", b"-\xff", b"\\x1", b"+AGE-\xff", b"\xed\xa0\x80", b"xn--\xff"]
    # A short sample turns up inside a random ciphertext by chance (a 2-byte one about once in 2,000
    # tokens), so the leak check uses 16-byte-aligned long forms of the samples, which keep the bad tail.
    samples = [bytes(range(256)), *short, *(b"A" * 16 + sample for sample in short)]
    for name in TEXT_ENCODINGS:
        for sample in samples:
            token = keys.encrypt_data_aes("gcm", sample)
            try:
                text = keys.decrypt_data_aes("gcm", token, encoding=name)
            except DecryptionError as exc:
                assert str(exc) == kmslib.errors.DECRYPTION_FAILED, name  # noqa: PT017 - some decode, some fail
                if len(sample) >= 16:
                    assert leaks(exc, [sample]) == [], name  # noqa: PT017
            else:
                assert type(text) is str, name


def test_lifecycle_errors_hold_no_key_object(keys: KeyCustodian, rsa_pems: Callable[[int], str]) -> None:
    keys.rotate_key("gcm")
    keys.invalidate_key("gcm", version=1)
    for call, error in [
        (lambda: keys.invalidate_key("gcm", version=2), InvalidInputError),  # the newest
        (lambda: keys.invalidate_key("gcm", version=9), kmslib.KeyNotFoundError),
        (lambda: keys.invalidate_key("gcm", version=1), kmslib.KeyRevokedError),
        (lambda: keys.export_public_key("gcm"), kmslib.KeyTypeError),
        (lambda: keys.import_rsa_key("weak", rsa_pems(0).replace("MII", "MIJ", 1)), InvalidInputError),
        (lambda: keys.import_rsa_key("gcm", rsa_pems(0)), kmslib.KeyExistsError),
    ]:
        exc = failure(call, error)
        assert leaks(exc, [KEY]) == [], call


def test_an_imported_key_that_is_refused_leaves_no_key_object_behind() -> None:
    from cryptography.hazmat.primitives import serialization

    kms = KeyCustodian()
    e3 = rsa.generate_private_key(public_exponent=3, key_size=2048)
    pem = e3.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    exc = failure(lambda: kms.import_rsa_key("r", pem), InvalidInputError)
    assert leaks(exc, []) == []
    d = e3.private_numbers().d.to_bytes(256, "big")
    assert leaks(exc, [d]) == []


def test_signing_errors_hold_no_signing_key(kms: KeyCustodian) -> None:
    kms.generate_signing_key("s")
    kms.establish_aes_key("a")
    signature = kms.sign("s", SECRET)
    for call, error in [
        (lambda: kms.verify("s", SECRET + "!", signature), kmslib.SignatureError),
        (lambda: kms.verify("s", SECRET, "kms:v1:ed25519:!!"), kmslib.SignatureError),
        (lambda: kms.sign("a", SECRET), kmslib.KeyTypeError),
        (lambda: kms.encrypt_data_aes("s", SECRET), kmslib.KeyTypeError),
        (lambda: kmslib.verify_signature(kms.export_public_key("s"), "other", signature), kmslib.SignatureError),
    ]:
        exc = failure(call, error)
        assert leaks(exc, []) == [], call


# ---------------------------------------------------------------- a store that cannot save (a full disk)

DATA_KEY = bytes(range(200, 232))


@pytest.fixture
def full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KeyCustodian]:
    """A stored custodian whose every audit record must be saved at once, and whose disk is full."""
    path = tmp_path / "keys.db"
    kmslib.init_store(path, passphrase="correct horse battery staple")
    kms = KeyCustodian.open(path, passphrase="correct horse battery staple")
    kms.import_aes_key("gcm", KEY)
    monkeypatch.setattr(custodian_module.secrets, "token_bytes", lambda n: DATA_KEY[:n])
    sealed = kms.encrypt_envelope("gcm", SECRET.encode())

    def disk_full(first: int, records: object) -> None:
        raise kmslib.StoreError("the change was not saved: the disk is full")

    monkeypatch.setattr(kms._audit, "_write", disk_full)
    monkeypatch.setattr(kms._audit, "_batch", 1)
    monkeypatch.setattr(kms._audit, "_limit", 1)  # the recording thread writes at once (as at 4,096 unsaved)
    kms._full_disk_envelope = sealed  # type: ignore[attr-defined]
    yield kms
    monkeypatch.undo()
    kms.close()


FULL_DISK_CALLS: dict[str, Callable[[KeyCustodian], object]] = {
    "decrypt_data_aes": lambda k: k.decrypt_data_aes("gcm", gcm_token(SECRET.encode())),
    "decrypt_data_aes, bytes": lambda k: k.decrypt_data_aes("gcm", gcm_token(SECRET.encode()), encoding=None),
    "encrypt_data_aes": lambda k: k.encrypt_data_aes("gcm", SECRET),
    "rewrap": lambda k: k.rewrap("gcm", gcm_token(SECRET.encode())),
    "generate_data_key": lambda k: k.generate_data_key("gcm"),
    "generate_data_key_without_plaintext": lambda k: k.generate_data_key_without_plaintext("gcm"),
    "encrypt_envelope": lambda k: k.encrypt_envelope("gcm", SECRET.encode()),
    "decrypt_envelope": lambda k: k.decrypt_envelope("gcm", k._full_disk_envelope),
    "rewrap_envelope": lambda k: k.rewrap_envelope("gcm", k._full_disk_envelope),
}


@pytest.mark.parametrize("case", FULL_DISK_CALLS)
def test_a_full_disk_is_a_store_error_from_frames_that_hold_no_secret(full_disk: KeyCustodian, case: str) -> None:
    call = FULL_DISK_CALLS[case]
    try:
        call(full_disk)
    except kmslib.StoreError as exc:
        found = leaks(exc, [SECRET.encode(), KEY, DATA_KEY])
    else:
        pytest.fail("the full disk was not reported")
    # The public method's frame keeps the arguments the caller passed (the caller's frame holds them too).
    passed = r"KeyCustodian\.(encrypt_data_aes|encrypt_envelope) local '(plaintext|data)' holds a secret"
    assert [f for f in found if not re.search(passed, f)] == []


FULL_DISK_SCRIPT = """
import json, resource, signal, sys, tempfile, warnings
from pathlib import Path
import kmslib
from kmslib import KeyCustodian, StoreError
from kmslib.store import AUDIT_LIMIT
from helpers import leaks
warnings.simplefilter("ignore")  # the writer thread warns that it could not save
key, secret = bytes(range(100, 132)), b"TOP-SECRET-PLAINTEXT-0123456789"
path = Path(tempfile.mkdtemp()) / "keys.db"
kmslib.init_store(path, passphrase="correct horse battery staple")
kms = KeyCustodian.open(path, passphrase="correct horse battery staple")
kms.import_aes_key("gcm", key)
token = kms.encrypt_data_aes("gcm", secret)
kms.audit_log.flush()
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
for calls in range(1, 2 * AUDIT_LIMIT):
    try:
        kms.decrypt_data_aes("gcm", token, encoding=None)
    except StoreError as exc:
        print(json.dumps([calls, AUDIT_LIMIT, leaks(exc, [secret, key])]))
        break
kms.audit_log._detach()  # nothing left to save at exit
"""


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="RLIMIT_FSIZE and SIGXFSZ are POSIX")
def test_a_really_full_disk_is_a_store_error_without_the_plaintext(tmp_path: Path) -> None:
    # The file-size limit makes every write past 4 KiB fail, as a full disk does; at the limit of unsaved
    # records, the decrypting thread writes them itself and fails.
    tests = Path(__file__).parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tests.parent), str(tests)])}
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK_SCRIPT],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    calls, limit, found = json.loads(done.stdout)
    assert calls <= limit  # the limit was reached: the StoreError came from the recording thread
    assert found == []
