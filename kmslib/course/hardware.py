"""Lesson 10 (keys in hardware): a practice token, raw PKCS#11 calls, and Clulow's attack, for the notebook.

- :func:`practice_token`: a fresh SoftHSM2 token in a temporary folder, logged in;
- :func:`workspace`: a fresh folder for the lesson's store files;
- :func:`token_object`: the raw python-pkcs11 object of a kmslib key version in the token;
- :func:`careless_key`, :func:`extractable_target`, :func:`wrap_then_decrypt`, :func:`same_key`: Clulow's
  wrap-then-decrypt attack (Clulow, "On the Security of PKCS #11", CHES 2003, LNCS 2779, pp. 411-425,
  doi:10.1007/978-3-540-45238-6_32) against a careless template, with the token's own calls;
- :func:`attack_kmslib_key`: the same attack, step by step, against a key kmslib made, and each refusal;
- :func:`clulow_unsafe`: whether a template makes a key that can serve as the attack's tool;
- :func:`make_key`: an AES-256 key made in the token with a student's template (exercise 2).

The attack code lives here, never in a notebook, and ``tests/test_lesson10.py`` checks that the careless demo
really extracts a key (so that the demo can fail) and that kmslib's keys refuse every step.

SoftHSM2 is a software token: its keys are files on this machine, encrypted under the user PIN, and it holds
no FIPS 140 validation. It speaks the same PKCS#11 interface as a hardware security module, which is what the
lesson needs; it protects nothing a real HSM's hardware does.
"""

from __future__ import annotations

import re
import tempfile
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from kmslib.custodian import KeyCustodian
from kmslib.errors import ArgumentTypeError, InvalidInputError
from kmslib.hsm import HardwareToken, TokenObject
from kmslib.softhsm import SoftHSM

__all__ = [
    "ATTRIBUTES",
    "ZERO_IV",
    "Attempt",
    "ClulowLab",
    "attack_kmslib_key",
    "careless_key",
    "clulow_lab",
    "clulow_unsafe",
    "extractable_target",
    "make_key",
    "objects_labelled",
    "practice_token",
    "refusal",
    "same_key",
    "token_object",
    "workspace",
    "wrap_then_decrypt",
]

#: The IV of the attack's AES-CBC wrap and decryption (any IV works, as long as both use the same one).
ZERO_IV = bytes(16)
#: The attributes a template in this lesson may name (PKCS#11 3.0's ``CKA_`` names, without the prefix).
ATTRIBUTES = (
    "TOKEN",
    "PRIVATE",
    "SENSITIVE",
    "EXTRACTABLE",
    "ENCRYPT",
    "DECRYPT",
    "WRAP",
    "UNWRAP",
    "SIGN",
    "VERIFY",
    "DERIVE",
    "MODIFIABLE",
    "COPYABLE",
)
#: Return values python-pkcs11 0.10 does not name, by code (PKCS#11 3.0, ``pkcs11t.h``).
_UNNAMED = {
    0x10: "AttributeReadOnly (CKR_ATTRIBUTE_READ_ONLY)",
    0x1B: "ActionProhibited (CKR_ACTION_PROHIBITED)",
    0x68: "KeyFunctionNotPermitted (CKR_KEY_FUNCTION_NOT_PERMITTED)",
}
_MADE_LABELS = ("careless", "target")


def practice_token(label: str = "course") -> HardwareToken:
    """A fresh SoftHSM2 token in a new temporary folder, logged in with its user PIN.

    Making it restarts the PKCS#11 module in this process (SoftHSM2 reads its tokens when it starts;
    see :mod:`kmslib.softhsm`): a token opened earlier in the same kernel, and every key through it, stops
    working. Call it once per kernel; after a restart of the kernel, call it again (the earlier token's
    folder is left behind, and nothing opens it).

    Raises:
        HardwareError: SoftHSM2 or python-pkcs11 is not installed (the message says how to install them).
    """
    softhsm = SoftHSM(tempfile.mkdtemp(prefix="kmslib-lesson10-token-"))
    name, pin = softhsm.new_token(label)
    token = HardwareToken(softhsm.module, token_label=name, pin=pin)
    pin = ""  # a traceback keeps its frames' locals: not the PIN
    return token


