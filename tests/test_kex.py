"""Authenticated key exchange: a signed transcript, bound into the key (contract section 8)."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import mlkem

from kmslib import (
    ArgumentTypeError,
    DecryptionError,
    InvalidInputError,
    InvalidPeerKeyError,
    KeyCustodian,
    KeyExchangeReply,
    SignatureError,
)
from kmslib.kex import CONTEXT, Transcript, sign_transcript, verify_transcript

HYBRID = "x25519mlkem768"
GROUPS = ["x25519", "ffdhe2048", HYBRID]


@dataclass
class Party:
    """One side: a custodian with a signing key named after the party."""

    name: str
    kms: KeyCustodian

    @classmethod
    def make(cls, name: str) -> Party:
        kms = KeyCustodian()
        kms.generate_signing_key(f"{name}-signing")
        return cls(name, kms)

    @property
    def pem(self) -> str:
        return self.kms.export_public_key(f"{self.name}-signing")

    def sign(self, transcript: Transcript, role: str) -> str:
        return sign_transcript(self.kms, f"{self.name}-signing", transcript, role=role)


@dataclass
class Session:
    """What crossed the wire in one signed exchange, and each side's transcript."""

    initiator_public: Any
    responder_public: Any  # Diffie-Hellman: the responder's public key; the hybrid: his reply
    responder_transcript: Transcript
    responder_signature: str
    responder_private: Any = None


def start(alice: Party, group: str, key_id: str = "shared") -> tuple[Any, Any]:
    return alice.kms.generate_diffie_hellman_params_and_key(group=group)


def respond(
    bob: Party, group: str, initiator_public: Any, *, initiator: str = "alice", key_id: str = "shared"
) -> Session:
    """Bob answers the key he received, believing it comes from ``initiator``, and signs his transcript."""
    if group == HYBRID:
        opened = Transcript.of(initiator_public, initiator=initiator, responder=bob.name)
        reply = bob.kms.accept_key_exchange(key_id, initiator_public, transcript=opened)
        mine = opened.complete(reply)
        return Session(initiator_public, reply, mine, bob.sign(mine, "responder"))
    private, public = bob.kms.generate_diffie_hellman_params_and_key(group=group)
    mine = Transcript.of(initiator_public, public, initiator=initiator, responder=bob.name)
    return Session(initiator_public, public, mine, bob.sign(mine, "responder"), private)


def finish(
    alice: Party, bob_pem: str, private: Any, public: Any, received: Any, signature: str
) -> tuple[Transcript, str]:
    """Alice checks Bob's signature over her own transcript, derives the key, and signs as initiator."""
    mine = Transcript.of(public, received, initiator=alice.name, responder="bob")
    verify_transcript(bob_pem, mine, signature, role="responder")
    alice.kms.derive_shared_key("shared", private, received, transcript=mine)
    return mine, alice.sign(mine, "initiator")


def bob_confirms(bob: Party, alice_pem: str, session: Session, signature: str) -> None:
    verify_transcript(alice_pem, session.responder_transcript, signature, role="initiator")
    if session.responder_private is not None:  # Diffie-Hellman: Bob derives once Alice is authenticated
        bob.kms.derive_shared_key(
            "shared", session.responder_private, session.initiator_public, transcript=session.responder_transcript
        )


def honest(group: str) -> tuple[Party, Party, Session]:
    alice, bob = Party.make("alice"), Party.make("bob")
    private, public = start(alice, group)
    session = respond(bob, group, public)
    _, alice_signature = finish(alice, bob.pem, private, public, session.responder_public, session.responder_signature)
    bob_confirms(bob, alice.pem, session, alice_signature)
    return alice, bob, session


@pytest.mark.parametrize("group", GROUPS)
def test_alice_and_bob_agree_in_a_signed_exchange(group: str) -> None:
    alice, bob, _ = honest(group)
    assert alice.kms.key_info("shared").fingerprint == bob.kms.key_info("shared").fingerprint
    assert bob.kms.decrypt_data_aes("shared", alice.kms.encrypt_data_aes("shared", "hi Bob")) == "hi Bob"
    assert alice.kms.decrypt_data_aes("shared", bob.kms.encrypt_data_aes("shared", "hi Alice")) == "hi Alice"


