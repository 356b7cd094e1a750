"""The hybrid post-quantum key exchange X25519MLKEM768 (contract section 5)."""

from __future__ import annotations

import hashlib
import json
import os
import pickle

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from helpers import VECTORS, leaks
from kmslib import (
    ArgumentTypeError,
    DecryptionError,
    HybridPrivateKey,
    HybridPublicKey,
    InvalidPeerKeyError,
    KeyCustodian,
    KeyExchangeReply,
)


def expected_key(secret: bytes, initiator_public: bytes, reply: bytes, info: bytes = b"kmslib key exchange") -> bytes:
    """The documented derivation, computed without kmslib: HKDF-SHA256, no salt, info || SHA-256(transcript).

    With no transcript given, the transcript is the anonymous one: the context, the group, two empty identities,
    the initiator's public key, the responder's X25519 key and the ML-KEM ciphertext, each after its length.
    """
    fields = (b"kmslib-kex-v1", b"x25519mlkem768", b"", b"", initiator_public, reply[1088:], reply[:1088])
    encoding = b"".join(len(f).to_bytes(4, "big") + f for f in fields)
    info = info + hashlib.sha256(encoding).digest()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def pair() -> tuple[KeyCustodian, KeyCustodian]:
    return KeyCustodian(), KeyCustodian()


def test_initiator_and_responder_agree_and_read_each_other() -> None:
    alice, bob = pair()
    private, public = alice.generate_diffie_hellman_params_and_key(group="x25519mlkem768")
    assert isinstance(private, HybridPrivateKey)
    assert isinstance(public, HybridPublicKey)
    assert len(public.raw) == 1184 + 32
    reply = bob.accept_key_exchange("link", public)
    assert len(reply.raw) == 1088 + 32
    alice.derive_shared_key("link", private, reply)
    assert alice.key_info("link").fingerprint == bob.key_info("link").fingerprint
    assert bob.decrypt_data_aes("link", alice.encrypt_data_aes("link", "post-quantum hello")) == "post-quantum hello"
    # Printable forms and raw bytes work as well as handles, in both directions.
    carol, dave = pair()
    carol_private, carol_public = carol.generate_diffie_hellman_params_and_key(group="x25519mlkem768")
    answer = dave.accept_key_exchange("link", carol_public.printable, mode="cbc", info=b"v2")
    carol.derive_shared_key("link", carol_private, answer.raw, mode="cbc", info=b"v2")
    assert carol.key_info("link").fingerprint == dave.key_info("link").fingerprint
    assert carol.key_info("link").algorithm == "aes-256-cbc"


def test_the_same_exchange_computed_with_raw_pyca_in_both_roles() -> None:
    # kmslib initiates; the responder is raw pyca: ML-KEM-768 encapsulation, X25519, HKDF-SHA256.
    alice = KeyCustodian()
    private, public = alice.generate_diffie_hellman_params_and_key(group="x25519mlkem768")
    ek, x_public = public.raw[:1184], public.raw[1184:]
    k_secret, ciphertext = mlkem.MLKEM768PublicKey.from_public_bytes(ek).encapsulate()
    mine = x25519.X25519PrivateKey.generate()
    x_secret = mine.exchange(x25519.X25519PublicKey.from_public_bytes(x_public))
    reply = ciphertext + mine.public_key().public_bytes_raw()
    alice.derive_shared_key("link", private, reply)
    raw = KeyCustodian()
    raw.import_aes_key("link", expected_key(k_secret + x_secret, public.raw, reply))
    assert raw.key_info("link").fingerprint == alice.key_info("link").fingerprint
    # raw pyca initiates; kmslib responds.
    kem = mlkem.MLKEM768PrivateKey.generate()
    x_private = x25519.X25519PrivateKey.generate()
    bob = KeyCustodian()
    reply = bob.accept_key_exchange(
        "link", kem.public_key().public_bytes_raw() + x_private.public_key().public_bytes_raw()
    )
    secret = kem.decapsulate(reply.raw[:1088]) + x_private.exchange(
        x25519.X25519PublicKey.from_public_bytes(reply.raw[1088:])
    )
    raw_2 = KeyCustodian()
    initiator = kem.public_key().public_bytes_raw() + x_private.public_key().public_bytes_raw()
    raw_2.import_aes_key("link", expected_key(secret, initiator, reply.raw))
    assert raw_2.key_info("link").fingerprint == bob.key_info("link").fingerprint