def workspace() -> Path:
    """A new, empty folder for this lesson's store files (in the system's temporary folder)."""
    return Path(tempfile.mkdtemp(prefix="kmslib-lesson10-"))


def _raw(token: object) -> Any:
    if not isinstance(token, HardwareToken):
        raise ArgumentTypeError(f"token must be a kmslib.HardwareToken, not {type(token).__name__}")
    return token._pkcs11


def refusal(exc: BaseException) -> str:
    """The name of a python-pkcs11 error, such as ``AttributeSensitive`` (from its code if the binding names none)."""
    name = type(exc).__name__
    if name == "PKCS11Error":
        found = re.search(r"0x([0-9a-fA-F]+)", str(exc))
        if found is not None and int(found.group(1), 16) in _UNNAMED:
            return _UNNAMED[int(found.group(1), 16)]
    return name


def _try(token: HardwareToken, operation: Callable[[Any], Any]) -> tuple[bool, Any]:
    """``(True, result)`` of ``operation(session)`` in the token, or ``(False, the refusal's name)``."""
    pkcs11 = _raw(token)

    def guarded(session: Any) -> tuple[bool, Any]:
        try:
            return True, operation(session)
        except pkcs11.PKCS11Error as exc:
            return False, refusal(exc)

    result: tuple[bool, Any] = token.call(guarded)
    return result


def token_object(custodian: KeyCustodian, key_id: str, version: int | None = None) -> Any:
    """The raw python-pkcs11 object of a key version that kmslib made in the token (the private half, for signing).

    Args:
        custodian: the custodian holding the key (made with ``protection="hsm"``).
        key_id: the key's id.
        version: the version (default: the newest).

    Raises:
        KeyNotFoundError: no such key.
        InvalidInputError: the key, or that version, is not in a token.
    """
    record = custodian._get(key_id)  # the course reads the custodian's record: the object id is not public
    material = record.versions.get(record.newest if version is None else version)
    if material is None or getattr(material, "protection", "software") != "hsm":
        raise InvalidInputError(f"{key_id!r} (version {version or record.newest}) is not a key in a hardware token")
    token: HardwareToken = material._token  # type: ignore[union-attr]
    kind = "secret" if record.kind == "aes" else "private"
    return token.find(material.object_id, kind)  # type: ignore[union-attr]


def objects_labelled(token: HardwareToken, label: str) -> list[Any]:
    """The raw objects of class secret key with ``CKA_LABEL`` ``label`` in the token (this session's included)."""
    pkcs11 = _raw(token)
    query = {pkcs11.Attribute.CLASS: pkcs11.ObjectClass.SECRET_KEY, pkcs11.Attribute.LABEL: label}
    found: list[Any] = token.call(lambda session: list(session.get_objects(query)))
    return found


# ---------------------------------------------------------------- Clulow's attack


def careless_key(token: HardwareToken, **changes: bool) -> Any:
    """A session AES-256 key with the template Clulow attacks: it may both wrap keys and decrypt data.

    It is sensitive (``CKA_VALUE`` unreadable), which is why it looks safe; ``changes`` (``WRAP=False``...)
    override its template. It lives until the token's session closes (``CKA_TOKEN`` false).
    """
    pkcs11 = _raw(token)
    template = {
        "TOKEN": False,
        "SENSITIVE": True,
        "EXTRACTABLE": True,
        "ENCRYPT": True,
        "DECRYPT": True,
        "WRAP": True,
        "UNWRAP": True,
        **changes,
    }
    attributes = {getattr(pkcs11.Attribute, name): value for name, value in template.items()}
    return token.call(
        lambda session: session.generate_key(pkcs11.KeyType.AES, 256, label="careless", template=attributes)
    )


