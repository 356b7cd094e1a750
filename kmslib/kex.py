r"""Authenticated key exchange: a transcript both sides sign and bind into the key (contract section 8).

Signing only one's own ephemeral public key does not authenticate an exchange (H. Krawczyk, *SIGMA: the
'SIGn-and-MAc' approach to authenticated Diffie-Hellman*, CRYPTO 2003): the signature can be replayed in
any later session, and it names no peer, so an attacker can pass an honest party's key on under her own
name (identity misbinding). Here each side signs a :class:`Transcript` instead, as TLS 1.3's
CertificateVerify signs the hash of the handshake so far (RFC 8446 section 4.4.3). A transcript holds:

- a context string (:data:`CONTEXT`, ``b"kmslib-kex-v1"``) and the group's name;
- both parties' identities, as strings the caller gives (a signing key's id or its fingerprint, say);
- both ephemeral public keys, raw: 32 bytes for X25519 (RFC 7748), the public value y padded to the
  byte length of p for a finite-field group (RFC 8446 section 4.2.8.1), and for the hybrid
  ``x25519mlkem768`` the initiator's 1216-byte public key and the responder's 32-byte X25519 key;
- for the hybrid, the 1088-byte ML-KEM ciphertext.

Its :attr:`~Transcript.encoding` is each of those seven fields in that order, each preceded by its length
as 4 big-endian bytes; its :attr:`~Transcript.digest` is SHA-256 of the encoding. A signature made with
:func:`sign_transcript` covers the context, a space, the signer's role (``initiator`` or ``responder``),
a zero byte and the digest: ``b"kmslib-kex-v1 responder\x00" + digest`` for the responder, say. Each
side's own ephemeral key is fresh in each session, so a signature from an earlier session does not verify
over its new transcript; and the identities are in it, so a signature made for Alice does not verify in an
exchange with Carol. Each side checks the other's signature over the transcript it built from what it sent
and received, with a public key it trusts from beforehand. This is the ISO 9798-3 style of
signed Diffie-Hellman that Krawczyk analyses beside SIGMA (each party signs both ephemeral keys and the
peer's identity); SIGMA's MAC is left out, and so is its identity protection.

The key binds the transcript too (as TLS 1.3's key schedule binds the transcript hash, RFC 8446 section
7.1): given a transcript, :func:`derive_key` and :func:`accept` derive the 32 key bytes with HKDF-SHA256
(RFC 5869), no salt, and ``info || digest`` as the info. Two parties whose transcripts differ in any byte
get different keys (barring a SHA-256 collision), even if one of them skipped the signature check.

Without a transcript, X25519 and the finite-field groups keep contract section 5's derivation (no salt,
``info`` alone). The hybrid always binds one: without the caller's, an anonymous transcript whose two
identities are empty strings. So a changed byte of either public key or of the ciphertext changes the key,
even a flip of bit 255 of an X25519 public key, which X25519 itself ignores (RFC 7748 section 5).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import x25519

from kmslib import _checks, _ffdh, dh, hybrid
from kmslib.errors import ArgumentTypeError, InvalidInputError, InvalidPeerKeyError
from kmslib.signing import KEX_CONTEXT, verify_signature

__all__ = ["CONTEXT", "ROLES", "Transcript", "accept", "derive_key", "sign_transcript", "verify_transcript"]

#: The context string at the start of every transcript and every signed statement.
CONTEXT = b"kmslib-kex-v1"
#: Who signs: the party that sent the first public key, or the one that answered it.
ROLES = ("initiator", "responder")
_MLKEM_CIPHERTEXT = 1088


def _field(value: bytes) -> bytes:
    return struct.pack(">I", len(value)) + value


def _dh_raw(key: Any) -> bytes:
    """The raw encoding of a finite-field or X25519 public key."""
    if isinstance(key, x25519.X25519PublicKey):
        return key.public_bytes_raw()
    return _ffdh.raw_public(key)


@dataclass(frozen=True, slots=True, eq=False)
class Transcript:
    """What both sides of one key exchange saw: signed by each, and bound into the key.

    Build one with :meth:`of`; for the hybrid, the responder's part is known only once he has replied, so
    start with the initiator's key alone and :meth:`complete` it with the reply.

    Attributes:
        group: the group's name (``"x25519"``, ``"ffdhe2048"``, ..., ``"x25519mlkem768"``).
        initiator: the initiator's identity (:meth:`of` requires one; the anonymous transcript that kmslib
            builds when it is given none has an empty one).
        responder: the responder's identity (likewise).
        initiator_key: the initiator's ephemeral public key, raw.
        responder_key: the responder's ephemeral public key, raw (empty until :meth:`complete`).
        ciphertext: the hybrid's ML-KEM ciphertext (empty for Diffie-Hellman, and until :meth:`complete`).
        context: :data:`CONTEXT` unless the caller chose another.
    """

    group: str
    initiator: str
    responder: str
    initiator_key: bytes
    responder_key: bytes = b""
    ciphertext: bytes = b""
    context: bytes = CONTEXT

    def __post_init__(self) -> None:
        for name in ("initiator_key", "responder_key", "ciphertext", "context"):
            object.__setattr__(self, name, bytes(getattr(self, name)))
        if not self.context.startswith(KEX_CONTEXT):  # so a signed statement is never a checkpoint's, or a message
            raise InvalidInputError("a key exchange's context must begin with 'kmslib-kex-' (kmslib.kex.CONTEXT)")

    @classmethod
    def of(
        cls,
        initiator_public: object,
        responder_public: object = None,
        *,
        initiator: str,
        responder: str,
        context: bytes = CONTEXT,
    ) -> Transcript:
        """The transcript of an exchange between ``initiator`` and ``responder``.

        Args:
            initiator_public: the initiator's public key: a :class:`~kmslib.DHPublicKey`, a pyca key or PEM
                text for Diffie-Hellman; for the hybrid a :class:`~kmslib.HybridPublicKey` handle
                (``HybridPublicKey(raw)`` wraps its bytes; they may stand alone when the reply is a handle).
            responder_public: the responder's public key (Diffie-Hellman), or his reply (the hybrid: a
                :class:`~kmslib.KeyExchangeReply`, its bytes or its printable form); ``None`` to leave the
                transcript open.
            initiator: the initiator's identity, following the rules of a key id: 1 to 128 printable
                characters, not only spaces.
            responder: the responder's identity, likewise.
            context: the context string (bytes), beginning with ``b"kmslib-kex-"``
                (:data:`kmslib.signing.KEX_CONTEXT`, which plain ``sign`` refuses).

        Raises:
            InvalidPeerKeyError: a public key or reply that is not one, or of two different groups.
            InvalidInputError: an identity that breaks the rules, or a context that does not begin with
                ``b"kmslib-kex-"``.
            ArgumentTypeError: a value of the wrong type.
        """
        names = (_checks.key_id(initiator, "initiator"), _checks.key_id(responder, "responder"))
        label = bytes(_checks.buffer(context, "context"))
        if isinstance(initiator_public, (hybrid.HybridPublicKey, hybrid.KeyExchangeReply)) or isinstance(
            responder_public, (hybrid.HybridPublicKey, hybrid.KeyExchangeReply)
        ):
            public = hybrid.initiator_public(initiator_public)
            opened = cls(hybrid.GROUP, *names, public.raw, context=label)
        else:
            key = dh._public(initiator_public, "initiator_public")
            opened = cls(dh.DHPublicKey(key).group, *names, _dh_raw(key), context=label)
        return opened if responder_public is None else opened.complete(responder_public)

    def complete(self, responder_public: object) -> Transcript:
        """This transcript with the responder's part: his public key, or (the hybrid) his reply.

        Raises:
            InvalidInputError: the transcript is complete already.
            InvalidPeerKeyError: a key of another group, or not a reply.
        """
        if self.is_complete:
            raise InvalidInputError("the transcript already holds the responder's part")
        if self.group == hybrid.GROUP:
            reply = hybrid.reply_of(responder_public).raw
            return Transcript(
                self.group,
                self.initiator,
                self.responder,
                self.initiator_key,
                reply[_MLKEM_CIPHERTEXT:],
                reply[:_MLKEM_CIPHERTEXT],
                self.context,
            )
        key = dh._public(responder_public, "responder_public")
        if dh.DHPublicKey(key).group != self.group:
            raise InvalidPeerKeyError(f"the responder's public key is not of the group {self.group}")
        return Transcript(
            self.group, self.initiator, self.responder, self.initiator_key, _dh_raw(key), b"", self.context
        )

    @property
    def is_complete(self) -> bool:
        """Whether the responder's part is in (only a complete transcript can be signed or bound)."""
        return bool(self.responder_key)

    @property
    def encoding(self) -> bytes:
        """The canonical bytes: each field preceded by its length (4 bytes, big-endian), in the documented order."""
        fields = (
            self.context,
            self.group.encode("ascii"),
            self.initiator.encode("utf-8"),
            self.responder.encode("utf-8"),
            self.initiator_key,
            self.responder_key,
            self.ciphertext,
        )
        return b"".join(_field(value) for value in fields)

    @property
    def digest(self) -> bytes:
        """SHA-256 of :attr:`encoding` (32 bytes)."""
        return hashlib.sha256(self.encoding).digest()

    def statement(self, role: str) -> bytes:
        r"""What ``role``'s signature covers: ``context + b" " + role + b"\x00" + digest``.

        Raises:
            InvalidInputError: an unknown role, or a transcript that is not complete or names nobody.
        """
        _checks.choice(role, "role", ROLES)
        if not self.is_complete:
            raise InvalidInputError("only a complete transcript can be signed: add the responder's part first")
        if not (self.initiator and self.responder):
            raise InvalidInputError("a signed transcript names both parties: give initiator and responder")
        return self.context + b" " + role.encode("ascii") + b"\x00" + self.digest

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Transcript) and other.encoding == self.encoding

    def __hash__(self) -> int:
        return hash(self.encoding)

    def __repr__(self) -> str:
        shown = self.digest.hex()[:16] if self.is_complete else "(open)"
        return (
            f"Transcript(group={self.group!r}, initiator={self.initiator!r}, responder={self.responder!r}, "
            f"digest={shown!r})"
        )


