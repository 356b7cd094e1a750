"""The key ceremony: each Shamir share sealed to its holder's public key, so that no one is handed every share.

When a store is split into shares (:func:`kmslib.init_store` with ``shares=``), whoever runs the call
receives every share in the clear, and could keep a threshold of them. HashiCorp Vault names the
problem: "the first user (the initializer) received a plain-text copy of all of the unseal keys. This
defeats the promises of Vault's security model" (Vault documentation, "Using PGP, GnuPG, and Keybase"),
and answers it with ``vault operator init -pgp-keys``: one public key per share, in order, each share
returned encrypted to its key (Vault documentation, "operator init"). kmslib does the same with
``share_recipients=[public key PEM, ...]`` (and :meth:`kmslib.KeyCustodian.rekey` too, as Vault's
``operator rekey -pgp-keys``), with HPKE (RFC 9180) instead of OpenPGP:

- :func:`recipients` checks the public keys (one per share, each of a supported type, no key twice)
  before any share or file exists;
- :func:`seal_shares` seals each SLIP-0039 share to its holder, inside ``init_store``, and drops the
  plaintext shares: ``init_store`` returns only the sealed ones;
- :func:`open_share` gives a holder their share (the SLIP-0039 words that
  :meth:`kmslib.KeyCustodian.open` takes in ``shares=``).

**The recipe.** HPKE's base mode (RFC 9180, section 5.1.1) with

- the KEM the holder's key picks: ``x25519``, DHKEM(X25519, HKDF-SHA256) (RFC 9180, section 7.1), for an
  X25519 key; or ``mlkem768-x25519``, the hybrid of ML-KEM-768 (NIST FIPS 203) and X25519 that pyca
  calls ``KEM.MLKEM768_X25519`` (X-Wing, draft-connolly-cfrg-xwing-kem), for a holder who wants the share
  to stay sealed if large quantum computers break X25519: it holds while either half does;
- the KDF HKDF-SHA256 (RFC 5869);
- the AEAD AES-256-GCM (NIST SP 800-38D): the store's own cipher, approved by NIST (ChaCha20-Poly1305
  is not), and with a 256-bit key, as the post-quantum half of the hybrid calls for. Each share is one
  message under a key of its own (HPKE makes a fresh encapsulation for each), so GCM's limits on
  messages per key do not come into play.

**The form** of a sealed share is one line of printable ASCII::

    kmslib-share-v1:<kem>:<store id>:share-<i>-of-<n>:threshold-<t>:<payload>

``<kem>`` is ``x25519`` or ``mlkem768-x25519``; ``<store id>`` is the store's random id (32 hexadecimal
digits, also in the store file); ``<i>`` counts from 1 in the order of ``share_recipients``; ``<payload>``
is HPKE's output, the encapsulated key followed by the ciphertext (``enc || ct``), in base64url without
padding (RFC 4648, section 5). The plaintext is the share's words, in ASCII. HPKE's ``info`` is the header,
everything before the last colon, in ASCII: as RFC 9180 (section 8.1) advises for its single-shot API,
it carries the context, so a share relabelled with another store's id, another index, threshold or KEM
does not open. Raw pyca opens one as ``Suite(kem, KDF.HKDF_SHA256, AEAD.AES_256_GCM).decrypt(payload,
private_key, info=header)`` (``tests/test_ceremony.py`` does).

**Holders' keys** are PEM text. An X25519 key is one ``PUBLIC KEY`` block (SubjectPublicKeyInfo, RFC
8410). pyca/cryptography 50 has no PEM form for its hybrid key, so kmslib writes it as the two halves'
own PEM blocks, the ML-KEM-768 ``PUBLIC KEY`` (SubjectPublicKeyInfo) first and the X25519 one second,
the order X-Wing joins them in; the private keys are the same two halves as PKCS#8 ``PRIVATE KEY``
blocks, unencrypted. :func:`holder_keys` makes a pair.

**Refused recipients.** A count other than ``shares``, a private key, an RSA or EC key, a lone ML-KEM
key, text that is not PEM or is too long, and a key HPKE cannot seal to (an X25519 key of low order):
each an :class:`~kmslib.errors.InvalidInputError` naming ``share_recipients[i]``, before anything is
split or written. **One key twice is refused too**, whole or as the half of a hybrid key: a holder of
two shares needs fewer others to reach the threshold, which is what splitting was meant to prevent.
No message repeats a key's PEM text.

**What it protects, and what not.** ``init_store`` returns only sealed shares; no return value, message
or exception of it holds a plaintext share, and the list the shares were made in is emptied once they
are sealed (``tests/test_ceremony.py``). The shares do exist, for the time of the call, in the memory
of the process that runs it, and Python cannot wipe a ``str``: a dealer who controls that machine can
still read them, as a Vault server's memory holds its unseal keys. HPKE's base mode does not
authenticate the sender (RFC 9180, section 5.1.1): anyone with a holder's public key can seal text to
them in this form, so a sealed share proves nothing about who made it. A forged share is caught when
shares are combined (SLIP-0039's digest, then the store's root key fails to open), as an
:class:`~kmslib.errors.UnsealError`.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x25519

from kmslib.errors import ArgumentTypeError, InvalidInputError, KMSError, StoreError, UnsealError

try:  # pragma: no cover - which branch runs depends on the installed cryptography
    from cryptography.hazmat.primitives import hpke
    from cryptography.hazmat.primitives.asymmetric import mlkem
except ImportError:  # pragma: no cover - a cryptography without HPKE or ML-KEM
    hpke = mlkem = None  # type: ignore[assignment]

__all__ = ["KEMS", "VERSION", "holder_keys", "open_share", "recipients", "seal_shares"]

#: The prefix of every sealed share this kmslib writes and reads.
VERSION = "kmslib-share-v1"
#: The KEM names of the sealed form.
KEMS = ("x25519", "mlkem768-x25519")
#: The longest public key PEM (with its halves) a recipient may give: a hybrid one is about 1,800 characters.
MAX_PUBLIC_PEM = 4096
#: The longest private key PEM open_share reads: a hybrid one is about 300 characters.
MAX_PRIVATE_PEM = 16384
#: The longest sealed share open_share reads: a hybrid one is about 1,700 characters.
MAX_SEALED = 4096
_FAILED = (
    "the sealed share does not open with this private key: it was sealed to another holder, "
    "or it was altered or cut short"
)
_NO_HPKE = "sealed shares need HPKE with ML-KEM, in cryptography 50 or later: pip install -U cryptography"
_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.S)
_HEADER = re.compile(
    r"kmslib-share-v1:(?P<kem>[^:]*):(?P<store>[0-9a-f]{32}):share-(?P<index>[1-9][0-9]?)-of-(?P<count>[1-9][0-9]?)"
    r":threshold-(?P<threshold>[1-9][0-9]?)"
)
_PAYLOAD = re.compile(r"[A-Za-z0-9_-]+")

Recipient = tuple[str, Any]
"""A checked recipient: its KEM name and its public key object."""


def _suite(kem: str) -> Any:
    if hpke is None:  # pragma: no cover - a cryptography without HPKE
        raise StoreError(_NO_HPKE)
    chosen = hpke.KEM.X25519 if kem == "x25519" else hpke.KEM.MLKEM768_X25519
    return hpke.Suite(chosen, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def _blocks(text: str) -> list[tuple[str, bytes]] | None:
    """The PEM blocks of ``text`` as ``(label, block)``, or ``None`` if anything but whitespace is around them."""
    found, end = [], 0
    for match in _BLOCK.finditer(text):
        if text[end : match.start()].strip():
            return None
        found.append((match.group(1), match.group(0).encode("ascii", "replace") + b"\n"))
        end = match.end()
    return found if found and not text[end:].strip() else None


def _text(value: object, name: str, limit: int) -> str:
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("ascii", "replace")
    elif isinstance(value, str):
        value = str.__str__(value)
    else:
        raise ArgumentTypeError(f"{name} must be a str or bytes (PEM text), not {type(value).__name__}")
    if len(value) > limit:
        raise InvalidInputError(f"{name} is longer than any key kmslib reads ({limit} characters at most)")
    return value


def _public(block: bytes) -> object | None:
    try:
        return serialization.load_pem_public_key(block)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None


def _kind(key: object) -> str:
    """What a public key is, for a message: ``X25519``, ``ML-KEM-768``, ``an RSA``, ``an EC``..."""
    if isinstance(key, x25519.X25519PublicKey):
        return "X25519"
    if mlkem is not None and isinstance(key, mlkem.MLKEM768PublicKey):
        return "ML-KEM-768"
    if isinstance(key, rsa.RSAPublicKey):
        return "an RSA"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "an EC"
    return f"a {type(key).__name__.removesuffix('PublicKey')}"


def _recipient(value: object, name: str) -> tuple[str, Any, list[bytes]]:
    """One recipient checked: ``(kem name, public key, the raw public keys it is made of)``.

    Raises:
        ArgumentTypeError, InvalidInputError: see :func:`recipients`.
    """
    text = _text(value, name, MAX_PUBLIC_PEM)
    blocks = _blocks(text)
    if blocks is None:
        raise InvalidInputError(f"{name} is not a PEM public key (X25519, or ML-KEM-768 followed by X25519)")
    if any("PRIVATE" in label for label, _ in blocks):
        raise InvalidInputError(
            f"{name} is a private key: give the holder's public key (the holder keeps the private one)"
        )
    keys: list[Any] = [_public(block) if label == "PUBLIC KEY" else None for label, block in blocks]
    if len(keys) > 2 or any(key is None for key in keys):
        raise InvalidInputError(f"{name} is not a public key kmslib reads (X25519, or ML-KEM-768 followed by X25519)")
    kinds = [_kind(key) for key in keys]
    if kinds == ["X25519"]:
        return "x25519", keys[0], [keys[0].public_bytes_raw()]
    if kinds == ["ML-KEM-768", "X25519"]:
        if hpke is None:  # pragma: no cover - a cryptography without HPKE
            raise StoreError(_NO_HPKE)
        raw = [key.public_bytes_raw() for key in keys]
        return "mlkem768-x25519", hpke.MLKEM768X25519PublicKey(keys[0], keys[1]), raw
    if kinds == ["ML-KEM-768"]:
        raise InvalidInputError(
            f"{name} is an ML-KEM-768 key alone: kmslib seals to X25519, or to ML-KEM-768 with X25519"
        )
    if kinds == ["X25519", "ML-KEM-768"]:
        raise InvalidInputError(f"{name} has its two halves in the wrong order: the ML-KEM-768 block comes first")
    described = f"{kinds[0]} public key" if len(kinds) == 1 else f"two public keys ({kinds[0]} and {kinds[1]})"
    raise InvalidInputError(f"{name} is {described}: kmslib seals shares to X25519, or to ML-KEM-768 with X25519")


def recipients(share_recipients: object, shares: object) -> list[Recipient]:
    """The holders' public keys, checked, one for each of ``shares`` shares, in order.

    Args:
        share_recipients: a list of PEM public keys (``str`` or ``bytes``): X25519, or ML-KEM-768
            followed by X25519 (see the module's docstring).
        shares: the ``shares=`` of the call; ``None`` (a passphrase) is refused.

    Returns:
        ``(kem name, public key)`` for each, in order.

    Raises:
        ArgumentTypeError: not a list, or an item that is not ``str`` or ``bytes``.
        InvalidInputError: no ``shares=``, a count other than ``shares``, a key of another type, a
            private key, text that is not a public key or is too long, a key HPKE cannot seal to, or a
            key (or half of one) given twice. The message names ``share_recipients[i]``.
        StoreError: the installed cryptography has no HPKE.
    """
    if shares is None:
        raise InvalidInputError("share_recipients= goes with shares= and threshold=, not with a passphrase")
    if isinstance(share_recipients, (str, bytes, bytearray)) or not isinstance(share_recipients, Sequence):
        raise ArgumentTypeError(
            f"share_recipients must be a list of public key PEMs, one per share, not {type(share_recipients).__name__}"
        )
    if type(shares) is int and len(share_recipients) != shares:
        raise InvalidInputError(
            f"share_recipients has {len(share_recipients)} public keys, but shares={shares}: "
            "give one per share, in order"
        )
    if len(share_recipients) > 16:  # SLIP-0039's limit; shares= is refused for it anyway
        raise InvalidInputError(f"share_recipients has {len(share_recipients)} public keys: 16 at most")
    checked: list[Recipient] = []
    seen: dict[bytes, int] = {}
    for index, value in enumerate(share_recipients):
        name = f"share_recipients[{index}]"
        if not isinstance(value, (str, bytes, bytearray)):
            raise ArgumentTypeError(f"{name} must be a str or bytes (PEM text), not {type(value).__name__}")
        kem, key, parts = _recipient(value, name)
        for part in parts:
            if part in seen:
                raise InvalidInputError(
                    f"{name} repeats the key of share_recipients[{seen[part]}]: each holder gets one share "
                    "(a holder of two needs fewer others to reach the threshold)"
                )
        seen.update(dict.fromkeys(parts, index))
        if _seal(kem, key, b"", b"kmslib-share-probe") is None:
            raise InvalidInputError(f"{name} cannot be sealed to (an X25519 key of low order, for example)")
        checked.append((kem, key))
    return checked


def _seal(kem: str, key: Any, plaintext: bytes, info: bytes) -> bytes | None:
    """HPKE's ``enc || ct`` of ``plaintext`` to ``key``, or ``None`` if HPKE refuses the key."""
    try:
        sealed: bytes = _suite(kem).encrypt(plaintext, key, info=info)
    except (ValueError, TypeError):
        return None
    return sealed


def _header(kem: str, store_id: str, index: int, count: int, threshold: int) -> str:
    return f"{VERSION}:{kem}:{store_id}:share-{index}-of-{count}:threshold-{threshold}"


def seal_shares(mnemonics: list[str], holders: list[Recipient], store_id: str, threshold: int) -> list[str]:
    """Each share sealed to its holder, in order; ``mnemonics`` is emptied, whatever happens.

    Args:
        mnemonics: the plaintext SLIP-0039 shares, as the store made them (this list is cleared).
        holders: what :func:`recipients` returned, one per share.
        store_id: the store's id, bound into each share's header and HPKE's ``info``.
        threshold: how many shares unseal the store (in the header).

    Returns:
        The sealed shares (see the module's docstring for their form).

    Raises:
        BaseException: whatever sealing raised (a ``MemoryError``, say), with no traceback or context:
            its frames held the plaintext shares.
    """
    sealed: list[str] = []
    error: BaseException | None = None
    mnemonic: str | None = None
    try:
        count = len(mnemonics)
        for index, (mnemonic, (kem, key)) in enumerate(zip(mnemonics, holders, strict=True), start=1):
            header = _header(kem, store_id, index, count, threshold)
            payload = _seal(kem, key, mnemonic.encode("ascii"), header.encode("ascii"))
            if payload is None:  # pragma: no cover - recipients() sealed to each key already
                raise InvalidInputError(f"share_recipients[{index - 1}] cannot be sealed to")
            sealed.append(f"{header}:{base64.urlsafe_b64encode(payload).decode('ascii').rstrip('=')}")
    except BaseException as exc:  # noqa: BLE001 - raised below, from a frame that no longer holds a share
        error = exc
    finally:
        mnemonics.clear()
        mnemonic = None
    if error is not None:
        error.__traceback__ = error.__context__ = error.__cause__ = None
        sealed = []
        raise error
    return sealed


def _private(text: str) -> tuple[str, Any] | KMSError:
    """``(kem name, private key)`` of a holder's PEM, or the error to raise (not raised here: no context)."""
    blocks = _blocks(text)
    if blocks is None:
        return InvalidInputError("private_key_pem is not a PEM private key (X25519, or ML-KEM-768 followed by X25519)")
    if any(label == "PUBLIC KEY" for label, _ in blocks):
        return InvalidInputError("private_key_pem is a public key: open_share needs the holder's private key")
    keys: list[Any] = []
    for label, block in blocks:
        try:
            keys.append(serialization.load_pem_private_key(block, None) if label == "PRIVATE KEY" else None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            keys.append(None)
    x25519_last = len(keys) in (1, 2) and isinstance(keys[-1], x25519.X25519PrivateKey)
    if x25519_last and len(keys) == 1:
        return "x25519", keys[0]
    if x25519_last and mlkem is not None and isinstance(keys[0], mlkem.MLKEM768PrivateKey):
        return "mlkem768-x25519", hpke.MLKEM768X25519PrivateKey(keys[0], keys[1])
    keys.clear()
    return InvalidInputError(
        "private_key_pem is not a private key of a supported type: an unencrypted X25519 key, or an ML-KEM-768 "
        "key followed by an X25519 one (PKCS#8 PEM)"
    )


def _parse(sealed: object) -> tuple[str, str, str]:
    """``(kem, header, payload)`` of a sealed share's text, its form checked (nothing secret is involved).

    Raises:
        ArgumentTypeError, InvalidInputError: not a sealed share of this version.
    """
    if not isinstance(sealed, str):
        raise ArgumentTypeError(f"sealed must be a str (a kmslib-share line), not {type(sealed).__name__}")
    if len(sealed) > MAX_SEALED:
        raise InvalidInputError(f"the sealed share is longer than any kmslib writes ({MAX_SEALED} characters at most)")
    text = "".join(str.__str__(sealed).split())  # copied across lines or with spaces: none belong to the form
    version = text.split(":", 1)[0]
    if not version.startswith("kmslib-share-v"):
        raise InvalidInputError("this is not a kmslib sealed share (it does not start with kmslib-share-v1:)")
    if version != VERSION:
        raise InvalidInputError(f"a {version[:24]} sealed share: this kmslib reads {VERSION[-2:]} only")
    header, _, payload = text.rpartition(":")
    match = _HEADER.fullmatch(header)
    if match is None or _PAYLOAD.fullmatch(payload) is None:
        raise InvalidInputError(
            "the sealed share is malformed: kmslib-share-v1:<kem>:<store id>:share-<i>-of-<n>:threshold-<t>:<payload>"
        )
    if match.group("kem") not in KEMS:
        raise InvalidInputError(f"the sealed share names an unknown KEM (kmslib reads {' and '.join(KEMS)})")
    return match.group("kem"), header, payload


def _open(private_key_pem: object, sealed: object) -> str | KMSError | None:
    """The share, the error to raise, or ``None`` for a share that does not open (one refusal for all causes).

    Errors are returned, not raised, with no traceback: this frame and those it calls held the private key.
    """
    key: Any = None
    try:
        kem, header, payload = _parse(sealed)
        loaded = _private(_text(private_key_pem, "private_key_pem", MAX_PRIVATE_PEM))
        private_key_pem = None
        if isinstance(loaded, KMSError):
            return loaded
        key_kem, key = loaded
        loaded = None  # type: ignore[assignment]
    except KMSError as exc:
        exc.__traceback__ = None
        return exc
    if key_kem != kem:
        return None
    try:
        ciphertext = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        if base64.urlsafe_b64encode(ciphertext).decode("ascii").rstrip("=") != payload:
            return None  # another spelling of the same bytes (unused bits set): an altered share too
        opened = _suite(kem).decrypt(ciphertext, key, info=header.encode("ascii"))
        return bytes(opened).decode("ascii")
    except Exception:  # noqa: BLE001 - a wrong key, a bad tag, bad base64 or text: one refusal for all
        return None
    finally:
        key = None


def open_share(private_key_pem: str | bytes, sealed: str) -> str:
    """The share a holder's private key opens: the SLIP-0039 words :meth:`KeyCustodian.open` takes.

    Args:
        private_key_pem: the holder's private key, unencrypted PEM: an X25519 PKCS#8 key, or an
            ML-KEM-768 one followed by an X25519 one (see :mod:`kmslib.ceremony`).
        sealed: the holder's sealed share, as ``init_store`` or ``rekey`` returned it (line breaks and
            spaces are ignored).

    Returns:
        The share's words, to pass (with others) as ``KeyCustodian.open(path, shares=[...])``.

    Raises:
        UnsealError: the share was sealed to another key, or it was altered or cut short (one message
            for every cause); no frame of it holds the private key or the share.
        InvalidInputError: ``sealed`` is not of the form ``kmslib-share-v1:...`` (an unknown version or
            KEM, a malformed line), or ``private_key_pem`` is not a private key of a supported type.
            Neither message repeats the key.
        ArgumentTypeError: an argument of the wrong type.

    Example::

        share = kmslib.open_share(my_private_pem, sealed_share)   # each holder, on their own machine
        KeyCustodian.open("team.db", shares=[share, ...])         # with enough other holders' shares

    Sources: RFC 9180 (HPKE); SLIP-0039; HashiCorp Vault, "operator init" (``-pgp-keys``).
    """
    opened = _open(private_key_pem, sealed)
    private_key_pem = b""  # a traceback keeps its frames' locals
    if isinstance(opened, KMSError):
        raise opened
    if opened is None:
        raise UnsealError(_FAILED)
    return opened


def holder_keys(kem: str = "mlkem768-x25519") -> tuple[str, str]:
    """A new key pair for a share holder, as ``(private key PEM, public key PEM)``.

    The holder keeps the private key (unencrypted PEM: store it as a secret) and gives the public one
    to whoever runs ``init_store(..., share_recipients=[...])``.

    Args:
        kem: ``"mlkem768-x25519"`` (the default: ML-KEM-768 with X25519, two PEM blocks each) or ``"x25519"``.

    Raises:
        InvalidInputError: another ``kem``.
    """
    if kem not in KEMS:
        raise InvalidInputError(f"kem must be one of {', '.join(KEMS)}")
    pem, clear = serialization.Encoding.PEM, serialization.NoEncryption()
    pkcs8, spki = serialization.PrivateFormat.PKCS8, serialization.PublicFormat.SubjectPublicKeyInfo
    halves: list[Any] = [x25519.X25519PrivateKey.generate()]
    if kem != "x25519":
        if mlkem is None:  # pragma: no cover - a cryptography without ML-KEM
            raise StoreError(_NO_HPKE)
        halves.insert(0, mlkem.MLKEM768PrivateKey.generate())
    private = "".join(half.private_bytes(pem, pkcs8, clear).decode("ascii") for half in halves)
    public = "".join(half.public_key().public_bytes(pem, spki).decode("ascii") for half in halves)
    return private, public
