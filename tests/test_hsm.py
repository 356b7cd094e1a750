"""Keys in a hardware token (contract section 12), against a real SoftHSM2 token per test."""

from __future__ import annotations

import pickle
import threading
import traceback
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import utils

import kmslib
from helpers import allow, leaks, policy, view
from kmslib import (
    DecryptionError,
    HardwareError,
    HardwareToken,
    InvalidInputError,
    KeyCustodian,
    KeyRevokedError,
    SignatureError,
    StoreError,
    UnsealError,
    inspect_token,
    verify_signature,
)
from kmslib import hsm as hsm_module
from kmslib.softhsm import SoftHSM
from kmslib.tokens import parse_token

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def raw_objects(token: HardwareToken, **attributes: Any) -> list[Any]:
    """The token's objects matching ``attributes`` (names of ``pkcs11.Attribute``), through the raw binding."""
    pkcs11 = token._pkcs11
    wanted = {getattr(pkcs11.Attribute, name): value for name, value in attributes.items()}
    return token.call(lambda session: list(session.get_objects(wanted)))


def kmslib_keys(token: HardwareToken) -> list[Any]:
    return [o for o in raw_objects(token) if str(o.label).startswith("kmslib:")]


# ---------------------------------------------------------------- the token


def test_a_token_opens_with_its_pin_and_shows_no_pin(softhsm: SoftHSM) -> None:
    label, pin = softhsm.new_token(pin="4711-course-pin")
    with HardwareToken(softhsm.module, token_label=label, pin=pin) as token:
        assert not token.closed
        assert pin not in repr(token)
        assert label in repr(token)
        with pytest.raises(TypeError):
            pickle.dumps(token)
        assert "AES_GCM" in token.mechanisms
    assert token.closed


def test_a_wrong_pin_is_a_hardware_error_that_carries_no_pin(softhsm: SoftHSM) -> None:
    label, _ = softhsm.new_token(pin="right-pin-1234")
    wrong = "wrong-pin-98765"
    with pytest.raises(HardwareError, match="PIN was refused") as caught:
        HardwareToken(softhsm.module, token_label=label, pin=wrong)
    assert wrong not in str(caught.value)
    assert leaks(caught.value, [wrong.encode()]) == []
    assert wrong not in "".join(traceback.format_exception(caught.value))


def test_a_pin_that_is_not_utf8_is_a_hardware_error_that_keeps_nothing(softhsm: SoftHSM) -> None:
    """A lone surrogate cannot reach the token (PINs are UTF-8): a typed error, no PIN in it or in any frame."""
    label, pin = softhsm.new_token()
    good = HardwareToken(softhsm.module, token_label=label, pin=pin)
    secret = "\ud800hunter2-SECRET"
    with pytest.raises(HardwareError, match="not UTF-8 text") as caught:
        HardwareToken(softhsm.module, token_label=label, pin=secret)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    trace = caught.value.__traceback__
    kmslib_frames = 0
    while trace is not None:
        if trace.tb_frame.f_code.co_filename.startswith(str(Path(kmslib.__file__).parent)):
            kmslib_frames += 1
            assert all(value != secret for value in trace.tb_frame.f_locals.values())
        trace = trace.tb_next
    assert kmslib_frames >= 1
    assert not good.closed  # refused before the token was touched: the open object keeps working
    good.close()


def test_a_failed_log_in_closes_the_earlier_object_as_documented(softhsm: SoftHSM) -> None:
    """PKCS#11 logs an application in once per token: the earlier object closes first, even if the PIN is wrong."""
    label, pin = softhsm.new_token()
    good = HardwareToken(softhsm.module, token_label=label, pin=pin)
    with pytest.raises(HardwareError, match="PIN was refused"):
        HardwareToken(softhsm.module, token_label=label, pin="wrong-pin-000")
    assert good.closed
    HardwareToken(softhsm.module, token_label=label, pin=pin).close()  # the right PIN opens it again