def sign_transcript(custodian: Any, key_id: str, transcript: Transcript, *, role: str) -> str:
    """Sign a complete transcript as ``role`` with one of ``custodian``'s signing keys.

    Args:
        custodian: the signer's :class:`~kmslib.KeyCustodian`.
        key_id: its signing key's id.
        transcript: the transcript this party built from what it sent and received.
        role: ``"initiator"`` or ``"responder"``: this party's role.

    Returns:
        The signature token (see :meth:`kmslib.KeyCustodian.sign`) over :meth:`Transcript.statement`,
        audited as ``sign_transcript``. Plain ``sign`` refuses such a statement
        (:data:`kmslib.signing.KEX_CONTEXT`): one key, one purpose (NIST SP 800-57 Pt 1, section 5.2).

    Raises:
        InvalidInputError: an unknown role, or an open or anonymous transcript.
        ArgumentTypeError: ``transcript`` is not a :class:`Transcript`.
    """
    statement = _transcript(transcript).statement(role)
    signed: str = custodian._sign("sign_transcript", key_id, lambda: statement)[1]  # plain sign refuses it
    return signed


def verify_transcript(public_key_pem: str | bytes, transcript: Transcript, signature: str, *, role: str) -> None:
    """Check the peer's signature over the transcript this party built, with the peer's trusted public key.

    Args:
        public_key_pem: the peer's signing public key, known from beforehand (out of band, or a certificate).
        transcript: the transcript this party built from what it sent and received.
        signature: the peer's signature token.
        role: the peer's role: ``"initiator"`` or ``"responder"``.

    Raises:
        SignatureError: the signature does not verify over this transcript in that role.
        InvalidInputError: an unknown role, or an open or anonymous transcript.
        ArgumentTypeError: ``transcript`` is not a :class:`Transcript`.
    """
    verify_signature(public_key_pem, _transcript(transcript).statement(role), signature)


