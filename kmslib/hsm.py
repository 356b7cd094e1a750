"""Keys in a hardware token, through PKCS#11 (contract section 12).

A hardware security module (HSM) keeps keys in its own memory and does the cryptography itself:
the host sends data in and gets results out, and a key made *sensitive* and *non-extractable* never
leaves the token in the clear (PKCS#11 3.0, OASIS, 2020, section 4.9: ``CKA_SENSITIVE``,
``CKA_EXTRACTABLE``). kmslib talks to tokens through ``python-pkcs11`` (the ``kmslib[hsm]`` extra),
a maintained binding of the standard C interface, and is tested against SoftHSM2, a software token
with the same interface (it protects nothing a real HSM's hardware does: its keys are files on the host,
encrypted under the user PIN).

- :class:`HardwareToken` names one token and logs in to it with its user PIN. The PIN is used once,
  to log in, and not kept: a lost session is an error, not a silent log-in again.
- :class:`HardwareAESKey` (AES-256-GCM or -CBC) and :class:`HardwareSigningKey` (ECDSA P-256 with
  SHA-256) are key materials (:mod:`kmslib._material`) whose key lives in the token. Their tokens and
  signatures have the section-3 format of software keys': the same payload layout, so nothing downstream
  can tell where a key lives except :attr:`kmslib.KeyInfo.protection`.

Every key kmslib makes in a token has the template :data:`KEY_TEMPLATE`: sensitive, never extractable,
neither wrapping nor unwrapping other keys, and unmodifiable and uncopyable, so that no one can later turn
wrapping on or copy it into an extractable object. That closes Clulow's attacks on PKCS#11 (Clulow,
"On the Security of PKCS#11", CHES 2003, doi:10.1007/978-3-540-45238-6_32): a key allowed to both wrap
and decrypt exports any extractable key (wrap it, then decrypt the result as data), and a key allowed to
both unwrap and encrypt imports a key its user chose. ``tests/test_hsm_attack.py`` tries them against
kmslib's keys, and shows the first working against a careless template.

What a token does not change: whoever holds the token and its PIN uses every key in it (through kmslib
or any other PKCS#11 program), and a key in a token is only as available as the token.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import threading
import weakref
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import utils

from kmslib.errors import ArgumentTypeError, HardwareError, InvalidInputError
from kmslib.signing import SigningKeyVersion
from kmslib.tokens import AES_CBC, AES_GCM, CBC_IV_BYTES, ECDSA_P256, GCM_NONCE_BYTES, GCM_TAG_BYTES
from kmslib.usage import UsageCounter

__all__ = [
    "KEY_TEMPLATE",
    "PROTECTIONS",
    "REFERENCE_PREFIX",
    "HardwareAESKey",
    "HardwareSigningKey",
    "HardwareToken",
    "TokenObject",
    "load_material",
]

#: Where a key may live: ``protection=`` of :meth:`kmslib.KeyCustodian.establish_aes_key` and
#: :meth:`~kmslib.KeyCustodian.generate_signing_key`, and :attr:`kmslib.KeyInfo.protection`.
PROTECTIONS = ("software", "hsm")
#: What a sealed store keeps for a key version in a token: this prefix and the object's ``CKA_ID`` in hex
#: (never key bytes: the token has them). No AES key (32 bytes) or PKCS#8 DER (which begins with ``0``) has it.
REFERENCE_PREFIX = b"kmslib-pkcs11-v1:"
#: The most bytes one AES operation in a token takes (a token's buffers are its own; 64 MiB is well within
#: SoftHSM2's and keeps a request from exhausting a real token's memory).
MAX_TOKEN_PLAINTEXT = 64 * 2**20
_ID_BYTES = 16
#: The order n of P-256's base point (NIST SP 800-186, section 3.2.1.3): signatures are low-s, as in software.
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_LABEL_PREFIX = "kmslib:"
_INSTALL = "install the kmslib[hsm] extra (pip install 'kmslib[hsm]') for PKCS#11 tokens"

#: The security attributes of every key kmslib makes in a token (PKCS#11 3.0, section 4.9 and 4.4): the
#: names of ``pkcs11.Attribute`` members and their values. ``ENCRYPT``/``DECRYPT`` or ``SIGN`` are added per kind.
KEY_TEMPLATE: dict[str, bool] = {
    "TOKEN": True,  # kept in the token, not only for the session
    "PRIVATE": True,  # only after logging in with the user PIN
    "SENSITIVE": True,  # CKA_VALUE is never readable
    "EXTRACTABLE": False,  # no wrap, by any key, can take it out of the token
    "WRAP": False,  # it wraps no key (Clulow: wrap + decrypt exports a key)
    "UNWRAP": False,  # it unwraps no key (Clulow: unwrap + encrypt imports a chosen key)
    "DERIVE": False,  # no key is derived from it
    "MODIFIABLE": False,  # no one can turn WRAP or DECRYPT on later
    "COPYABLE": False,  # no copy with other attributes (C_CopyObject)
}

# What each python-pkcs11 error means to a user, by class name (PKCS#11 3.0, section 5.1: return values).
_PROBLEMS = {
    "PinIncorrect": "the PIN was refused by token {label!r}",
    "PinInvalid": "the PIN has characters token {label!r} does not accept",
    "PinLenRange": "the PIN's length is outside what token {label!r} accepts",
    "PinLocked": (
        "token {label!r} has locked its user PIN after too many wrong tries: its security officer must unlock it"
    ),
    "PinExpired": "token {label!r} says its user PIN has expired: set a new one",
    "UserPinNotInitialized": "token {label!r} has no user PIN yet: its security officer must set one",
    "DeviceMemory": "token {label!r} is full: it has no room for another object",
    "DeviceRemoved": "token {label!r} was removed",
    "TokenNotPresent": "token {label!r} is not present (removed?)",
    "TokenNotRecognised": "token {label!r} is not recognised by its module",
    "DeviceError": "token {label!r} reported a device error",
    "SessionHandleInvalid": "the session with token {label!r} was lost mid-operation: open the token again",
    "SessionClosed": "the session with token {label!r} was lost mid-operation: open the token again",
    "UserNotLoggedIn": "the session with token {label!r} was logged out (the token was opened again?): open it again",
    "CryptokiNotInitialized": "the PKCS#11 module of token {label!r} was restarted: open the token again",
    "TokenWriteProtected": "token {label!r} is write-protected",
    "SessionReadOnly": "the session with token {label!r} is read-only",
    "MechanismInvalid": "token {label!r} does not offer this mechanism",
}
# Errors a token gives for a ciphertext that does not decrypt: kmslib's DecryptionError, like a software key's.
_UNDECRYPTABLE = frozenset(
    {
        "EncryptedDataInvalid",
        "EncryptedDataLenRange",
        "DataInvalid",
        "DataLenRange",
        "MechanismParamInvalid",
        "ArgumentsBad",
        "GeneralError",  # SoftHSM2 2.6 answers a wrong GCM tag with CKR_GENERAL_ERROR
    }
)

#: The open tokens of this process, by (module, label): PKCS#11 logs in per application, not per session.
_OPEN: weakref.WeakValueDictionary[tuple[str, str], HardwareToken] = weakref.WeakValueDictionary()
_OPEN_LOCK = threading.Lock()


def _binding() -> Any:
    """The ``pkcs11`` module (python-pkcs11), imported on first use: ``import kmslib`` never loads it."""
    try:
        import pkcs11  # noqa: PLC0415 - only when a token is used
    except ImportError:
        return None
    return pkcs11


def _problem(exc: BaseException, label: str) -> str:
    """What a python-pkcs11 error means, in words naming the token (never a PIN: the binding's message is dropped)."""
    name = type(exc).__name__
    template = _PROBLEMS.get(name)
    if template is not None:
        return template.format(label=label)
    return f"token {label!r} refused the operation ({name})"


class TokenObject:
    """One object in a token, as :meth:`HardwareToken.objects` lists it: its label and security attributes.

    Attributes:
        label: the object's ``CKA_LABEL``.
        object_class: ``"secret key"``, ``"private key"`` or ``"public key"``.
        key_type: ``"AES"``, ``"EC"``, ...
        attributes: the security attributes kmslib reads (``"SENSITIVE"``, ``"EXTRACTABLE"``, ``"WRAP"``,
            ``"DECRYPT"``, ...), each ``True`` or ``False``; an attribute the object lacks is absent.

    """

    __slots__ = ("attributes", "key_type", "label", "object_class")

    def __init__(self, label: str, object_class: str, key_type: str, attributes: dict[str, bool]) -> None:
        self.label = label
        self.object_class = object_class
        self.key_type = key_type
        self.attributes = attributes

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value}" for name, value in self.attributes.items())
        return f"TokenObject(label={self.label!r}, {self.object_class}, {self.key_type}, {shown})"