def test_a_missing_module_or_token_is_a_hardware_error_naming_it(softhsm: SoftHSM, tmp_path: Path) -> None:
    with pytest.raises(HardwareError, match="no PKCS#11 module at"):
        HardwareToken(tmp_path / "nothing.so", token_label="x", pin="1234")
    with pytest.raises(HardwareError, match="no token labelled 'no-such-token'"):
        HardwareToken(softhsm.module, token_label="no-such-token", pin="1234")
    with pytest.raises(kmslib.ArgumentTypeError, match="pin must be a str"):
        HardwareToken(softhsm.module, token_label="x", pin=1234)  # type: ignore[arg-type]


def test_without_the_binding_the_error_says_how_to_install_it(
    softhsm: SoftHSM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hsm_module, "_binding", lambda: None)
    with pytest.raises(HardwareError, match=r"kmslib\[hsm\]"):
        HardwareToken(softhsm.module, token_label="x", pin="1234")


def test_opening_a_token_again_closes_the_earlier_object(softhsm: SoftHSM) -> None:
    label, pin = softhsm.new_token()
    first = HardwareToken(softhsm.module, token_label=label, pin=pin)
    kms = KeyCustodian(hsm=first)
    kms.establish_aes_key("k", protection="hsm")
    second = HardwareToken(softhsm.module, token_label=label, pin=pin)
    assert first.closed
    assert not second.closed
    with pytest.raises(HardwareError, match="was closed: open it again"):
        kms.encrypt_data_aes("k", "hello")
    second.close()


# ---------------------------------------------------------------- AES keys in the token


@pytest.mark.parametrize("mode", ["gcm", "cbc"])
def test_an_aes_key_in_the_token_works_like_a_software_key(hsm_kms: KeyCustodian, mode: str) -> None:
    info = hsm_kms.establish_aes_key("k", mode=mode, protection="hsm")
    assert info.protection == "hsm"
    assert "protection='hsm'" in repr(info)
    token = hsm_kms.encrypt_data_aes("k", "Confidential Communication")
    assert inspect_token(token).algorithm == f"aes-256-{mode}"
    assert hsm_kms.decrypt_data_aes("k", token) == "Confidential Communication"
    big = bytes(range(256)) * 4096  # 1 MiB
    assert hsm_kms.decrypt_data_aes("k", hsm_kms.encrypt_data_aes("k", big), encoding=None) == big
    assert hsm_kms.key_info("k").protection == "hsm"
    assert KeyCustodian().establish_aes_key("soft").protection == "software"


def test_gcm_in_the_token_binds_associated_data_and_refuses_tampering(hsm_kms: KeyCustodian) -> None:
    hsm_kms.establish_aes_key("k", protection="hsm")
    token = hsm_kms.encrypt_data_aes("k", "pay 10", associated_data="order-1")
    assert hsm_kms.decrypt_data_aes("k", token, associated_data="order-1") == "pay 10"
    with pytest.raises(DecryptionError):
        hsm_kms.decrypt_data_aes("k", token, associated_data="order-2")
    head, _, body = token.rpartition(":")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(DecryptionError):
        hsm_kms.decrypt_data_aes("k", f"{head}:{flipped}", associated_data="order-1")
    with pytest.raises(DecryptionError):
        hsm_kms.decrypt_data_aes("k", f"{head}:AAAA")


def test_the_token_payload_is_the_software_layout(hsm_kms: KeyCustodian) -> None:
    """nonce || ciphertext || tag: the same bytes under a software key would decrypt alike (GCM is GCM)."""
    hsm_kms.establish_aes_key("k", protection="hsm")
    parts = inspect_token(hsm_kms.encrypt_data_aes("k", b"sixteen bytes!!!"))
    assert (len(parts.nonce or b""), len(parts.ciphertext), len(parts.tag or b"")) == (12, 16, 16)


