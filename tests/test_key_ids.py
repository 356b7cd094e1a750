"""Key ids that are ``str`` subclasses are taken as their plain value (contract section 4).

A ``str`` subclass can lie: its own ``strip``, ``__len__``, ``isprintable``, ``__hash__``,
``__eq__`` or ``__getitem__``. kmslib converts an id with ``str.__str__``, validates it with
``str``'s own methods, and stores, compares, hashes and logs that plain value.
"""

from __future__ import annotations

import enum

import pytest

from kmslib import InvalidInputError, KeyCustodian, KeyExistsError, KeyRevokedError


class Terminal(enum.StrEnum):
    POS = "terminal_123"


class Liar(str):
    """Claims to be short, printable and not blank, whatever it holds."""

    __slots__ = ()

    def strip(self, chars: str | None = None) -> str:
        return "x"

    def __len__(self) -> int:
        return 1

    def isprintable(self) -> bool:
        return True


class OwnHash(str):
    """Hashes and compares by its own rules, so that a dict would keep it apart from the plain str."""

    __slots__ = ()

    def __hash__(self) -> int:
        return 42

    def __eq__(self, other: object) -> bool:
        return other is self

    def __ne__(self, other: object) -> bool:
        return other is not self


class Renamer(str):
    """Slices, indexes and prints as another key's id."""

    __slots__ = ()

    def __getitem__(self, index: object) -> str:  # type: ignore[override]
        return "victim"

    def __str__(self) -> str:
        return "victim"


def test_a_strenum_member_names_the_key_of_its_value(kms: KeyCustodian) -> None:
    info = kms.establish_aes_key(Terminal.POS)
    assert type(info.key_id) is str
    assert info.key_id == "terminal_123"
    token = kms.encrypt_data_aes("terminal_123", "hello")
    assert kms.decrypt_data_aes(Terminal.POS, token) == "hello"
    assert Terminal.POS in kms
    assert kms.invalidate_key(Terminal.POS) == "Key Revocation Successful"
    assert kms.key_info("terminal_123").state == "revoked"
    with pytest.raises(KeyRevokedError):
        kms.encrypt_data_aes("terminal_123", "after")
    assert all(type(entry.key_id) is str for entry in kms.audit_log)


@pytest.mark.parametrize("value", ["bad\x00id", "tab\there", "x" * 5000, "   ", ""])
def test_a_subclass_cannot_lie_its_way_past_validation(kms: KeyCustodian, value: str) -> None:
    with pytest.raises(InvalidInputError):
        kms.establish_aes_key(Liar(value))
    assert len(kms) == 0
    assert kms.audit_log[-1].outcome == "InvalidInputError"


def test_a_subclass_with_its_own_hash_cannot_make_a_second_key_under_a_revoked_id(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    kms.invalidate_key("k")
    with pytest.raises(KeyExistsError):
        kms.establish_aes_key(OwnHash("k"))
    with pytest.raises(KeyRevokedError):
        kms.encrypt_data_aes(OwnHash("k"), "x")
    assert len(kms) == 1
    assert [info.state for info in kms.list_keys()] == ["revoked"]


def test_ids_are_stored_and_logged_as_their_plain_value(kms: KeyCustodian) -> None:
    kms.establish_aes_key("victim")
    info = kms.establish_aes_key(Renamer("mine"))
    assert info.key_id == "mine"
    assert type(info.key_id) is str
    token = kms.encrypt_data_aes(Renamer("mine"), "x")
    assert kms.decrypt_data_aes("mine", token) == "x"
    with pytest.raises(InvalidInputError):
        kms.encrypt_data_aes(Renamer("m" * 200), "x")
    logged = [(entry.operation, entry.key_id) for entry in kms.audit_log][1:]
    assert logged == [
        ("establish_aes_key", "mine"),
        ("encrypt_data_aes", "mine"),
        ("decrypt_data_aes", "mine"),
        ("encrypt_data_aes", "m" * 128),  # cut to the longest valid id, by str's own slicing
    ]
    assert all(type(entry.key_id) is str for entry in kms.audit_log)


class ClassLiar:
    """Not a str, but its ``__class__`` raises: ``isinstance`` asks an object for it, ``type()`` does not."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        raise ValueError("from the caller's object")


def test_an_object_whose_class_attribute_raises_is_refused_as_a_bad_type_and_audited(kms: KeyCustodian) -> None:
    from kmslib import ArgumentTypeError
    from kmslib._checks import plain_key_id

    assert plain_key_id(ClassLiar()) is None  # its docstring says it never raises
    with pytest.raises(ArgumentTypeError, match="key_id must be a str"):
        kms.encrypt_data_aes(ClassLiar(), "x")  # type: ignore[arg-type]
    assert kms.audit_log[-1].operation == "encrypt_data_aes"
    assert kms.audit_log[-1].outcome == "ArgumentTypeError"