_SHOWN_ATTRIBUTES = ("SENSITIVE", "EXTRACTABLE", "ENCRYPT", "DECRYPT", "SIGN", "WRAP", "UNWRAP", "MODIFIABLE")


def _encodable(pin: str) -> bool:
    """Whether ``pin`` is UTF-8 text, as PKCS#11 takes a PIN (a lone surrogate is not)."""
    try:
        pin.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class HardwareToken:
    """A PKCS#11 token, logged in with its user PIN (contract section 12).

    Pass it to :class:`kmslib.KeyCustodian` (``hsm=``), :meth:`kmslib.KeyCustodian.open` or
    :func:`kmslib.init_store` (auto-unseal). One object per token at a time in a process: PKCS#11 logs an
    application in or out as a whole, so opening the same token again closes the earlier object first
    (its keys then raise :class:`~kmslib.errors.HardwareError` until the custodian is given the new one).

    Args:
        module: the path of the token's PKCS#11 module (SoftHSM2's is ``/usr/lib/softhsm/libsofthsm2.so``).
        token_label: the token's label.
        pin: its user PIN; used to log in, then dropped (kmslib keeps no copy).

    Raises:
        HardwareError: no binding installed, no module at ``module``, no token with that label, a wrong or
            locked PIN, a PIN that is not UTF-8 text; the message never contains the PIN. PKCS#11 logs an
            application in once per token, so an earlier object for the same token is closed first, even if
            this log-in then fails.
        ArgumentTypeError: an argument of the wrong type.

    """

    __slots__ = ("__weakref__", "_lock", "_pkcs11", "_session", "_token", "label", "mechanisms", "module")

    def __init__(self, module: str | os.PathLike[str], *, token_label: str, pin: str) -> None:
        if not isinstance(module, (str, os.PathLike)):
            raise ArgumentTypeError(f"module must be a str or path, not {type(module).__name__}")
        if not isinstance(token_label, str):
            raise ArgumentTypeError(f"token_label must be a str, not {type(token_label).__name__}")
        if not isinstance(pin, str):
            raise ArgumentTypeError(f"pin must be a str, not {type(pin).__name__}")
        if not _encodable(pin):
            pin = ""  # a traceback keeps its frames' locals: not the PIN
            raise HardwareError("the PIN is not UTF-8 text (it holds a lone surrogate): no token was opened")
        self.module = os.fspath(module)
        self.label = token_label
        self._lock = threading.RLock()
        self._session: Any = None
        self.mechanisms: frozenset[str] = frozenset()
        problem = self._open(pin)
        pin = ""  # a traceback keeps its frames' locals: not the PIN
        if problem is not None:
            raise HardwareError(problem)

    def _open(self, pin: str) -> str | None:
        """Load the module, find the token and log in; the problem in words, or ``None``."""
        self._pkcs11 = pkcs11 = _binding()
        if pkcs11 is None:
            return f"python-pkcs11 is not installed: {_INSTALL}"
        if not os.path.isfile(self.module):
            return f"no PKCS#11 module at {self.module!r} (SoftHSM2's is /usr/lib/softhsm/libsofthsm2.so)"
        problem = None
        try:
            lib = pkcs11.lib(self.module)
            tokens = [token for token in lib.get_tokens() if token.label == self.label]
        except pkcs11.PKCS11Error as exc:
            problem = f"the PKCS#11 module at {self.module!r} could not be loaded ({type(exc).__name__})"
        if problem is not None:
            return problem
        if len(tokens) != 1:
            return f"{'no' if not tokens else 'more than one'} token labelled {self.label!r} in {self.module!r}"
        self._token = tokens[0]
        with _OPEN_LOCK:
            earlier = _OPEN.get((self.module, self.label))
            if earlier is not None:
                earlier.close()  # PKCS#11 logs the application in once: one object per token
            try:
                self._session = self._token.open(rw=True, user_pin=pin)
            except pkcs11.PKCS11Error as exc:
                problem = _problem(exc, self.label)
            except (UnicodeError, ValueError, TypeError) as exc:  # the binding's own checks: never its text (the PIN)
                problem = f"token {self.label!r} refused the log-in ({type(exc).__name__})"
            pin = ""
            if problem is not None:
                return problem
            _OPEN[(self.module, self.label)] = self
        try:
            self.mechanisms = frozenset(m.name for m in self._token.slot.get_mechanisms())
        except (pkcs11.PKCS11Error, ValueError):
            self.mechanisms = frozenset()
        return None

    # ------------------------------------------------------------------ calls into the token

    def call(self, operation: Callable[[Any], Any]) -> Any:
        """Run ``operation(session)`` in the token, one at a time (a PKCS#11 session runs one operation).

        Raises:
            HardwareError: the token is closed, or refused (removed, full, session lost...).
        """
        ok, result = self.attempt(operation)
        del operation  # a traceback keeps its frames' locals: not the closure
        if ok:
            return result
        raise result

    def attempt(self, operation: Callable[[Any], Any], failures: frozenset[str] = frozenset()) -> tuple[bool, Any]:
        """Like :meth:`call`, but never raising: ``(True, result)``, or ``(False, ...)``.

        ``(False, None)`` for an error named in ``failures``, ``(False, HardwareError)`` for any other (a material
        returns that error for the custodian to raise: see :mod:`kmslib._material`).
        """
        problem = None
        with self._lock:
            session = self._session
            if session is None:
                problem = f"token {self.label!r} was closed: open it again"
            else:
                try:
                    return True, operation(session)
                except self._pkcs11.PKCS11Error as exc:
                    if type(exc).__name__ in failures:
                        return False, None
                    problem = _problem(exc, self.label)
        return False, HardwareError(problem)

    def objects(self) -> list[TokenObject]:
        """The keys in the token, with their security attributes (never a key's value)."""
        pkcs11 = self._pkcs11

        def listing(session: Any) -> list[TokenObject]:
            found = []
            for kind in (pkcs11.ObjectClass.SECRET_KEY, pkcs11.ObjectClass.PRIVATE_KEY, pkcs11.ObjectClass.PUBLIC_KEY):
                for item in session.get_objects({pkcs11.Attribute.CLASS: kind}):
                    attributes = {}
                    for name in _SHOWN_ATTRIBUTES:
                        try:
                            attributes[name] = bool(item[getattr(pkcs11.Attribute, name)])
                        except (pkcs11.PKCS11Error, KeyError):
                            continue
                    object_class = kind.name.replace("_", " ").lower()
                    found.append(TokenObject(str(item.label), object_class, item.key_type.name, attributes))
            return found

        result: list[TokenObject] = self.call(listing)
        return result

    def find(self, object_id: bytes, object_class: str) -> Any:
        """The object of ``CKA_ID`` ``object_id`` and class ``"secret"``, ``"private"`` or ``"public"``, or ``None``."""
        pkcs11 = self._pkcs11
        kind = {
            "secret": pkcs11.ObjectClass.SECRET_KEY,
            "private": pkcs11.ObjectClass.PRIVATE_KEY,
            "public": pkcs11.ObjectClass.PUBLIC_KEY,
        }[object_class]

        def lookup(session: Any) -> Any:
            found = list(session.get_objects({pkcs11.Attribute.CLASS: kind, pkcs11.Attribute.ID: object_id}))
            return found[0] if len(found) == 1 else None

        return self.call(lookup)

    def template(self, **uses: bool) -> dict[Any, Any]:
        """:data:`KEY_TEMPLATE`, with ``uses`` (``ENCRYPT=True`` ...), keyed by ``pkcs11.Attribute``."""
        attribute = self._pkcs11.Attribute
        return {getattr(attribute, name): value for name, value in {**KEY_TEMPLATE, **uses}.items()}

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran (or the token was opened again by another object)."""
        return self._session is None

    def close(self) -> None:
        """Log out and close the session; keys made through it raise :class:`HardwareError` afterwards."""
        with self._lock:
            session, self._session = self._session, None
            if session is not None:
                with contextlib.suppress(self._pkcs11.PKCS11Error):  # already gone (module restarted, token removed)
                    session.close()

    def __enter__(self) -> HardwareToken:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._session is None else "open"
        return f"HardwareToken(module={self.module!r}, token_label={self.label!r}, {state})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a hardware token's session cannot be pickled")


def _require(token: object) -> HardwareToken:
    if token is None:
        raise InvalidInputError("protection='hsm' needs a hardware token: KeyCustodian(hsm=HardwareToken(...))")
    if not isinstance(token, HardwareToken):
        raise ArgumentTypeError(f"hsm must be a kmslib.HardwareToken, not {type(token).__name__}")
    return token


def checked_token(token: object) -> HardwareToken | None:
    """``token`` if it is ``None`` or a :class:`HardwareToken`.

    Raises:
        ArgumentTypeError: anything else.
    """
    return None if token is None else _require(token)


def _fingerprint(object_id: bytes) -> str:
    """A public fingerprint of a token key: of its object id (the token never gives its value)."""
    return hashlib.sha256(b"kmslib hsm key fingerprint v1" + object_id).hexdigest()[:16]


def _reference(object_id: bytes) -> bytes:
    return REFERENCE_PREFIX + object_id.hex().encode("ascii")


class HardwareAESKey:
    """One AES-256 key version in a token: GCM (12-byte nonce, 16-byte tag) or CBC with PKCS#7 padding.

    The payload has the layout of :class:`kmslib.aes.AESKeyVersion`'s (nonce or IV, then the token's
    output), so a token made by a software key of the same bytes would decrypt here and the reverse.
    """

    __slots__ = ("_key", "_token", "algorithm", "binds_associated_data", "fingerprint", "mode", "object_id", "usage")
    protection = "hsm"
    max_plaintext = MAX_TOKEN_PLAINTEXT

    def __init__(self, token: HardwareToken, key: Any, object_id: bytes, mode: str) -> None:
        self._token = token
        self._key: Any = key
        self.object_id = object_id
        self.mode = mode
        self.algorithm = AES_GCM if mode == "gcm" else AES_CBC
        self.binds_associated_data = mode == "gcm"
        self.usage: UsageCounter | None = UsageCounter() if mode == "gcm" else None
        self.fingerprint = _fingerprint(object_id)

    @classmethod
    def generate(cls, token: object, mode: str) -> HardwareAESKey:
        """A new AES-256 key made inside ``token`` with :data:`KEY_TEMPLATE`, for encryption and decryption.

        Raises:
            InvalidInputError: no token, or the token lacks the mechanism ``mode`` needs (AES-GCM, or
                AES-CBC-PAD): kmslib never falls back to a weaker mode on its own.
            HardwareError: the token refused (full, removed...).
        """
        hardware = _require(token)
        needed = "AES_GCM" if mode == "gcm" else "AES_CBC_PAD"
        if hardware.mechanisms and needed not in hardware.mechanisms:
            raise InvalidInputError(f"token {hardware.label!r} does not offer {needed}: choose another mode")
        object_id = secrets.token_bytes(_ID_BYTES)
        pkcs11 = hardware._pkcs11
        template = hardware.template(ENCRYPT=True, DECRYPT=True, SIGN=False, VERIFY=False)
        key = hardware.call(
            lambda session: session.generate_key(
                pkcs11.KeyType.AES, 256, id=object_id, label=_LABEL_PREFIX + object_id.hex(), template=template
            )
        )
        return cls(hardware, key, object_id, mode)

    def successor(self) -> HardwareAESKey:
        """A new key in the same token, for rotation."""
        return HardwareAESKey.generate(self._token, self.mode)

    def too_long(self, length: int) -> str:
        """The message for a plaintext over :attr:`max_plaintext`."""
        return f"the message is {length} bytes; a key in a token encrypts at most {self.max_plaintext} bytes at once"

    def _mechanism(self, iv: bytes, associated_data: bytes | None) -> tuple[Any, Any]:
        pkcs11 = self._token._pkcs11
        if self.mode == "gcm":
            from pkcs11.mechanisms import GCMParams  # noqa: PLC0415 - the binding is loaded with the token

            return pkcs11.Mechanism.AES_GCM, GCMParams(iv, associated_data or None, GCM_TAG_BYTES * 8)
        return pkcs11.Mechanism.AES_CBC_PAD, iv

    def encrypt(self, plaintext: bytes, associated_data: bytes | None) -> bytes | HardwareError | None:
        """Encrypt in the token under a fresh nonce (GCM) or IV (CBC) from the host's CSPRNG; the payload.

        Returns:
            The payload; ``None`` once this version was dropped or its usage count refuses; or the
            :class:`~kmslib.errors.HardwareError` for a token that refused, returned for the custodian to raise
            from a frame that holds no plaintext.
        """
        key, usage = self._key, self.usage
        if key is None or (usage is not None and not usage.take()):
            return None
        iv = os.urandom(GCM_NONCE_BYTES if self.mode == "gcm" else CBC_IV_BYTES)
        mechanism, parameter = self._mechanism(iv, associated_data)
        ok, body = self._token.attempt(lambda _: key.encrypt(plaintext, mechanism=mechanism, mechanism_param=parameter))
        return iv + body if ok else body  # type: ignore[no-any-return]

    def decrypt(self, payload: bytes, associated_data: bytes | None) -> bytes | None:
        """Decrypt a payload in the token; ``None`` for any payload that does not decrypt.

        Raises:
            HardwareError: the token itself failed (removed, session lost): no plaintext exists yet.
        """
        key = self._key
        size = GCM_NONCE_BYTES if self.mode == "gcm" else CBC_IV_BYTES
        shortest = size + (GCM_TAG_BYTES if self.mode == "gcm" else 16)
        if key is None or len(payload) < shortest or len(payload) > size + MAX_TOKEN_PLAINTEXT + 16:
            return None
        if self.mode == "cbc" and (len(payload) - size) % 16:
            return None
        mechanism, parameter = self._mechanism(bytes(payload[:size]), associated_data)
        body = bytes(payload[size:])
        ok, plaintext = self._token.attempt(
            lambda _: key.decrypt(body, mechanism=mechanism, mechanism_param=parameter), _UNDECRYPTABLE
        )
        if isinstance(plaintext, HardwareError):
            raise plaintext  # no plaintext exists: the token failed before it gave any
        return plaintext if ok else None

    def sealed(self, seal: Callable[[bytes | bytearray], bytes]) -> bytes | None:
        """Hand ``seal`` the key's reference in the token (its ``CKA_ID``), never key bytes; ``None`` once dropped."""
        return None if self._key is None else seal(_reference(self.object_id))

    def destroy(self) -> None:
        """Forget the key (a closed custodian, a refused load): the object stays in the token."""
        self._key = None

    def erase(self) -> None:
        """Destroy the key's object in the token (revocation), then forget it.

        Raises:
            HardwareError: the token refused; the object may still be in it.
        """
        key, self._key = self._key, None
        if key is not None:
            self._token.call(lambda _: key.destroy())

    def __repr__(self) -> str:
        token = self._token.label
        return f"HardwareAESKey(algorithm={self.algorithm!r}, fingerprint={self.fingerprint!r}, token={token!r})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a key in a hardware token cannot be pickled")


