"""Lesson 10 (keys in hardware): four checked exercises and the quiz.

Exercises:

- ``q1`` (recall): which of :data:`TEMPLATES` make a key that can serve as the tool of Clulow's attacks
  (both wrap and decrypt, or both unwrap and encrypt, now or once ``CKA_MODIFIABLE`` lets someone change them);
- ``q2`` (build): a data key in the token that cannot leave it; judged on the real object: its value read,
  a wrap by another key tried, its attributes read, and an encryption and decryption made with it in the token;
- ``q3`` (break): Clulow's wrap-then-decrypt attack on :func:`kmslib.course.hardware.clulow_lab`'s careless key:
  the bytes taken out are judged by an encryption the token makes with the target (its value is never shown);
- ``q4`` (apply): a store sealed by the token (auto-unseal), a key 'ledger' in it, and the refusal of the file
  opened without the token; the check opens the store itself, with and without the token.

Checkers read the token and the store, never the student's code. Sources: PKCS#11 3.0 (OASIS, 2020); Clulow,
"On the Security of PKCS #11", CHES 2003, doi:10.1007/978-3-540-45238-6_32.
"""

from __future__ import annotations

import os
from typing import Any

from kmslib.course import hardware
from kmslib.course.exercises import Exercise, Question, Quiz, indices, indices_refusal, kind, raised_by_kmslib
from kmslib.course.lesson08 import _path, _refusal
from kmslib.custodian import KeyCustodian
from kmslib.errors import UnsealError
from kmslib.hsm import HardwareToken

__all__ = ["TEMPLATES", "q1", "q2", "q3", "q4", "quiz"]

# ---------------------------------------------------------------- q1: which templates are Clulow's tools?

_NEVER = {"SENSITIVE": True, "EXTRACTABLE": False}
#: Six key templates (PKCS#11 attribute names without ``CKA_``), each with its purpose, for exercise 1.
TEMPLATES: tuple[dict[str, bool], ...] = (
    {**_NEVER, "ENCRYPT": True, "DECRYPT": True, "WRAP": False, "UNWRAP": False, "MODIFIABLE": False},
    {**_NEVER, "ENCRYPT": False, "DECRYPT": False, "WRAP": True, "UNWRAP": True, "MODIFIABLE": False},
    {**_NEVER, "ENCRYPT": True, "DECRYPT": True, "WRAP": True, "UNWRAP": True, "MODIFIABLE": False},
    {**_NEVER, "ENCRYPT": True, "DECRYPT": True, "WRAP": False, "UNWRAP": False, "MODIFIABLE": True},
    {**_NEVER, "ENCRYPT": True, "DECRYPT": False, "WRAP": False, "UNWRAP": True, "MODIFIABLE": False},
    {**_NEVER, "ENCRYPT": False, "DECRYPT": False, "WRAP": False, "UNWRAP": False, "SIGN": True, "MODIFIABLE": False},
)
_UNSAFE = frozenset(i for i, template in enumerate(TEMPLATES) if hardware.clulow_unsafe(template))


def _check_q1(unsafe: object) -> str | None:
    chosen = indices(unsafe)
    if chosen is None:
        return indices_refusal(unsafe, len(TEMPLATES), "unsafe templates")
    outside = sorted(i for i in chosen if not 0 <= i < len(TEMPLATES))
    if outside:
        return f"there is no template {outside[0]}: they are numbered 0 to {len(TEMPLATES) - 1}."
    if chosen == set(range(len(TEMPLATES))):
        return "every template? Some make keys that can never both wrap and decrypt, nor unwrap and encrypt."
    wrongly = sorted(chosen - _UNSAFE)
    if wrongly:
        template = TEMPLATES[wrongly[0]]
        alone = " Wrapping and unwrapping alone are what a key-wrapping key is for." if template.get("WRAP") else ""
        return (
            f"template {wrongly[0]} cannot give a key both wrap and decrypt, nor unwrap and encrypt, now or later "
            f"(its CKA_MODIFIABLE is false).{alone}"
        )
    missed = sorted(_UNSAFE - chosen)
    if not missed:
        return None
    reasons = " ".join(hardware.clulow_unsafe(TEMPLATES[i])[0] for i in missed)
    if "CKA_MODIFIABLE" in reasons:
        return (
            "an unsafe template is missing: read CKA_MODIFIABLE too. A key that does not wrap today can be made to "
            "wrap tomorrow, by C_SetAttributeValue."
        )
    if "unwrap" in reasons:
        return (
            "an unsafe template is missing: Clulow's attack has a mirror image. A key that may unwrap and encrypt "
            "imports a key its user chose (encrypt your own bytes, then unwrap them as a key)."
        )
    return "an unsafe template is missing: look for a key that may both wrap keys and decrypt data."