def extractable_target(token: HardwareToken, value: bytes | None = None) -> Any:
    """A session AES-256 key that is sensitive but extractable: the attack's target.

    Args:
        token: the token.
        value: its 32 key bytes, for a demonstration that compares them with what the attack takes out;
            ``None`` for a key the token generates (nobody knows its value).
    """
    pkcs11 = _raw(token)
    attribute = pkcs11.Attribute
    uses = {
        attribute.TOKEN: False,
        attribute.SENSITIVE: True,
        attribute.EXTRACTABLE: True,
        attribute.ENCRYPT: True,
        attribute.DECRYPT: False,
        attribute.SIGN: False,
        attribute.WRAP: False,
        attribute.UNWRAP: False,
    }
    if value is None:
        return token.call(lambda session: session.generate_key(pkcs11.KeyType.AES, 256, label="target", template=uses))
    if len(value) != 32:
        raise InvalidInputError("the target is an AES-256 key: its value is 32 bytes")
    known = {
        attribute.CLASS: pkcs11.ObjectClass.SECRET_KEY,
        attribute.KEY_TYPE: pkcs11.KeyType.AES,
        attribute.VALUE: bytes(value),
        attribute.LABEL: "target",
        **uses,
    }
    return token.call(lambda session: session.create_object(known))


def wrap_then_decrypt(token: HardwareToken, wrapping: Any, target: Any) -> bytes:
    """Clulow's attack: wrap ``target`` under ``wrapping`` (C_WrapKey, AES-CBC), then decrypt that as data (C_Decrypt).

    The token checks each call on its own: the wrap is allowed (``wrapping`` may wrap, ``target`` is
    extractable), and so is the decryption (``wrapping`` may decrypt). Together they give the target's value.
    SoftHSM2 2.6 wraps with ``CKM_AES_CBC`` (no padding: a 32-byte key is two whole blocks); its
    ``CKM_AES_KEY_WRAP`` output cannot be given to ``C_Decrypt`` there.

    Raises:
        HardwareError: the token refused a step (its message names the refusal, such as ``KeyUnextractable``).
        AttributeError: ``wrapping`` may not wrap or may not decrypt (python-pkcs11 then offers no such method).
    """
    pkcs11 = _raw(token)
    cbc = pkcs11.Mechanism.AES_CBC
    wrapped = token.call(lambda _: wrapping.wrap_key(target, mechanism=cbc, mechanism_param=ZERO_IV))
    return bytes(token.call(lambda _: wrapping.decrypt(wrapped, mechanism=cbc, mechanism_param=ZERO_IV)))


def same_key(token: HardwareToken, key: Any, value: bytes) -> bool:
    """Whether ``value`` is ``key``'s value: one block encrypted by the token with the key, and in software with it.

    The token never shows a sensitive key's value; an encryption made with it is the evidence instead.
    """
    if not isinstance(value, (bytes, bytearray)) or len(value) != 32:
        return False
    pkcs11 = _raw(token)
    block = b"one block, 16 B."
    ok, in_token = _try(token, lambda _: key.encrypt(block, mechanism=pkcs11.Mechanism.AES_ECB))
    if not ok:
        return False
    encryptor = Cipher(algorithms.AES(bytes(value)), modes.ECB()).encryptor()  # noqa: S305 - one block, a comparison
    return bytes(in_token) == encryptor.update(block) + encryptor.finalize()


@dataclass(frozen=True)
class Attempt:
    """One step of an attack on a key in the token, and the token's answer.

    Attributes:
        step: what was tried, with the PKCS#11 function.
        refused: whether the token refused it.
        answer: the refusal's name (``KeyUnextractable``...), or what the step gave.
    """

    step: str
    refused: bool
    answer: str

    def __str__(self) -> str:
        return f"{self.step:<58} {'refused: ' if self.refused else 'ALLOWED: '}{self.answer}"