@pytest.mark.parametrize("group", GROUPS)
def test_a_replayed_signed_share_from_an_earlier_session_is_refused(group: str) -> None:
    alice, bob = Party.make("alice"), Party.make("bob")
    private, public = start(alice, group)
    old = respond(bob, group, public, key_id="monday")
    _, old_alice_signature = finish(alice, bob.pem, private, public, old.responder_public, old.responder_signature)
    # Tuesday: Alice starts afresh; Mallory replays Bob's signed share from Monday.
    alice.kms.invalidate_key("shared")
    private_2, public_2 = start(alice, group)
    with pytest.raises(SignatureError):
        finish(alice, bob.pem, private_2, public_2, old.responder_public, old.responder_signature)
    assert alice.kms.key_info("shared").state == "revoked"  # Monday's, revoked above; no new key
    # And Alice's Monday signature, replayed to Bob in a new session, fails as well.
    new = respond(bob, group, public, key_id="tuesday")
    with pytest.raises(SignatureError):
        verify_transcript(alice.pem, new.responder_transcript, old_alice_signature, role="initiator")


@pytest.mark.parametrize("group", GROUPS)
def test_a_share_re_sent_to_a_third_party_is_refused(group: str) -> None:
    alice, bob, carol = Party.make("alice"), Party.make("bob"), Party.make("carol")
    _, public = start(alice, group)
    session = respond(bob, group, public)
    # The same public values, but Carol's name in the transcript: Bob's signature does not cover it.
    retargeted = Transcript.of(public, session.responder_public, initiator="carol", responder="bob")
    with pytest.raises(SignatureError):
        verify_transcript(bob.pem, retargeted, session.responder_signature, role="responder")
    # Carol, in her own session, with her own key.
    carol_private, carol_public = start(carol, group)
    with pytest.raises(SignatureError):
        finish(carol, bob.pem, carol_private, carol_public, session.responder_public, session.responder_signature)
    assert "shared" not in carol.kms


@pytest.mark.parametrize("group", GROUPS)
def test_identity_misbinding_is_refused(group: str) -> None:
    # Eve, a registered user with her own signing key, passes Alice's key on to Bob as hers (Krawczyk 2003).
    alice, bob = Party.make("alice"), Party.make("bob")
    private, public = start(alice, group)
    session = respond(bob, group, public, initiator="eve")
    with pytest.raises(SignatureError):  # Bob signed "eve" as his peer: Alice refuses
        finish(alice, bob.pem, private, public, session.responder_public, session.responder_signature)
    # Even had Alice skipped the check, her key would differ from Bob's: the identities are bound into it.
    skipped = Transcript.of(public, session.responder_public, initiator="alice", responder="bob")
    alice.kms.derive_shared_key("shared", private, session.responder_public, transcript=skipped)
    if session.responder_private is not None:
        bob.kms.derive_shared_key("shared", session.responder_private, public, transcript=session.responder_transcript)
    assert alice.kms.key_info("shared").fingerprint != bob.kms.key_info("shared").fingerprint


@pytest.mark.parametrize("group", ["x25519", "ffdhe2048"])
def test_mallory_swapping_in_her_own_key_is_refused(group: str) -> None:
    alice, bob = Party.make("alice"), Party.make("bob")
    mallory = KeyCustodian()
    private, public = start(alice, group)
    _, to_bob = mallory.generate_diffie_hellman_params_and_key(group=group)
    session = respond(bob, group, to_bob)  # Bob answers Mallory's key, believing it Alice's
    _, to_alice = mallory.generate_diffie_hellman_params_and_key(group=group)
    with pytest.raises(SignatureError):  # she forwards Bob's signature with her own key
        finish(alice, bob.pem, private, public, to_alice, session.responder_signature)
    assert "shared" not in alice.kms


def test_mallory_swapping_the_hybrid_reply_or_its_ciphertext_is_refused() -> None:
    alice, bob = Party.make("alice"), Party.make("bob")
    mallory = KeyCustodian()
    private, public = start(alice, HYBRID)
    session = respond(bob, HYBRID, public)
    # Her own whole reply to Alice's key, with Bob's signature.
    own = mallory.accept_key_exchange("with-alice", public)
    # Only the ciphertext: she encapsulates to Alice's ML-KEM key herself and keeps Bob's X25519 part.
    _, ciphertext = mlkem.MLKEM768PublicKey.from_public_bytes(public.raw[:1184]).encapsulate()
    spliced = KeyExchangeReply(ciphertext + session.responder_public.raw[1088:])
    for swapped in (own, spliced):
        with pytest.raises(SignatureError):
            finish(alice, bob.pem, private, public, swapped, session.responder_signature)
    assert "shared" not in alice.kms