q1 = Exercise(
    1,
    "recall",
    "Read `TEMPLATES` (printed above). Which of them make a key that can serve as the tool of Clulow's attacks: "
    "a key that can, now or after C_SetAttributeValue, both wrap and decrypt, or both unwrap and encrypt? Pass "
    "their indices, as a set.",
    _check_q1,
    "Look at four attributes in pairs: WRAP with DECRYPT, UNWRAP with ENCRYPT. Then at MODIFIABLE: PKCS#11 lets "
    "those uses be changed on an object that is modifiable.",
    "q1.check({2, 3, 4})",
)


# ---------------------------------------------------------------- q2: a key that cannot leave the token


def _token(value: object) -> HardwareToken | str:
    if not isinstance(value, HardwareToken):
        return f"pass the token (token = hardware.practice_token()), not {kind(value)}."
    if value.closed:
        return "that token was closed (or opened again by another object): pass the one that is open."
    return value


def _one_object(token: HardwareToken, label: object) -> Any:
    if not isinstance(label, str):
        return f"pass the label you gave make_key (a str), not {kind(label)}."
    if label.startswith("kmslib:"):
        return "that is a key kmslib made (its label begins with 'kmslib:'): make your own with make_key."
    found = hardware.objects_labelled(token, label)
    if not found:
        return (
            f"the token holds no key labelled {label[:40]!r}: make it with hardware.make_key(token, label, template)."
        )
    if len(found) > 1:
        return f"the token holds {len(found)} keys labelled {label[:40]!r}: give each attempt a new label."
    return found[0]


def _attribute(token: HardwareToken, key: Any, name: str) -> bool | None:
    ok, value = hardware._try(token, lambda _: key[getattr(token._pkcs11.Attribute, name)])
    return bool(value) if ok else None


def _leaves(token: HardwareToken, key: Any) -> str | None:
    """How the key's value leaves the token, if it does: read directly, or wrapped by another key."""
    pkcs11 = token._pkcs11
    readable, _ = hardware._try(token, lambda _: key[pkcs11.Attribute.VALUE])
    if readable:
        return "its value came out of the token when read (C_GetAttributeValue of CKA_VALUE): look at CKA_SENSITIVE."
    wrapping = hardware.careless_key(token, DECRYPT=False, ENCRYPT=False, UNWRAP=False, EXTRACTABLE=False)
    try:
        wrap = pkcs11._pkcs11.WrapMixin.wrap_key
        wrapped, _ = hardware._try(token, lambda _: wrap(wrapping, key, mechanism=pkcs11.Mechanism.AES_KEY_WRAP_PAD))
    finally:
        token.call(lambda _: wrapping.destroy())
    if wrapped:
        return (
            "another key wrapped it and took it out of the token (C_WrapKey): whoever can decrypt that has it. "
            "Look at CKA_EXTRACTABLE."
        )
    return None


def _works(token: HardwareToken, key: Any) -> bool:
    """Whether the key encrypts and decrypts a record in the token (AES-CBC with padding)."""
    if not (_attribute(token, key, "ENCRYPT") and _attribute(token, key, "DECRYPT")):
        return False  # python-pkcs11 offers encrypt and decrypt only on keys with both
    pkcs11 = token._pkcs11
    iv, message, cbc = os.urandom(16), b"a record to keep", pkcs11.Mechanism.AES_CBC_PAD
    ok, ciphertext = hardware._try(token, lambda _: key.encrypt(message, mechanism=cbc, mechanism_param=iv))
    if not ok:
        return False
    ok, back = hardware._try(token, lambda _: key.decrypt(ciphertext, mechanism=cbc, mechanism_param=iv))
    return ok and bytes(back) == message


def _check_q2(token: object, label: object) -> str | None:
    hardware_token = _token(token)
    if isinstance(hardware_token, str):
        return hardware_token
    key = _one_object(hardware_token, label)
    if isinstance(key, str):
        return key
    if _attribute(hardware_token, key, "TOKEN") is not True:
        return "the key lives only as long as this session (CKA_TOKEN is false): make it a token object."
    leaving = _leaves(hardware_token, key)
    if leaving is not None:
        return leaving
    uses = {
        name: _attribute(hardware_token, key, name) for name in ("WRAP", "UNWRAP", "ENCRYPT", "DECRYPT", "MODIFIABLE")
    }
    unsafe = hardware.clulow_unsafe({name: bool(value) for name, value in uses.items() if value is not None})
    if unsafe:
        return (
            f"it cannot leave today, but it could be Clulow's tool ({unsafe[0]}): the token's other keys would leave "
            "through it. Say every use, and whether it can change."
        )
    if not _works(hardware_token, key):
        return "it cannot encrypt and decrypt data in the token (CKA_ENCRYPT, CKA_DECRYPT): a data key must."
    return None