def attack_kmslib_key(token: HardwareToken, custodian: KeyCustodian, key_id: str) -> list[Attempt]:
    """Clulow's attack against an AES key kmslib made in the token, each step tried with the token's own calls.

    The steps: read ``CKA_VALUE``; wrap the key under a careless key (``C_WrapKey``); turn ``CKA_WRAP``
    on in it (``C_SetAttributeValue``), to make it the tool; copy it into an extractable, wrapping object
    (``C_CopyObject``); and use it to wrap the careless key. Nothing is changed if the token refuses every step;
    the careless key is destroyed at the end.
    """
    pkcs11 = _raw(token)
    attribute, cbc = pkcs11.Attribute, pkcs11.Mechanism.AES_CBC
    key = token_object(custodian, key_id)
    careless = careless_key(token)
    # python-pkcs11 offers wrap_key only on objects with CKA_WRAP; its C_WrapKey itself asks the token.
    wrap = pkcs11._pkcs11.WrapMixin.wrap_key
    steps: list[tuple[str, Callable[[Any], Any]]] = [
        ("read its value (C_GetAttributeValue, CKA_VALUE)", lambda _: key[attribute.VALUE]),
        (
            "wrap it under a careless key (C_WrapKey)",
            lambda _: careless.wrap_key(key, mechanism=cbc, mechanism_param=ZERO_IV),
        ),
        ("turn CKA_WRAP on (C_SetAttributeValue)", lambda _: key.__setitem__(attribute.WRAP, True)),
        (
            "copy it as extractable and wrapping (C_CopyObject)",
            lambda _: key.copy({attribute.EXTRACTABLE: True, attribute.WRAP: True}),
        ),
        (
            "wrap the careless key under it (C_WrapKey)",
            lambda _: wrap(key, careless, mechanism=cbc, mechanism_param=ZERO_IV),
        ),
    ]
    attempts = []
    for step, operation in steps:
        ok, answer = _try(token, operation)
        shown = f"{len(answer)} bytes came out" if ok and isinstance(answer, (bytes, bytearray)) else str(answer)
        attempts.append(Attempt(step, not ok, "it worked" if ok and answer is None else shown))
    token.call(lambda _: careless.destroy())
    return attempts


def clulow_unsafe(template: Mapping[str, bool]) -> list[str]:
    """Why a key made with ``template`` can serve as the tool of Clulow's attacks; ``[]`` if it cannot.

    A key is the tool if it can, now or after ``C_SetAttributeValue``, both wrap keys and decrypt data
    (it exports any extractable key) or both unwrap keys and encrypt data (it imports a key its user
    chose). PKCS#11 3.0 lets ``CKA_WRAP``, ``CKA_UNWRAP``, ``CKA_ENCRYPT`` and ``CKA_DECRYPT`` be changed on
    an object whose ``CKA_MODIFIABLE`` is true, and true is that attribute's default.

    Args:
        template: attribute names (``"WRAP"`` or ``"CKA_WRAP"``) and their values; a missing use is false.
    """
    names = {str(name).upper().removeprefix("CKA_"): bool(value) for name, value in template.items()}
    modifiable = names.get("MODIFIABLE", True)

    def can(use: str) -> bool:
        return names.get(use, False) or modifiable

    reasons = []
    for first, second in (("WRAP", "DECRYPT"), ("UNWRAP", "ENCRYPT")):
        if can(first) and can(second):
            now = names.get(first, False) and names.get(second, False)
            when = "" if now else ", once CKA_MODIFIABLE lets someone turn them on"
            reasons.append(f"{first.lower()} and {second.lower()}{when}")
    return reasons


# ---------------------------------------------------------------- exercises' helpers