@pytest.mark.parametrize("side", ["initiator", "responder"])
def test_flipping_bit_255_of_an_x25519_part_gives_another_key(side: str) -> None:
    # X25519 ignores the top bit of a public key (RFC 7748 section 5): the secrets are the same, but the key binds
    # the bytes that crossed the wire, so a flipped bit in transit gives the two sides different keys.
    alice, bob = pair()
    private, public = alice.generate_diffie_hellman_params_and_key(group="x25519mlkem768")
    sent = bytearray(public.raw)
    if side == "initiator":
        sent[-1] ^= 0x80
    reply = bytearray(bob.accept_key_exchange("link", bytes(sent)).raw)
    if side == "responder":
        reply[-1] ^= 0x80
    alice.derive_shared_key("link", private, bytes(reply))
    assert alice.key_info("link").fingerprint != bob.key_info("link").fingerprint


def test_a_low_order_x25519_part_leaves_no_ml_kem_secret_in_the_traceback() -> None:
    alice = KeyCustodian()
    private, public = alice.generate_diffie_hellman_params_and_key(group="x25519mlkem768")
    k_secret, ciphertext = mlkem.MLKEM768PublicKey.from_public_bytes(public.raw[:1184]).encapsulate()
    with pytest.raises(InvalidPeerKeyError, match="all zero") as err:
        alice.derive_shared_key("link", private, ciphertext + bytes(32))
    assert [found for found in leaks(err.value, [k_secret]) if "holds a secret" in found] == []
    assert "link" not in alice


def test_a_tampered_reply_derives_another_key_without_an_error() -> None:
    # ML-KEM rejects implicitly: a changed ciphertext decapsulates to another secret, with no error.
    alice, bob = pair()
    private, public = alice.generate_diffie_hellman_params_and_key(group="x25519mlkem768")
    reply = bytearray(bob.accept_key_exchange("link", public).raw)
    reply[100] ^= 1
    alice.derive_shared_key("link", private, bytes(reply))
    assert alice.key_info("link").fingerprint != bob.key_info("link").fingerprint
    with pytest.raises(DecryptionError):  # the first token between them fails
        bob.decrypt_data_aes("link", alice.encrypt_data_aes("link", "hello?"))


def test_bad_peer_values_are_refused_and_leave_nothing_behind() -> None:
    alice, bob = pair()
    private, public = alice.generate_diffie_hellman_params_and_key(group="x25519mlkem768")
    _, x_public = bob.generate_diffie_hellman_params_and_key(group="x25519")
    zero_x = public.raw[:1184] + bytes(32)  # a low-order X25519 point: an all-zero secret
    bad_ek = b"\xff" * 1184 + public.raw[1184:]  # coefficients out of range: no ML-KEM-768 key
    for initiator in (public.raw[:-1], public.raw + b"\x00", x_public, zero_x, bad_ek, "not base64!"):
        with pytest.raises(InvalidPeerKeyError):
            bob.accept_key_exchange("link", initiator)
    reply = bob.accept_key_exchange("link", public)
    for answer in (reply.raw[:-1], reply.raw[:1088] + bytes(32), public, x_public):
        with pytest.raises(InvalidPeerKeyError):
            alice.derive_shared_key("link", private, answer)
    with pytest.raises(InvalidPeerKeyError):  # a finite-field private key with a hybrid reply
        alice.derive_shared_key("link", alice.generate_diffie_hellman_params_and_key(group="ffdhe2048")[0], reply)
    with pytest.raises(ArgumentTypeError):
        bob.accept_key_exchange("other", 42)
    assert "link" not in alice
    assert [info.key_id for info in bob.list_keys()] == ["link"]


def test_handles_show_sizes_and_hide_secrets() -> None:
    private, public = KeyCustodian().generate_diffie_hellman_params_and_key(group="x25519mlkem768")
    assert repr(public) == f"HybridPublicKey(group='x25519mlkem768', bytes=1216, fingerprint='{public.fingerprint}')"
    assert "public_fingerprint" in repr(private)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(private)
    assert HybridPublicKey(public.raw) == public
    reply = KeyCustodian().accept_key_exchange("k", public)
    assert isinstance(reply, KeyExchangeReply)
    assert "bytes=1120" in repr(reply)


def test_wycheproof_ml_kem_768_decapsulation_through_kmslib() -> None:
    data = json.loads((VECTORS / "mlkem_768_test.json").read_text())
    valid = invalid = 0
    for group in data["testGroups"]:
        for test in group["tests"]:
            seed, ciphertext, shared = (bytes.fromhex(test[k]) for k in ("seed", "c", "K"))
            try:
                private = HybridPrivateKey.from_seed(seed, os.urandom(32))
            except ValueError:
                assert test["result"] == "invalid", test["tcId"]
                invalid += 1
                continue
            secret = private.decapsulate_mlkem(ciphertext)
            if test["result"] == "valid":
                assert private.public_key().raw[:1184].hex() == test["ek"], test["tcId"]
                assert secret == shared, test["tcId"]
                valid += 1
            else:
                assert secret is None, test["tcId"]
                invalid += 1
    assert (valid, invalid) == (153, 40)