q2 = Exercise(
    2,
    "build",
    "With `hardware.make_key(token, label, template)`, make an AES key for encrypting data, kept in the token, that "
    "cannot leave it: not read, not wrapped out by any key, and never usable as Clulow's tool, now or later. Pass "
    "(token, label). The check reads the real object in the token, tries to take it out, and encrypts with it.",
    _check_q2,
    "Name every attribute: what the template leaves out takes python-pkcs11's defaults, which for an AES key include "
    "WRAP and UNWRAP. Compare with kmslib.hsm.KEY_TEMPLATE.",
    """template = {"TOKEN": True, "SENSITIVE": True, "EXTRACTABLE": False, "ENCRYPT": True, "DECRYPT": True,
            "WRAP": False, "UNWRAP": False, "MODIFIABLE": False}
hardware.make_key(token, "my-data-key", template)
q2.check(token, "my-data-key")""",
)


# ---------------------------------------------------------------- q3: Clulow's attack, by hand


def _check_q3(lab: object, stolen: object) -> str | None:
    if not hardware.is_lab(lab):
        return "pass the lab that clulow_lab(token) gave you (lab = clulow_lab(token)), then the bytes you took out."
    assert isinstance(lab, hardware.ClulowLab)
    if lab.token.closed:
        return "the lab's token was closed (or opened again): make a new lab with clulow_lab(token)."
    if isinstance(stolen, memoryview):
        stolen = stolen.tobytes()
    if not isinstance(stolen, (bytes, bytearray)):
        return f"pass the bytes that came out of the token (the decryption's result), not {kind(stolen)}."
    value = bytes(stolen)
    if hardware.same_key(lab.token, lab.target, value):
        return None
    for mechanism, wrapped in hardware.wrapped_forms(lab).items():
        if value == wrapped:
            if mechanism == "AES_CBC":
                return (
                    "those are the wrapped bytes: the target still encrypted under the careless key. The careless key "
                    "may also decrypt: decrypt them as data, with the same mechanism and IV."
                )
            return (
                f"those bytes were wrapped with {mechanism}, whose output SoftHSM2 does not let C_Decrypt take: "
                "wrap with Mechanism.AES_CBC and a 16-byte IV, then decrypt with the same."
            )
    if len(value) != 32:
        return f"an AES-256 key is 32 bytes; these are {len(value)}: pass what the decryption of the wrapped key gave."
    return (
        "those 32 bytes are not the target's key (an encryption by the target in the token does not match one "
        "made with them). Wrap lab.target under lab.careless, then decrypt what came out, with the same IV."
    )


q3 = Exercise(
    3,
    "break",
    "`lab = clulow_lab(token)` gives `lab.careless`, a key that may both wrap and decrypt, and `lab.target`, a "
    "sensitive but extractable key whose value nobody knows (reading CKA_VALUE is refused). Take the target's value "
    "out of the token with the two calls of Clulow's attack, and pass (lab, stolen). The check compares an "
    "encryption made by the target in the token with one made in software with your bytes.",
    _check_q3,
    "lab.careless.wrap_key(lab.target, mechanism=Mechanism.AES_CBC, mechanism_param=bytes(16)) gives the target "
    "encrypted under the careless key. What else may the careless key do with bytes?",
    """lab = clulow_lab(token)
wrapped = lab.careless.wrap_key(lab.target, mechanism=Mechanism.AES_CBC, mechanism_param=bytes(16))
stolen = lab.careless.decrypt(wrapped, mechanism=Mechanism.AES_CBC, mechanism_param=bytes(16))
q3.check(lab, stolen)""",
)


# ---------------------------------------------------------------- q4: auto-unseal, and the file alone


def _store_problem(token: HardwareToken, path: Any) -> str | None:
    """What is wrong with the store sealed by ``token`` at ``path`` (opened with the token, and closed), or ``None``."""
    refused = _refusal(path, {"hsm": token})
    if isinstance(refused, str):
        return refused
    if isinstance(refused, UnsealError):
        return (
            f"{path.name} does not open with the token ({refused}): make it with kmslib.init_store(path, hsm=token), "
            "which seals it under a key in the token."
        )
    if refused is not None:
        return f"{path.name} refuses to open with the token: {refused}"
    with KeyCustodian.open(path, hsm=token) as kms:
        if "ledger" not in kms:
            return f"{path.name} opens with the token, and holds no key 'ledger': make it (protection='hsm')."
        if kms.key_info("ledger").protection != "hsm":
            return "'ledger' is a software key: make it in the token, with protection='hsm'."
    return None