def _template(token: HardwareToken, template: object) -> dict[Any, bool]:
    if not isinstance(template, Mapping):
        raise ArgumentTypeError(
            f"template must be a dict of attribute names and True/False, not {type(template).__name__}"
        )
    attribute = _raw(token).Attribute
    out = {}
    for name, value in template.items():
        plain = str(name).upper().removeprefix("CKA_")
        if plain not in ATTRIBUTES:
            raise InvalidInputError(f"{str(name)[:30]!r} is not one of the attributes {', '.join(ATTRIBUTES)}")
        if not isinstance(value, bool):
            raise ArgumentTypeError(f"{plain} must be True or False, not {type(value).__name__}")
        out[getattr(attribute, plain)] = value
    return out


def make_key(token: HardwareToken, label: str, template: Mapping[str, bool]) -> TokenObject:
    """Make an AES-256 key labelled ``label`` in the token with ``template`` (python-pkcs11's ``generate_key``).

    Uses the template leaves out take python-pkcs11's defaults for an AES key, which include wrapping
    and unwrapping (``pkcs11.defaults.DEFAULT_KEY_CAPABILITIES``): name each one.

    Args:
        token: the token.
        label: a new label (not one already in the token, and not beginning with ``kmslib:``).
        template: attribute names (:data:`ATTRIBUTES`, with or without ``CKA_``) and ``True``/``False``.

    Returns:
        The new object as :meth:`kmslib.HardwareToken.objects` lists it.

    Raises:
        InvalidInputError: a label that is taken or reserved, or an unknown attribute.
        HardwareError: the token refused the template (its message names the refusal).
    """
    if not isinstance(label, str) or not label:
        raise ArgumentTypeError("label must be a non-empty str")
    if label.startswith("kmslib:") or label in _MADE_LABELS:
        raise InvalidInputError(f"the label {label!r} is kmslib's or this lesson's: choose another")
    attributes = _template(token, template)
    if objects_labelled(token, label):
        raise InvalidInputError(f"the token already holds a key labelled {label!r}: give each attempt a new label")
    pkcs11 = _raw(token)
    ok, answer = _try(
        token, lambda session: session.generate_key(pkcs11.KeyType.AES, 256, label=label, template=attributes)
    )
    if not ok:
        raise InvalidInputError(f"the token refused the template ({answer})")
    return next(item for item in token.objects() if item.label == label)


@dataclass(frozen=True, eq=False)
class ClulowLab:
    """Exercise 3's objects: a careless key (wrap and decrypt) and a sensitive, extractable target of unknown value."""

    token: HardwareToken
    careless: Any
    target: Any

    def __repr__(self) -> str:
        return "ClulowLab(careless=<may wrap and decrypt>, target=<sensitive, extractable, value unknown>)"


_LABS: weakref.WeakSet[ClulowLab] = weakref.WeakSet()


def clulow_lab(token: HardwareToken) -> ClulowLab:
    """A fresh careless key and target in ``token`` for exercise 3 (session objects: gone when the session closes)."""
    lab = ClulowLab(token, careless_key(token), extractable_target(token))
    _LABS.add(lab)
    return lab


def is_lab(value: object) -> bool:
    """Whether ``value`` came from :func:`clulow_lab`."""
    return isinstance(value, ClulowLab) and value in _LABS


def wrapped_forms(lab: ClulowLab) -> dict[str, bytes]:
    """The target wrapped under the careless key, by each mechanism a student might have used (never decrypted)."""
    pkcs11 = _raw(lab.token)
    forms = {}
    for name, parameter in (("AES_CBC", ZERO_IV), ("AES_KEY_WRAP", None), ("AES_KEY_WRAP_PAD", None)):
        mechanism = getattr(pkcs11.Mechanism, name)

        def wrap(_: Any, mechanism: Any = mechanism, parameter: bytes | None = parameter) -> Any:
            return lab.careless.wrap_key(lab.target, mechanism=mechanism, mechanism_param=parameter)

        ok, wrapped = _try(lab.token, wrap)
        if ok:
            forms[name] = bytes(wrapped)
    return forms