def _transcript(value: object) -> Transcript:
    if not isinstance(value, Transcript):
        raise ArgumentTypeError(f"transcript must be a Transcript, not {type(value).__name__}")
    return value


def _optional(value: object) -> Transcript | None:
    return None if value is None else _transcript(value)


def _bind(info: bytes, transcript: Transcript) -> bytes:
    """HKDF's info for a bound key: the caller's ``info`` followed by the transcript's 32-byte digest."""
    return info + transcript.digest


def derive_key(private_key: object, peer_public_key: object, info: bytes, transcript: object = None) -> bytes:
    """The 32 key bytes of :meth:`kmslib.KeyCustodian.derive_shared_key` (either group family, either role).

    Args:
        private_key: our private key (Diffie-Hellman, or the hybrid initiator's).
        peer_public_key: the peer's public key, or (the hybrid) the responder's reply.
        info: HKDF's info.
        transcript: ``None``, or a complete :class:`Transcript` holding our public key and the peer's
            (for the hybrid: our public key and this reply).

    Raises:
        InvalidPeerKeyError: the peer's key or reply fails validation.
        InvalidInputError: the transcript is open, or of another exchange; it is checked before any secret
            is computed.
    """
    bound = _optional(transcript)
    if isinstance(private_key, hybrid.HybridPrivateKey):
        reply = hybrid.reply_of(peer_public_key)
        anonymous = Transcript(hybrid.GROUP, "", "", private_key.public_key().raw)
        bound = _check(bound, anonymous.complete(reply))
        return dh.kdf(hybrid.decapsulate(private_key, reply), _bind(info, bound))
    mine, theirs = dh._private(private_key), dh._public(peer_public_key)
    if bound is None:
        return dh.kdf(dh.shared_secret(mine, theirs), info)
    ours, peers = _dh_raw(mine.public_key()), _dh_raw(theirs)
    group = dh.DHPublicKey(theirs).group
    # We may be either party: the transcript says who initiated, and both sides bind the same one.
    bound = _check(bound, Transcript(group, "", "", ours, peers), Transcript(group, "", "", peers, ours))
    return dh.kdf(dh.shared_secret(mine, theirs), _bind(info, bound))