class HardwareSigningKey(SigningKeyVersion):
    """One ECDSA P-256 key pair whose private half lives in a token (SHA-256 computed on the host).

    The token signs the 32-byte digest (``CKM_ECDSA``); kmslib encodes the signature as DER, low-s,
    as :class:`kmslib.signing.SigningKeyVersion` does, and verifies with the public key on the host.
    RFC 6979's deterministic nonces are not offered: the nonce is the token's.
    """

    __slots__ = ("_public_object", "_token", "object_id")
    protection = "hsm"

    def __init__(self, token: HardwareToken, private: Any, public: Any, object_id: bytes) -> None:
        from pkcs11.util.ec import encode_ec_public_key  # noqa: PLC0415 - the binding is loaded with the token

        self._token = token
        self._private = private
        self._public_object = public
        self.object_id = object_id
        self.usage = None
        self.algorithm = ECDSA_P256
        self.key_size = None
        self.public_key = serialization.load_der_public_key(encode_ec_public_key(public))
        der = self.public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.fingerprint = hashlib.sha256(der).hexdigest()[:16]

    @classmethod
    def generate(cls, algorithm: str, key_size: int | None = None, token: object = None) -> HardwareSigningKey:
        """A new ECDSA P-256 key pair made inside ``token``: the private half with :data:`KEY_TEMPLATE`.

        Raises:
            InvalidInputError: no token, or an algorithm other than ``"ecdsa-p256-sha256"``.
            HardwareError: the token refused.
        """
        hardware = _require(token)
        if algorithm != ECDSA_P256:
            raise InvalidInputError(f"protection='hsm' signs with {ECDSA_P256} only, not {algorithm}")
        from pkcs11.util.ec import encode_named_curve_parameters  # noqa: PLC0415

        pkcs11 = hardware._pkcs11
        object_id = secrets.token_bytes(_ID_BYTES)
        label = _LABEL_PREFIX + object_id.hex()
        private_template = hardware.template(SIGN=True, DECRYPT=False)
        del private_template[pkcs11.Attribute.WRAP]  # a private key has no CKA_WRAP (PKCS#11 3.0, section 4.9)
        public_template = {
            pkcs11.Attribute.TOKEN: True,
            pkcs11.Attribute.VERIFY: True,
            pkcs11.Attribute.WRAP: False,
            pkcs11.Attribute.ENCRYPT: False,
            pkcs11.Attribute.MODIFIABLE: False,
        }

        def make(session: Any) -> tuple[Any, Any]:
            parameters = session.create_domain_parameters(
                pkcs11.KeyType.EC,
                {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                local=True,
            )
            public, private = parameters.generate_keypair(
                store=True,
                id=object_id,
                label=label,
                public_template=public_template,
                private_template=private_template,
            )
            return private, public

        private, public = hardware.call(make)
        return cls(hardware, private, public, object_id)

    def successor(self) -> HardwareSigningKey:
        """A new key pair in the same token, for rotation."""
        return HardwareSigningKey.generate(ECDSA_P256, token=self._token)

    def sign(self, message: bytes, *, deterministic: bool = False) -> bytes | HardwareError | None:  # type: ignore[override]
        """The DER, low-s signature of SHA-256(``message``), made in the token; ``None`` once dropped.

        Raises:
            InvalidInputError: ``deterministic`` (a token chooses its own nonce).
            ArgumentTypeError: ``deterministic`` is not a bool.

        Returns:
            The signature; ``None`` once dropped; or the :class:`~kmslib.errors.HardwareError` of a token that
            refused (returned for the custodian to raise).
        """
        if not isinstance(deterministic, bool):
            raise ArgumentTypeError(f"deterministic must be a bool, not {type(deterministic).__name__}")
        if deterministic:
            raise InvalidInputError("deterministic signing (RFC 6979) is not offered by a key in a hardware token")
        private, usage = self._private, self.usage
        if private is None or (usage is not None and not usage.take()):
            return None
        digest = hashlib.sha256(message).digest()
        mechanism = self._token._pkcs11.Mechanism.ECDSA
        ok, raw = self._token.attempt(lambda _: private.sign(digest, mechanism=mechanism))
        if not ok:
            return raw  # type: ignore[no-any-return]
        r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        return utils.encode_dss_signature(r, min(s, _P256_ORDER - s))

    def sealed(self, seal: Callable[[bytes | bytearray], bytes]) -> bytes | None:
        """Hand ``seal`` the key pair's reference in the token, never key bytes; ``None`` once dropped."""
        return None if self._private is None else seal(_reference(self.object_id))

    def destroy(self) -> None:
        """Forget the key pair: the objects stay in the token."""
        self._private = None

    def erase(self) -> None:
        """Destroy both halves' objects in the token (revocation), then forget them."""
        private, self._private = self._private, None
        public = self._public_object
        if private is not None:
            self._token.call(lambda _: (private.destroy(), public.destroy()))

    def __repr__(self) -> str:
        token = self._token.label
        return f"HardwareSigningKey(algorithm={self.algorithm!r}, fingerprint={self.fingerprint!r}, token={token!r})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a key in a hardware token cannot be pickled")