def test_a_signature_holds_for_its_role_only() -> None:
    alice, bob = Party.make("alice"), Party.make("bob")
    private, public = start(alice, "x25519")
    session = respond(bob, "x25519", public)
    transcript, alice_signature = finish(
        alice, bob.pem, private, public, session.responder_public, session.responder_signature
    )
    with pytest.raises(SignatureError):
        verify_transcript(alice.pem, transcript, alice_signature, role="responder")
    with pytest.raises(SignatureError):
        verify_transcript(bob.pem, transcript, session.responder_signature, role="initiator")
    verify_transcript(alice.pem, session.responder_transcript, alice_signature, role="initiator")


def _field(value: bytes) -> bytes:
    return struct.pack(">I", len(value)) + value


def test_the_transcript_encoding_is_the_documented_one() -> None:
    kms = KeyCustodian()
    _, a = kms.generate_diffie_hellman_params_and_key(group="ffdhe2048")
    _, b = kms.generate_diffie_hellman_params_and_key(group="ffdhe2048")
    t = Transcript.of(a, b.pem, initiator="alice-signing", responder="Bob ✓")
    y_a = a.cryptography_key.public_numbers().y.to_bytes(256, "big")  # padded to the size of p (RFC 8446 4.2.8.1)
    y_b = b.cryptography_key.public_numbers().y.to_bytes(256, "big")
    fields = [b"kmslib-kex-v1", b"ffdhe2048", b"alice-signing", "Bob ✓".encode(), y_a, y_b, b""]
    assert t.encoding == b"".join(_field(f) for f in fields)
    assert t.digest == hashlib.sha256(t.encoding).digest()
    assert t.statement("initiator") == CONTEXT + b" initiator\x00" + t.digest
    with pytest.raises(AttributeError):  # a transcript is a value: nobody changes it after it is signed
        t.initiator = "mallory"  # type: ignore[misc]
    assert t == Transcript.of(a.pem, b, initiator="alice-signing", responder="Bob ✓")
    assert t != Transcript.of(b, a, initiator="alice-signing", responder="Bob ✓")  # the roles count
    assert repr(t) == (
        f"Transcript(group='ffdhe2048', initiator='alice-signing', responder='Bob ✓', digest='{t.digest.hex()[:16]}')"
    )


def test_bad_transcripts_are_refused_and_leave_no_key() -> None:
    alice, bob = Party.make("alice"), Party.make("bob")
    private, public = start(alice, "x25519")
    _, b_public = bob.kms.generate_diffie_hellman_params_and_key(group="x25519")
    _, other = bob.kms.generate_diffie_hellman_params_and_key(group="x25519")
    opened = Transcript.of(public, initiator="alice", responder="bob")
    assert repr(opened).endswith("digest='(open)')")
    with pytest.raises(InvalidInputError, match="complete transcript"):
        alice.sign(opened, "initiator")
    with pytest.raises(InvalidInputError, match="open"):
        alice.kms.derive_shared_key("k", private, b_public, transcript=opened)
    with pytest.raises(InvalidInputError, match="another exchange"):
        alice.kms.derive_shared_key("k", private, other, transcript=opened.complete(b_public))
    with pytest.raises(InvalidInputError, match="already holds"):
        opened.complete(b_public).complete(other)
    with pytest.raises(InvalidInputError, match="role must be one of"):
        alice.sign(opened.complete(b_public), "observer")
    with pytest.raises(ArgumentTypeError, match="transcript must be a Transcript"):
        verify_transcript(bob.pem, "transcript", "sig", role="responder")  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match="transcript must be a Transcript"):
        alice.kms.derive_shared_key("k", private, b_public, transcript=b"digest")  # type: ignore[arg-type]
    for initiator in ("", "   ", "x" * 129, "a\nb"):
        with pytest.raises(InvalidInputError, match="initiator"):
            Transcript.of(public, b_public, initiator=initiator, responder="bob")
    with pytest.raises(ArgumentTypeError, match="responder must be a str"):
        Transcript.of(public, b_public, initiator="alice", responder=None)  # type: ignore[arg-type]
    _, ff = bob.kms.generate_diffie_hellman_params_and_key(group="ffdhe2048")
    with pytest.raises(InvalidPeerKeyError, match="not of the group x25519"):
        opened.complete(ff)
    # The hybrid: accept_key_exchange takes the open transcript of this initiator's key, and nothing else.
    h_private, h_public = start(alice, HYBRID)
    _, stranger = start(alice, HYBRID)
    h_opened = Transcript.of(h_public, initiator="alice", responder="bob")
    with pytest.raises(InvalidInputError, match="another exchange"):
        bob.kms.accept_key_exchange("k", stranger, transcript=h_opened)
    reply = bob.kms.accept_key_exchange("ok", h_public, transcript=h_opened)
    with pytest.raises(InvalidInputError, match="open transcript"):
        bob.kms.accept_key_exchange("k", h_public, transcript=h_opened.complete(reply))
    with pytest.raises(InvalidInputError, match="open"):
        alice.kms.derive_shared_key("k", h_private, reply, transcript=h_opened)
    with pytest.raises(InvalidInputError, match="another exchange"):
        alice.kms.derive_shared_key(
            "k", h_private, reply, transcript=Transcript.of(stranger, reply, initiator="alice", responder="bob")
        )
    assert "k" not in alice.kms
    assert "k" not in bob.kms
    assert [entry.outcome for entry in bob.kms.audit_log if entry.key_id == "k"] == ["InvalidInputError"] * 2