def test_a_key_in_the_token_is_sensitive_and_never_extractable(hsm_kms: KeyCustodian, token: HardwareToken) -> None:
    hsm_kms.establish_aes_key("k", protection="hsm")
    (key,) = kmslib_keys(token)
    pkcs11 = token._pkcs11
    with pytest.raises(pkcs11.exceptions.AttributeSensitive):
        key[pkcs11.Attribute.VALUE]
    for name, value in hsm_module.KEY_TEMPLATE.items():
        assert bool(key[getattr(pkcs11.Attribute, name)]) is value, name
    assert key[pkcs11.Attribute.NEVER_EXTRACTABLE]
    assert key[pkcs11.Attribute.ALWAYS_SENSITIVE]
    listed = [o for o in token.objects() if o.label.startswith("kmslib:")]
    assert [(o.object_class, o.key_type) for o in listed] == [("secret key", "AES")]
    assert listed[0].attributes["SENSITIVE"]
    assert not listed[0].attributes["EXTRACTABLE"]
    assert not listed[0].attributes["WRAP"]
    assert not listed[0].attributes["UNWRAP"]


def test_without_a_token_protection_hsm_is_refused_clearly() -> None:
    kms = KeyCustodian()
    with pytest.raises(InvalidInputError, match=r"needs a hardware token: KeyCustodian\(hsm="):
        kms.establish_aes_key("k", protection="hsm")
    with pytest.raises(InvalidInputError, match="protection"):
        kms.establish_aes_key("k", protection="tpm")
    with pytest.raises(kmslib.ArgumentTypeError, match="HardwareToken"):
        KeyCustodian(hsm="token")
    assert "k" not in kms


def test_rotation_makes_a_new_object_and_revocation_destroys_them(hsm_kms: KeyCustodian, token: HardwareToken) -> None:
    hsm_kms.establish_aes_key("k", protection="hsm")
    old = hsm_kms.encrypt_data_aes("k", "v1 data")
    hsm_kms.rotate_key("k")
    assert len(kmslib_keys(token)) == 2
    assert hsm_kms.decrypt_data_aes("k", old) == "v1 data"
    assert inspect_token(hsm_kms.encrypt_data_aes("k", "v2")).version == 2
    hsm_kms.invalidate_key("k", version=1)
    assert len(kmslib_keys(token)) == 1
    with pytest.raises(KeyRevokedError):
        hsm_kms.decrypt_data_aes("k", old)
    hsm_kms.invalidate_key("k")
    assert kmslib_keys(token) == []


def test_closing_an_in_memory_custodian_destroys_its_token_keys(hsm_kms: KeyCustodian, token: HardwareToken) -> None:
    hsm_kms.establish_aes_key("a", protection="hsm")
    hsm_kms.generate_signing_key("s", algorithm="ecdsa-p256-sha256", protection="hsm")
    assert len(kmslib_keys(token)) == 3  # an AES key, a private and a public key
    hsm_kms.close()
    assert kmslib_keys(token) == []


def test_token_keys_are_audited_and_work_under_a_key_policy(hsm_kms: KeyCustodian) -> None:
    hsm_kms.establish_aes_key("k", protection="hsm")
    hsm_kms.set_key_policy("k", policy(allow("app", "kms:Encrypt")))
    app = view(hsm_kms, "app")
    token = app.encrypt_data_aes("k", "from the app")
    with pytest.raises(kmslib.AccessDeniedError):
        app.decrypt_data_aes("k", token)
    assert hsm_kms.decrypt_data_aes("k", token) == "from the app"
    operations = [(e.operation, e.principal, e.outcome) for e in hsm_kms.audit_log if e.key_id == "k"]
    assert ("encrypt_data_aes", "app", "ok") in operations
    assert ("decrypt_data_aes", "app", "AccessDeniedError") in operations


def test_many_threads_share_one_token_session(hsm_kms: KeyCustodian) -> None:
    hsm_kms.establish_aes_key("k", protection="hsm")
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                message = f"thread {n} message {i}"
                assert hsm_kms.decrypt_data_aes("k", hsm_kms.encrypt_data_aes("k", message)) == message
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