def accept(initiator_public: object, info: bytes, transcript: object = None) -> tuple[bytes, hybrid.KeyExchangeReply]:
    """The responder's side of the hybrid: the 32 key bytes and the reply (see ``accept_key_exchange``).

    Args:
        initiator_public: the initiator's public key.
        info: HKDF's info.
        transcript: ``None``, or an open :class:`Transcript` of this initiator's key: it is completed with
            the reply and bound.

    Raises:
        InvalidPeerKeyError: the initiator's key fails validation.
        InvalidInputError: the transcript is complete already, or of another key.
    """
    public = hybrid.initiator_public(initiator_public)
    opened = _optional(transcript)
    if opened is not None:
        if opened.group != hybrid.GROUP or opened.initiator_key != public.raw:
            raise InvalidInputError("the transcript is of another exchange: it does not hold this initiator's key")
        if opened.is_complete:
            raise InvalidInputError("give the open transcript (the initiator's key only): the reply completes it")
    secret, reply = hybrid.encapsulate(public)
    bound = (opened or Transcript(hybrid.GROUP, "", "", public.raw)).complete(reply)
    return dh.kdf(secret, _bind(info, bound)), reply


def _check(given: Transcript | None, seen: Transcript, *or_seen: Transcript) -> Transcript:
    """The transcript to bind: ``given`` if it holds exactly the public values of this exchange, else ``seen``.

    ``seen`` (and each of ``or_seen``) is an anonymous transcript of what this party sent and received.
    """
    if given is None:
        return seen
    if not given.is_complete:
        raise InvalidInputError("the transcript is open: complete it with the responder's part first")

    def values(t: Transcript) -> tuple[str, bytes, bytes, bytes]:
        return t.group, t.initiator_key, t.responder_key, t.ciphertext

    if values(given) not in [values(t) for t in (seen, *or_seen)]:
        raise InvalidInputError("the transcript is of another exchange: it does not hold these public values")
    return given