@pytest.mark.parametrize("group", ["x25519", "ffdhe2048"])
def test_a_bound_key_differs_from_the_unbound_one_and_between_transcripts(group: str) -> None:
    alice, bob = Party.make("alice"), Party.make("bob")
    a_private, a_public = start(alice, group)
    b_private, b_public = start(bob, group)
    t = Transcript.of(a_public, b_public, initiator="alice", responder="bob")
    alice.kms.derive_shared_key("bound", a_private, b_public, transcript=t)
    alice.kms.derive_shared_key("plain", a_private, b_public)
    alice.kms.derive_shared_key(
        "other",
        a_private,
        b_public,
        transcript=Transcript.of(
            a_public, b_public, initiator="alice", responder="bob", context=b"kmslib-kex-another protocol"
        ),
    )
    bob.kms.derive_shared_key("bound", b_private, a_public, transcript=t)
    fingerprints = {alice.kms.key_info(k).fingerprint for k in ("bound", "plain", "other")}
    assert len(fingerprints) == 3
    assert alice.kms.key_info("bound").fingerprint == bob.kms.key_info("bound").fingerprint
    token = alice.kms.encrypt_data_aes("plain", "unbound")
    with pytest.raises(DecryptionError):
        bob.kms.decrypt_data_aes("bound", token)


def test_plain_sign_cannot_make_a_transcript_signature() -> None:
    """One key, one purpose (SP 800-57 Pt 1 5.2): whoever may call sign cannot forge an exchange's signature."""
    from kmslib.signing import KEX_CONTEXT

    assert CONTEXT.startswith(KEX_CONTEXT)
    _, bob, session = honest("x25519")
    statement = session.responder_transcript.statement("responder")
    with pytest.raises(InvalidInputError, match="key exchange"):
        bob.kms.sign("bob-signing", statement)
    with pytest.raises(InvalidInputError, match="key exchange"):
        bob.kms.sign("bob-signing", b"kmslib-kex-v2 anything later versions will use")
    bob.kms.sign("bob-signing", b" kmslib-kex-v1 not at the start: signed as any message")
    operations = [(e.operation, e.outcome) for e in bob.kms.audit_log if e.key_id == "bob-signing"]
    assert ("sign_transcript", "ok") in operations  # the exchange's own signatures, audited by name
    assert operations[-3:] == [("sign", "InvalidInputError"), ("sign", "InvalidInputError"), ("sign", "ok")]


def test_a_transcripts_context_is_a_key_exchange_context_so_it_can_never_sign_a_checkpoint() -> None:
    """sign_transcript signs ``context + ...``: a context of the caller's choosing must not make a checkpoint."""
    from kmslib.signing import KEX_CONTEXT

    alice = Party.make("alice")
    _, public = start(alice, "x25519")
    _, other = start(alice, "x25519")
    for context in (b"kmslib-checkpoint:v1:0:" + b"0" * 64 + b":t", b"release notes", b""):
        with pytest.raises(InvalidInputError, match="kmslib-kex-"):
            Transcript.of(public, other, initiator="alice", responder="bob", context=context)
    custom = Transcript.of(public, other, initiator="alice", responder="bob", context=KEX_CONTEXT + b"course-v2")
    assert custom.statement("initiator").startswith(KEX_CONTEXT)
    alice.sign(custom, "initiator")  # a context of the exchange's own family still signs