# ---------------------------------------------------------------- ECDSA keys in the token


def test_an_ecdsa_key_in_the_token_signs_low_s_and_verifies_anywhere(hsm_kms: KeyCustodian) -> None:
    info = hsm_kms.generate_signing_key("s", algorithm="ecdsa-p256-sha256", protection="hsm")
    assert info.protection == "hsm"
    pem = hsm_kms.export_public_key("s")
    for i in range(20):
        message = f"release {i}".encode()
        signature = hsm_kms.sign("s", message)
        hsm_kms.verify("s", message, signature)
        verify_signature(pem, message, signature)
        _r, s = utils.decode_dss_signature(parse_token(signature)[2])
        assert 0 < s <= P256_ORDER // 2
    with pytest.raises(SignatureError):
        verify_signature(pem, b"another message", signature)


def test_hsm_signing_refuses_what_a_token_cannot_do(hsm_kms: KeyCustodian) -> None:
    with pytest.raises(InvalidInputError, match="ecdsa-p256-sha256 only"):
        hsm_kms.generate_signing_key("e", algorithm="ed25519", protection="hsm")
    hsm_kms.generate_signing_key("s", algorithm="ecdsa-p256-sha256", protection="hsm")
    with pytest.raises(InvalidInputError, match="RFC 6979"):
        hsm_kms.sign("s", "m", deterministic=True)
    hsm_kms.rotate_key("s")
    assert inspect_token(hsm_kms.sign("s", "m")).version == 2


# ---------------------------------------------------------------- failures of the token


class _FailingSession:
    """A session whose every operation fails with one PKCS#11 error (a full or removed token)."""

    def __init__(self, error: type[BaseException]) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        def fail(*args: object, **kwargs: object) -> None:
            raise self.error()

        return fail


@pytest.mark.parametrize(
    ("error", "words"),
    [("DeviceMemory", "is full"), ("DeviceRemoved", "was removed"), ("TokenNotPresent", "not present")],
)
def test_a_full_or_removed_token_is_a_hardware_error_naming_the_problem(
    hsm_kms: KeyCustodian, token: HardwareToken, monkeypatch: pytest.MonkeyPatch, error: str, words: str
) -> None:
    hsm_kms.establish_aes_key("k", protection="hsm")
    monkeypatch.setattr(token, "_session", _FailingSession(getattr(token._pkcs11.exceptions, error)))
    with pytest.raises(HardwareError, match=words) as caught:
        hsm_kms.establish_aes_key("k2", protection="hsm")
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert "k2" not in hsm_kms
    material = hsm_kms._keys["k"].versions[1]
    monkeypatch.setattr(material, "_key", _FailingSession(getattr(token._pkcs11.exceptions, error)))
    with pytest.raises(HardwareError, match=words) as caught:
        hsm_kms.encrypt_data_aes("k", "the plaintext 81723")
    found = leaks(caught.value, [b"the plaintext 81723"])  # the public method's frame keeps the caller's argument
    assert [f for f in found if "KeyCustodian.encrypt_data_aes local 'plaintext'" not in f] == []
    assert hsm_kms.audit_log[-1].outcome == "HardwareError"


def test_a_session_lost_mid_operation_is_a_hardware_error(hsm_kms: KeyCustodian, softhsm: SoftHSM) -> None:
    hsm_kms.establish_aes_key("k", protection="hsm")
    token = hsm_kms.encrypt_data_aes("k", "before")
    softhsm.new_token()  # restarts the module: every session of this process is gone
    with pytest.raises(HardwareError, match=r"open the token again|open it again") as caught:
        hsm_kms.decrypt_data_aes("k", token)
    assert not isinstance(caught.value, DecryptionError)


# ---------------------------------------------------------------- a sealed store with token keys