def _check_q4(token: object, path: object, error: object) -> str | None:
    hardware_token = _token(token)
    if isinstance(hardware_token, str):
        return hardware_token
    store = _path(path)
    if isinstance(store, str):
        return store
    problem = _store_problem(hardware_token, store)
    if problem is not None:
        return problem
    alone = _refusal(store, {})
    if isinstance(alone, str):
        return alone
    if not isinstance(alone, UnsealError):  # pragma: no cover - a store the token opens refuses to open alone
        return f"{store.name} opened without the token: it is not sealed by it."
    if not isinstance(error, BaseException):
        return f"pass the exception you caught (except UnsealError as error), not {kind(error)}."
    if isinstance(error, UnsealError) and not raised_by_kmslib(error):
        return (
            "that error was made by hand, not raised by KeyCustodian.open: catch the one it raises "
            "(except UnsealError as error)."
        )
    if not isinstance(error, UnsealError) or str(error) != str(alone):
        return (
            f"error is {type(error).__name__}: {str(error)[:120]}. It should be what KeyCustodian.open(path) raises, "
            "the file opened with no token, once the store exists and is closed."
        )
    return None


q4 = Exercise(
    4,
    "apply",
    "Make a store at `auto_path` sealed by the token (auto-unseal); open it with the token, make an AES key "
    "'ledger' in the token (protection='hsm'), and close it. Then try to open the file without the token, and catch "
    "the error. Pass (token, auto_path, error).",
    _check_q4,
    "kmslib.init_store(path, hsm=token), then `with KeyCustodian.open(path, hsm=token) as kms:`. Outside the with "
    "block, `except UnsealError as error:` around KeyCustodian.open(path).",
    """kmslib.init_store(auto_path, hsm=token)
with KeyCustodian.open(auto_path, hsm=token) as kms:
    kms.establish_aes_key("ledger", protection="hsm")
try:
    KeyCustodian.open(auto_path)
except UnsealError as error:
    alone = error
q4.check(token, auto_path, alone)""",
)


# ---------------------------------------------------------------- the quiz

quiz = Quiz(
    Question(
        "What does FIPS 140-3 Security Level 3 add to Level 2?",
        {
            "a": "A proof that the module's keys can never be extracted",
            "b": "Identity-based authentication, and physical security that detects and responds to tampering",
            "c": "Protection against every environmental attack, such as voltage and temperature",
        },
        "b",
        "FIPS 140-3 adopts the four levels of ISO/IEC 19790:2012. Level 2 asks tamper evidence and role-based "
        "authentication; Level 3 identity-based authentication and tamper detection and response (zeroising "
        "secrets), with protection against voltage and temperature outside the normal range or testing in place of it; "
        "Level 4 requires that protection, and multi-factor authentication. No level proves that no key leaves: "
        "what leaves is decided by the module's interface and its keys' attributes.",
    ),
    Question(
        "An HSM holds a key K that is sensitive and extractable, and a key W that may both wrap and decrypt. What can "
        "anyone with the PIN do?",
        {
            "a": "Nothing: K is sensitive, so its value is never read",
            "b": "Wrap K under W, then decrypt the result with W: K's value comes out",
            "c": "Read K only with the security officer's PIN",
        },
        "b",
        "Clulow's attack (CHES 2003): the token checks each call on its own, and both calls are allowed. kmslib's "
        "keys are never extractable and never both wrap and decrypt, and cannot be changed to.",
    ),
    Question(
        "A store is sealed by a token (auto-unseal). Who can open it?",
        {
            "a": "Anyone who copies the store file",
            "b": "Whoever holds the token and its PIN, with the file",
            "c": "Nobody, once the process that made it ends",
        },
        "b",
        "The file alone opens nothing (UnsealError), and the token opens it with no person present: convenience, "
        "paid for by protecting the token and its PIN as the store's only key.",
    ),
    Question(
        "Where do KMIP and PKCS#11 differ?",
        {
            "a": "KMIP is a protocol between a client and a key manager over a network; PKCS#11 a C API to a token",
            "b": "They are two names of one standard",
            "c": "KMIP is for public keys, PKCS#11 for secret keys",
        },
        "a",
        "KMIP (OASIS, 2.1 in 2020) defines messages a client sends a key management server; PKCS#11 (OASIS, 3.0 in "
        "2020) defines functions an application calls in a library that drives a token. A key manager may use "
        "PKCS#11 behind its KMIP interface.",
    ),
)
