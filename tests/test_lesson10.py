"""Lesson 10 (keys in hardware): the practice token, Clulow's attack (it works on a careless template, and kmslib's
keys refuse every step), and four checkers judged on the real token and store.

Each exercise: the published solution passes, two other correct answers pass, lazy or confused wrong answers are
refused with a message that says where to look (no Python internals), and checking again gives the same verdict.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from test_lessons import right, run_solution, wrong

import kmslib
from kmslib import HardwareError, HardwareToken, InvalidInputError, KeyCustodian, UnsealError
from kmslib.course import hardware, lesson10
from kmslib.course.hardware import ZERO_IV, ClulowLab, clulow_lab
from kmslib.course.lesson10 import TEMPLATES, q1, q2, q3, q4
from kmslib.hsm import KEY_TEMPLATE


def solution(exercise: Any, **names: Any) -> dict[str, Any]:
    import pkcs11

    common = {"hardware": hardware, "clulow_lab": clulow_lab, "Mechanism": pkcs11.Mechanism, "kmslib": kmslib}
    return run_solution(lesson10, exercise, UnsealError=UnsealError, **common, **names)


# ---------------------------------------------------------------- the practice token


def test_a_practice_token_is_fresh_logged_in_and_takes_kmslib_keys(softhsm: object) -> None:
    token = hardware.practice_token()
    try:
        assert token.label == "course"
        assert not token.closed
        assert token.objects() == []
        kms = KeyCustodian(hsm=token)
        kms.establish_aes_key("k", protection="hsm")
        assert kms.decrypt_data_aes("k", kms.encrypt_data_aes("k", "hello")) == "hello"
        assert [item.label.startswith("kmslib:") for item in token.objects()] == [True]
    finally:
        token.close()


def test_token_object_is_the_kmslib_keys_own_object(hsm_kms: KeyCustodian, token: HardwareToken) -> None:
    hsm_kms.establish_aes_key("k", protection="hsm")
    hsm_kms.rotate_key("k")
    newest, first = hardware.token_object(hsm_kms, "k"), hardware.token_object(hsm_kms, "k", 1)
    assert newest.label != first.label
    assert {newest.label, first.label} == {item.label for item in token.objects()}
    hsm_kms.establish_aes_key("soft")
    with pytest.raises(InvalidInputError, match="not a key in a hardware token"):
        hardware.token_object(hsm_kms, "soft")


# ---------------------------------------------------------------- Clulow's attack


def test_the_careless_demo_really_extracts_the_key(token: HardwareToken) -> None:
    pkcs11 = token._pkcs11
    value = os.urandom(32)
    target = hardware.extractable_target(token, value)
    with pytest.raises(pkcs11.exceptions.AttributeSensitive):
        target[pkcs11.Attribute.VALUE]  # sensitive: not read directly...
    stolen = hardware.wrap_then_decrypt(token, hardware.careless_key(token), target)
    assert stolen == value  # ...but wrap, then decrypt, gives it up
    assert hardware.same_key(token, target, stolen)
    assert not hardware.same_key(token, target, bytes(32))
    assert not hardware.same_key(token, target, stolen[:31])


def test_the_demo_fails_without_the_careless_template(token: HardwareToken) -> None:
    """The control: the attack needs both uses on one key, and an extractable target."""
    target = hardware.extractable_target(token)
    with pytest.raises(AttributeError, match="decrypt"):  # python-pkcs11 offers no decrypt on such a key
        hardware.wrap_then_decrypt(token, hardware.careless_key(token, DECRYPT=False), target)
    unextractable = hardware.careless_key(token, EXTRACTABLE=False)
    with pytest.raises(HardwareError, match="KeyUnextractable"):
        hardware.wrap_then_decrypt(token, hardware.careless_key(token), unextractable)


def test_kmslibs_key_refuses_every_step_of_the_attack(hsm_kms: KeyCustodian, token: HardwareToken) -> None:
    hsm_kms.establish_aes_key("k", protection="hsm")
    before = token.objects()
    attempts = hardware.attack_kmslib_key(token, hsm_kms, "k")
    assert [a.refused for a in attempts] == [True] * 5, [str(a) for a in attempts]
    assert [a.answer.split(" ")[0] for a in attempts] == [
        "AttributeSensitive",
        "KeyUnextractable",
        "ActionProhibited",
        "ActionProhibited",
        "KeyFunctionNotPermitted",
    ]
    assert all("refused: " in str(a) for a in attempts)
    assert repr(token.objects()) == repr(before)  # the careless key is gone, the key unchanged
    assert hsm_kms.decrypt_data_aes("k", hsm_kms.encrypt_data_aes("k", "still works")) == "still works"


def test_an_allowed_step_would_be_reported(token: HardwareToken) -> None:
    """attack_kmslib_key's report can say ALLOWED: a careless key's step, tried the same way, is not refused."""
    pkcs11 = token._pkcs11
    careless = hardware.careless_key(token)
    ok, _ = hardware._try(token, lambda _: careless.__setitem__(pkcs11.Attribute.WRAP, True))
    assert ok
    assert "ALLOWED: " in str(hardware.Attempt("step", refused=False, answer="it worked"))


def test_clulow_unsafe_reads_pairs_and_modifiability() -> None:
    assert [bool(hardware.clulow_unsafe(t)) for t in TEMPLATES] == [False, False, True, True, True, False]
    assert hardware.clulow_unsafe({**KEY_TEMPLATE, "ENCRYPT": True, "DECRYPT": True}) == []
    assert hardware.clulow_unsafe({"ENCRYPT": True, "DECRYPT": True}) != []  # CKA_MODIFIABLE defaults to true
    assert hardware.clulow_unsafe({"CKA_WRAP": True, "cka_decrypt": True, "CKA_MODIFIABLE": False}) == [
        "wrap and decrypt"
    ]


def test_make_key_refuses_reserved_taken_and_unknown(token: HardwareToken) -> None:
    made = hardware.make_key(token, "mine", {"TOKEN": True, "CKA_ENCRYPT": True})
    assert made.label == "mine"
    with pytest.raises(InvalidInputError, match="new label"):
        hardware.make_key(token, "mine", {"TOKEN": True})
    for label in ("kmslib:00", "careless", "target"):
        with pytest.raises(InvalidInputError, match="choose another"):
            hardware.make_key(token, label, {})
    with pytest.raises(InvalidInputError, match="not one of the attributes"):
        hardware.make_key(token, "x", {"VALUE": True})
    with pytest.raises(kmslib.ArgumentTypeError, match="True or False"):
        hardware.make_key(token, "x", {"WRAP": "no"})  # type: ignore[dict-item]


# ---------------------------------------------------------------- q1


def test_q1_solution_and_other_right_answers() -> None:
    solution(q1)
    right(q1, [4, 3, 2])
    right(q1, range(2, 5))


def test_q1_lazy_answers() -> None:
    wrong(q1, [2, 2, 2], because="read CKA_MODIFIABLE")  # the same value thrice
    wrong(q1, {2, 4}, because="read CKA_MODIFIABLE")
    wrong(q1, {2, 3}, because="mirror image")
    wrong(q1, {1, 2, 3, 4}, because="template 1 cannot")
    wrong(q1, {2, 3, 4, 5}, because="template 5 cannot", not_="key-wrapping")
    wrong(q1, range(6), because="every template")
    wrong(q1, "2, 3, 4", because="in a list or set, not str")
    wrong(q1, {2.0, 3.0, 4.0}, because="whole numbers", not_="not set")  # fractions: the items' fault
    wrong(q1, ["2", "3", "4"], because="whole numbers", not_="not list")
    wrong(q1, {2, 3, 4, 9}, because="no template 9")


# ---------------------------------------------------------------- q2

SAFE = {"TOKEN": True, "SENSITIVE": True, "EXTRACTABLE": False, "WRAP": False, "UNWRAP": False, "MODIFIABLE": False}


def test_q2_solution_and_other_right_answers(token: HardwareToken) -> None:
    solution(q2, token=token)
    hardware.make_key(token, "private", {**SAFE, "PRIVATE": True, "COPYABLE": False, "ENCRYPT": True, "DECRYPT": True})
    right(q2, token, "private")
    # not sensitive, but never extractable and never modifiable: PKCS#11 reveals no value of such a key either
    hardware.make_key(token, "plain", {**SAFE, "SENSITIVE": False, "CKA_ENCRYPT": True, "CKA_DECRYPT": True})
    right(q2, token, "plain")


def test_q2_lazy_answers(token: HardwareToken, hsm_kms: KeyCustodian) -> None:
    hardware.make_key(token, "first-try", {"SENSITIVE": True})  # the binding's defaults: a session key that wraps
    wrong(q2, token, "first-try", because="CKA_TOKEN")
    hardware.make_key(token, "extractable", {**SAFE, "EXTRACTABLE": True, "ENCRYPT": True, "DECRYPT": True})
    wrong(q2, token, "extractable", because="CKA_EXTRACTABLE")
    hardware.make_key(token, "modifiable", {**SAFE, "MODIFIABLE": True, "ENCRYPT": True, "DECRYPT": True})
    wrong(q2, token, "modifiable", because="Clulow's tool")
    hardware.make_key(token, "both", {**SAFE, "WRAP": True, "ENCRYPT": True, "DECRYPT": True})
    wrong(q2, token, "both", because="Clulow's tool")
    hardware.make_key(token, "useless", {**SAFE, "ENCRYPT": False, "DECRYPT": False})
    wrong(q2, token, "useless", because="cannot encrypt and decrypt")
    wrong(q2, token, "never-made", because="holds no key labelled")  # a throwaway label
    hsm_kms.establish_aes_key("k", protection="hsm")
    kmslibs = next(item.label for item in token.objects() if item.label.startswith("kmslib:"))
    wrong(q2, token, kmslibs, because="kmslib made")
    wrong(q2, "token", "x", because="pass the token")
    wrong(q2, token, {"TOKEN": True}, because="pass the label")
    pkcs11 = token._pkcs11
    twice = {pkcs11.Attribute.TOKEN: True}
    for _ in range(2):
        token.call(lambda s: s.generate_key(pkcs11.KeyType.AES, 256, label="twice", template=twice))
    wrong(q2, token, "twice", because="new label")


# ---------------------------------------------------------------- q3


def test_q3_solution_and_other_right_answers(token: HardwareToken) -> None:
    solution(q3, token=token)
    pkcs11 = token._pkcs11
    lab = clulow_lab(token)
    iv = bytes(range(16))
    wrapped = lab.careless.wrap_key(lab.target, mechanism=pkcs11.Mechanism.AES_CBC, mechanism_param=iv)
    stolen = lab.careless.decrypt(wrapped, mechanism=pkcs11.Mechanism.AES_CBC, mechanism_param=iv)
    right(q3, lab, bytearray(stolen))  # another IV, the same on both calls
    right(q3, lab, memoryview(hardware.wrap_then_decrypt(token, lab.careless, lab.target)))


def test_q3_lazy_answers(token: HardwareToken) -> None:
    pkcs11 = token._pkcs11
    lab = clulow_lab(token)
    cbc = pkcs11.Mechanism.AES_CBC
    wrapped = lab.careless.wrap_key(lab.target, mechanism=cbc, mechanism_param=ZERO_IV)
    wrong(q3, lab, wrapped, because="those are the wrapped bytes")  # stopped after the first step
    padded = lab.careless.wrap_key(lab.target, mechanism=pkcs11.Mechanism.AES_KEY_WRAP_PAD)
    wrong(q3, lab, padded, because="wrap with Mechanism.AES_CBC")  # an earlier attempt, with key wrap
    other_iv = lab.careless.decrypt(wrapped, mechanism=cbc, mechanism_param=bytes([1]) * 16)
    wrong(q3, lab, other_iv, because="not the target's key")
    wrong(q3, lab, bytes(32), because="not the target's key")  # a throwaway value of the right shape
    wrong(q3, lab, b"key", because="32 bytes; these are 3")
    wrong(q3, lab, "stolen", because="pass the bytes")
    other = clulow_lab(token)  # the right steps on another lab's target
    wrong(q3, lab, hardware.wrap_then_decrypt(token, other.careless, other.target), because="not the target's key")
    wrong(q3, ClulowLab(token, lab.careless, lab.target), wrapped, because="pass the lab that clulow_lab")


# ---------------------------------------------------------------- q4


def test_q4_solution_and_other_right_answers(token: HardwareToken, tmp_path: Path) -> None:
    solution(q4, token=token, auto_path=tmp_path / "auto.db")
    path = tmp_path / "second.db"
    kmslib.init_store(path, hsm=token)
    with KeyCustodian.open(path, hsm=token) as kms:
        kms.establish_aes_key("other")
        kms.establish_aes_key("ledger", protection="hsm", mode="cbc")
    try:
        KeyCustodian.open(path, passphrase="guess")
    except UnsealError as error:
        right(q4, token, str(path), error)


def test_q4_lazy_answers(token: HardwareToken, tmp_path: Path) -> None:
    path = tmp_path / "auto.db"
    wrong(q4, token, path, None, because="no file")
    kmslib.init_store(path, hsm=token)
    kms = KeyCustodian.open(path, hsm=token)
    try:
        KeyCustodian.open(path)
    except kmslib.KMSError as error:
        early = error  # tried while the custodian still held the store
    wrong(q4, token, path, early, because="close it")
    kms.close()
    wrong(q4, token, path, early, because="holds no key 'ledger'")
    with KeyCustodian.open(path, hsm=token) as kms:
        kms.establish_aes_key("ledger")
    wrong(q4, token, path, early, because="software key")
    passphrase = tmp_path / "passphrase.db"
    kmslib.init_store(passphrase, passphrase="correct horse battery staple")
    wrong(q4, token, passphrase, early, because="does not open with the token")
    second = tmp_path / "second.db"
    kmslib.init_store(second, hsm=token)
    with KeyCustodian.open(second, hsm=token) as kms:
        kms.establish_aes_key("ledger", protection="hsm")
    wrong(q4, token, second, early, because="should be what KeyCustodian.open(path) raises")
    wrong(q4, token, second, "UnsealError", because="pass the exception")
    wrong(q4, "token", second, early, because="pass the token")
    words = "this store is unsealed by a hardware token: open it with hsm=HardwareToken(...) alone"
    wrong(q4, token, second, UnsealError(words), because="made by hand")  # the right words, copied
    try:
        raise UnsealError(words)
    except UnsealError as raised_by_hand:
        wrong(q4, token, second, raised_by_hand, because="made by hand")
    try:
        KeyCustodian.open(second)
    except UnsealError as genuine:
        right(q4, token, second, genuine)


# ---------------------------------------------------------------- the picture


def test_the_trust_boundary_picture_lists_the_tokens_objects(hsm_kms: KeyCustodian, token: HardwareToken) -> None:
    from matplotlib.figure import Figure

    from kmslib.course import pictures

    empty = pictures.trust_boundary()
    assert isinstance(empty, Figure)
    assert any("(no objects yet)" in t.get_text() for t in empty.axes[0].texts)
    hsm_kms.establish_aes_key("k", protection="hsm")
    hsm_kms.generate_signing_key("s", algorithm="ecdsa-p256-sha256", protection="hsm")
    texts = " ".join(t.get_text() for t in pictures.trust_boundary(token.objects()).axes[0].texts)
    for item in token.objects():
        assert f"{item.object_class}, {item.key_type}: {item.label[:24]}" in texts
    assert "key values: never cross" in texts
    assert "ciphertext, signatures" in texts
    many = [hardware.make_key(token, f"k{n}", {"TOKEN": True}) for n in range(7)]
    assert "... and 3 more" in " ".join(
        t.get_text() for t in pictures.trust_boundary(many + token.objects()[:2]).axes[0].texts
    )