def test_a_store_keeps_token_keys_as_references_and_needs_the_token(
    tmp_path: Path, token: HardwareToken, softhsm: SoftHSM
) -> None:
    path = tmp_path / "keys.db"
    kmslib.init_store(path, passphrase="correct horse")
    with KeyCustodian.open(path, passphrase="correct horse", hsm=token) as kms:
        kms.establish_aes_key("k", protection="hsm")
        kms.generate_signing_key("s", algorithm="ecdsa-p256-sha256", protection="hsm")
        kms.establish_aes_key("soft")
        sealed = kms.encrypt_data_aes("k", "kept")
        signature = kms.sign("s", "kept")
    assert len(kmslib_keys(token)) == 3  # closing a store's custodian forgets its token keys, never destroys them
    with pytest.raises(StoreError, match=r"lives in a hardware token: open the store with hsm=") as caught:
        KeyCustodian.open(path, passphrase="correct horse")
    assert "'k'" in str(caught.value)
    with KeyCustodian.open(path, passphrase="correct horse", hsm=token) as kms:
        assert kms.decrypt_data_aes("k", sealed) == "kept"
        kms.verify("s", "kept", signature)
        assert kms.key_info("k").protection == "hsm"
        assert kms.key_info("soft").protection == "software"
        kms.invalidate_key("k")
        assert kms.key_info("k").protection == "hsm"
    assert len(kmslib_keys(token)) == 2
    other_label, other_pin = softhsm.new_token()
    with (
        HardwareToken(softhsm.module, token_label=other_label, pin=other_pin) as other,
        pytest.raises(StoreError, match=r"does not hold it"),
    ):
        KeyCustodian.open(path, passphrase="correct horse", hsm=other)


# ---------------------------------------------------------------- auto-unseal


def test_auto_unseal_opens_with_the_token_alone(tmp_path: Path, token: HardwareToken) -> None:
    path = tmp_path / "auto.db"
    assert kmslib.init_store(path, hsm=token) == []
    with KeyCustodian.open(path, hsm=token) as kms:
        kms.establish_aes_key("k")
        sealed = kms.encrypt_data_aes("k", "no passphrase needed")
    with KeyCustodian.open(path, hsm=token) as kms:
        assert kms.decrypt_data_aes("k", sealed) == "no passphrase needed"
    with pytest.raises(UnsealError, match="unsealed by a hardware token"):
        KeyCustodian.open(path)
    with pytest.raises(UnsealError, match="unsealed by a hardware token"):
        KeyCustodian.open(path, passphrase="guess", hsm=token)


def test_an_auto_unseal_store_without_its_token_opens_nothing(
    tmp_path: Path, token: HardwareToken, softhsm: SoftHSM
) -> None:
    path = tmp_path / "auto.db"
    kmslib.init_store(path, hsm=token)
    other_label, other_pin = softhsm.new_token()
    with (
        HardwareToken(softhsm.module, token_label=other_label, pin=other_pin) as other,
        pytest.raises(UnsealError, match="does not hold this store's unseal key"),
    ):
        KeyCustodian.open(path, hsm=other)


def test_a_lost_pin_is_a_clear_error(tmp_path: Path, softhsm: SoftHSM) -> None:
    label, pin = softhsm.new_token()
    with HardwareToken(softhsm.module, token_label=label, pin=pin) as token:
        kmslib.init_store(tmp_path / "auto.db", hsm=token)
    with pytest.raises(HardwareError, match="PIN was refused"):
        HardwareToken(softhsm.module, token_label=label, pin="forgotten")


def test_auto_unseal_takes_the_token_alone(tmp_path: Path, token: HardwareToken) -> None:
    with pytest.raises(InvalidInputError, match="on its own"):
        kmslib.init_store(tmp_path / "a.db", hsm=token, passphrase="also")
    with pytest.raises(kmslib.ArgumentTypeError, match="HardwareToken"):
        kmslib.init_store(tmp_path / "a.db", hsm="token")
    assert not (tmp_path / "a.db").exists()