def load_material(
    token: HardwareToken | None, algorithm: str, reference: bytes
) -> HardwareAESKey | HardwareSigningKey | str:
    """The material a sealed store's reference names, found in ``token``; or the problem, in words.

    Raises:
        HardwareError: the token failed while looking.
    """
    if token is None:
        return "it lives in a hardware token: open the store with hsm=HardwareToken(...)"
    try:
        object_id = bytes.fromhex(reference[len(REFERENCE_PREFIX) :].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return "its reference to a hardware token is malformed"
    if algorithm in (AES_GCM, AES_CBC):
        key = token.find(object_id, "secret")
        if key is not None:
            return HardwareAESKey(token, key, object_id, "gcm" if algorithm == AES_GCM else "cbc")
    elif algorithm == ECDSA_P256:
        private, public = token.find(object_id, "private"), token.find(object_id, "public")
        if private is not None and public is not None:
            return HardwareSigningKey(token, private, public, object_id)
    return f"token {token.label!r} does not hold it (another token, or its object was destroyed)"


def erase(material: object, *, quiet: bool = False) -> None:
    """Destroy a material for good: a token key's object in the token, a software key's bytes in memory.

    Args:
        material: the key material.
        quiet: a token's refusal is ignored (a material never saved, dropped on another error's way out:
            its object stays in the token, unreachable, with its ``kmslib:`` label).

    Raises:
        HardwareError: the token refused to destroy the object (unless ``quiet``).
    """
    try:
        (getattr(material, "erase", None) or material.destroy)()  # type: ignore[attr-defined]
    except HardwareError:
        if not quiet:
            raise