def test_the_auto_unseal_file_holds_no_root_key_in_the_clear(tmp_path: Path, token: HardwareToken) -> None:
    path = tmp_path / "auto.db"
    kmslib.init_store(path, hsm=token)
    with KeyCustodian.open(path, hsm=token) as kms:
        root = bytes(kms._store._root_key)  # type: ignore[union-attr]
    assert len(root) == 32
    assert root not in path.read_bytes()


def test_a_tampered_hsm_unseal_row_is_refused(tmp_path: Path, token: HardwareToken) -> None:
    import sqlite3

    path = tmp_path / "auto.db"
    kmslib.init_store(path, hsm=token)
    db = sqlite3.connect(path)
    db.execute(
        """UPDATE meta SET value = '{"method": "hsm", "object_id": "../../etc", "x": 1}' WHERE name = 'unseal'"""
    )
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="hardware-token row"):
        KeyCustodian.open(path, hsm=token)


def test_rekey_refuses_an_auto_unseal_store_and_changes_nothing(tmp_path: Path, token: HardwareToken) -> None:
    path = tmp_path / "auto.db"
    kmslib.init_store(path, hsm=token)
    with KeyCustodian.open(path, hsm=token) as kms:
        kms.establish_aes_key("k")
        with pytest.raises(InvalidInputError, match="unsealed by a hardware token"):
            kms.rekey("anything", passphrase="new passphrase")
        sealed = kms.encrypt_data_aes("k", "still here")
    with KeyCustodian.open(path, hsm=token) as kms:
        assert kms.decrypt_data_aes("k", sealed) == "still here"


def test_a_token_key_is_a_kek_for_envelopes_rewraps_and_rewrap(hsm_kms: KeyCustodian) -> None:
    """The common deployment: data keys in software, the key that wraps them in the token."""
    hsm_kms.establish_aes_key("kek", protection="hsm")
    sealed = hsm_kms.encrypt_envelope("kek", b"a large file" * 1000, associated_data="file-7")
    assert bytes(hsm_kms.decrypt_envelope("kek", sealed, associated_data="file-7")) == b"a large file" * 1000
    old = hsm_kms.encrypt_data_aes("kek", "short")
    hsm_kms.rotate_key("kek")
    moved = hsm_kms.rewrap_envelope("kek", sealed, associated_data="file-7")
    assert bytes(hsm_kms.decrypt_envelope("kek", moved, associated_data="file-7")) == b"a large file" * 1000
    assert inspect_token(hsm_kms.rewrap("kek", old)).version == 2
    with pytest.raises(DecryptionError):
        hsm_kms.decrypt_envelope("kek", sealed, associated_data="file-8")


def test_an_unseal_row_pointed_at_another_token_key_opens_nothing(tmp_path: Path, token: HardwareToken) -> None:
    """An attacker who can write the file names another key of the same token: the root key does not open."""
    import json
    import sqlite3

    path = tmp_path / "auto.db"
    kmslib.init_store(path, hsm=token)
    other = hsm_module.HardwareAESKey.generate(token, "gcm")
    db = sqlite3.connect(path)
    db.execute(
        "UPDATE meta SET value = ? WHERE name = 'unseal'",
        [json.dumps({"method": "hsm", "object_id": other.object_id.hex()})],
    )
    db.commit()
    db.close()
    with pytest.raises(UnsealError, match="does not open its root key"):
        KeyCustodian.open(path, hsm=token)


def test_one_import_token_used_by_two_threads_imports_at_most_once() -> None:
    kms = KeyCustodian()
    public_pem, import_token = kms.get_import_parameters("k")
    from test_byok import pyca_wrap

    wrapped = pyca_wrap(public_pem, bytes(range(32)))
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def race() -> None:
        barrier.wait()
        try:
            kms.import_wrapped_key("k", wrapped, import_token)
            outcomes.append("ok")
        except kmslib.KMSError as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 1
