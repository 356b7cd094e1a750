"""Diffie-Hellman: fixed groups, handles, peer validation, HKDF into a shared AES key."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, x25519

from kmslib import (
    ArgumentTypeError,
    DHPrivateKey,
    DHPublicKey,
    InvalidInputError,
    InvalidPeerKeyError,
    KeyCustodian,
    KeyExistsError,
    _ffdh,
    dh,
    load_public_key,
    public_key_pem,
)

GROUPS = ["ffdhe2048", "ffdhe3072", "x25519"]


def exchange(group: str, mode: str = "gcm") -> tuple[KeyCustodian, KeyCustodian]:
    """Alice and Bob, each with a custodian, agree key "shared" over the given group."""
    alice, bob = KeyCustodian(), KeyCustodian()
    a_private, a_public = alice.generate_diffie_hellman_params_and_key(group=group)
    b_private, b_public = bob.generate_diffie_hellman_params_and_key(group=group)
    # Public keys travel as PEM text, as they would over a network.
    a_info = alice.derive_shared_key("shared", a_private, b_public.pem, mode=mode)
    b_info = bob.derive_shared_key("shared", b_private, a_public.pem, mode=mode)
    assert a_info.fingerprint == b_info.fingerprint
    assert a_info.algorithm == ("aes-256-gcm" if mode == "gcm" else "aes-256-cbc")
    return alice, bob


@pytest.mark.parametrize("group", [*GROUPS, "ffdhe4096"])
def test_alice_and_bob_agree_and_read_each_other(group: str) -> None:
    alice, bob = exchange(group)
    assert bob.decrypt_data_aes("shared", alice.encrypt_data_aes("shared", "hi Bob")) == "hi Bob"
    assert alice.decrypt_data_aes("shared", bob.encrypt_data_aes("shared", "hi Alice")) == "hi Alice"


def test_cbc_mode_and_info_are_honoured() -> None:
    alice, bob = exchange("x25519", mode="cbc")
    assert bob.decrypt_data_aes("shared", alice.encrypt_data_aes("shared", "cbc")) == "cbc"
    a, b = KeyCustodian(), KeyCustodian()
    ak, apub = a.generate_diffie_hellman_params_and_key(group="x25519")
    bk, bpub = b.generate_diffie_hellman_params_and_key(group="x25519")
    one = a.derive_shared_key("k", ak, bpub, info=b"context one")
    two = b.derive_shared_key("k", bk, apub, info=b"context two")
    assert one.fingerprint != two.fingerprint


def test_same_pair_in_both_directions_gives_the_same_bytes() -> None:
    a_private, a_public = dh.generate_key_pair("ffdhe2048")
    b_private, b_public = dh.generate_key_pair("ffdhe2048")
    secret = dh.shared_secret(a_private, b_public)
    assert secret == dh.shared_secret(b_private, a_public)
    assert len(secret) == 256  # left-padded to the size of p
    assert dh.derive_key_bytes(a_private, b_public) == dh.derive_key_bytes(b_private, a_public)


def test_handles_teach_and_hide() -> None:
    private, public = dh.generate_key_pair("ffdhe2048")
    assert repr(public) == f"DHPublicKey(group='ffdhe2048', bits=2048, fingerprint='{public.fingerprint}')"
    assert repr(private) == f"DHPrivateKey(group='ffdhe2048', bits=2048, public_fingerprint='{public.fingerprint}')"
    x = private.cryptography_key.private_numbers().x
    assert str(x) not in repr(private)
    assert format(x, "x") not in repr(private)
    assert private.public_key() is public
    assert public.pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert load_public_key(public.pem) == public
    assert public_key_pem(private) == public_key_pem(public) == public_key_pem(public.cryptography_key)
    _, x_public = dh.generate_key_pair("x25519")
    assert repr(x_public).startswith("DHPublicKey(group='x25519', bits=256, fingerprint=")
    assert x_public != public


def test_pyca_keys_are_accepted_as_well_as_handles() -> None:
    mine = x25519.X25519PrivateKey.generate()
    theirs = x25519.X25519PrivateKey.generate()
    kms = KeyCustodian()
    kms.derive_shared_key("a", mine, theirs.public_key())
    kms.derive_shared_key("b", DHPrivateKey(mine), DHPublicKey(theirs.public_key()))
    assert kms.key_info("a").fingerprint == kms.key_info("b").fingerprint


def test_unknown_group() -> None:
    with pytest.raises(InvalidInputError, match="group must be one of"):
        KeyCustodian().generate_diffie_hellman_params_and_key(group="modp1024")


def _first_non_residue(p: int) -> int:
    y = 2
    while pow(y, (p - 1) // 2, p) == 1:
        y += 1
    return y


def _ff_public(y: int) -> DHPublicKey:
    return dh.public_key_from_y("ffdhe2048", y)


P2048 = _ffdh.FF_GROUPS["ffdhe2048"]


@pytest.mark.parametrize(
    ("peer", "message"),
    [
        (lambda: _ff_public(1), "out of range"),
        (lambda: _ff_public(P2048 - 1), "out of range"),
        (lambda: _ff_public(0), "out of range"),
        (lambda: _ff_public(P2048), "out of range"),
        (lambda: _ff_public(_first_non_residue(P2048)), "not in the prime-order subgroup"),
        (lambda: dh.generate_key_pair("ffdhe3072")[1], "another Diffie-Hellman group"),
        (lambda: dh.generate_key_pair("x25519")[1], "X25519 key, but ours is finite-field"),
        (lambda: "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n", "not a PEM public key"),
        (lambda: "just some text", "not a PEM public key"),
        (lambda: public_key_pem(ec.generate_private_key(ec.SECP256R1())), "not a Diffie-Hellman or X25519"),
    ],
    ids=[
        *["y=1", "y=p-1", "y=0", "y=p", "outside-subgroup"],
        *["other-group", "x25519-peer", "garbage-pem", "text", "ec-key"],
    ],
)
def test_invalid_finite_field_peers_are_rejected_and_leave_no_key(peer: object, message: str) -> None:
    kms = KeyCustodian()
    private, _ = kms.generate_diffie_hellman_params_and_key()
    with pytest.raises(InvalidPeerKeyError, match=message):
        kms.derive_shared_key("k", private, peer())  # type: ignore[operator]
    assert "k" not in kms
    assert kms.audit_log[-1].outcome == "InvalidPeerKeyError"


def test_all_zero_x25519_shared_secret_is_rejected() -> None:
    kms = KeyCustodian()
    private, _ = kms.generate_diffie_hellman_params_and_key(group="x25519")
    for point in (bytes(32), (1).to_bytes(32, "little")):  # low-order points
        with pytest.raises(InvalidPeerKeyError, match="all zero"):
            kms.derive_shared_key("k", private, x25519.X25519PublicKey.from_public_bytes(point))
    with pytest.raises(InvalidPeerKeyError, match="not an X25519 key"):
        kms.derive_shared_key("k", private, dh.generate_key_pair("ffdhe2048")[1])
    assert "k" not in kms


def test_derive_checks_arguments_and_existing_ids() -> None:
    kms = KeyCustodian()
    private, public = kms.generate_diffie_hellman_params_and_key(group="x25519")
    kms.establish_aes_key("taken")
    with pytest.raises(KeyExistsError):
        kms.derive_shared_key("taken", private, public)
    with pytest.raises(InvalidInputError, match="private_key is a public key"):
        kms.derive_shared_key("k", public, public)
    with pytest.raises(InvalidPeerKeyError, match="a private key"):
        kms.derive_shared_key("k", private, private)
    with pytest.raises(ArgumentTypeError, match="info must be bytes"):
        kms.derive_shared_key("k", private, public, info="text")  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError):
        public_key_pem(42)
    with pytest.raises(ArgumentTypeError):
        DHPublicKey(42)


def test_peer_pem_as_bytes() -> None:
    kms = KeyCustodian()
    private, _ = kms.generate_diffie_hellman_params_and_key()
    _, peer = dh.generate_key_pair()
    kms.derive_shared_key("k", private, peer.pem.encode())
    assert "k" in kms


def test_no_user_ever_sees_the_ffdh_deprecation_warning() -> None:
    """A fresh interpreter with every warning an error runs every FFDH path kmslib has."""
    code = """
import warnings
warnings.simplefilter("error")
import kmslib
from kmslib import dh
kms = kmslib.KeyCustodian()
for group in ("ffdhe2048", "ffdhe3072"):
    a, A = kms.generate_diffie_hellman_params_and_key(group=group)
    b, B = dh.generate_key_pair(group)
    kms.derive_shared_key("k" + group, a, B.pem)
    assert dh.load_public_key(A.pem) == A
print("quiet")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.stdout.strip() == "quiet", result.stderr
    assert "Deprecat" not in result.stderr


def test_the_filter_is_for_kmslib_ffdh_only() -> None:
    """Importing kmslib adds one warnings filter, and it matches kmslib._ffdh and nothing else."""
    code = """
import warnings
before = list(warnings.filters)
import kmslib
added = [f for f in warnings.filters if f not in before]
assert len(added) == 1, added
action, message, category, module, lineno = added[0]
assert action == "ignore" and category.__name__ == "CryptographyDeprecationWarning"
assert module.match("kmslib._ffdh")
for other in ("__main__", "kmslib", "kmslib.custodian", "kmslib._ffdhx", "mypkg.kmslib._ffdh"):
    assert not module.match(other), other
print("one filter")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.stdout.strip() == "one filter", result.stderr


def test_public_key_from_y_checks_its_arguments() -> None:
    assert dh.public_key_from_y("ffdhe3072", 4).group == "ffdhe3072"
    with pytest.raises(InvalidInputError, match="group must be one of"):
        dh.public_key_from_y("x25519", 4)
    with pytest.raises(InvalidInputError, match="negative"):
        dh.public_key_from_y("ffdhe2048", -1)
    with pytest.raises(ArgumentTypeError, match="y must be an int"):
        dh.public_key_from_y("ffdhe2048", "4")  # type: ignore[arg-type]


def test_teaching_key_pairs_make_their_own_group() -> None:
    private, public = dh.generate_teaching_key_pair(512)
    assert (public.group, public.bits) == ("custom-512", 512)
    peer = DHPrivateKey(private.cryptography_key.parameters().generate_private_key())
    assert dh.shared_secret(private, peer.public_key()) == dh.shared_secret(peer, public)
    with pytest.raises(InvalidPeerKeyError, match="another Diffie-Hellman group"):
        dh.shared_secret(private, dh.generate_key_pair("ffdhe2048")[1])
    with pytest.raises(InvalidInputError, match="512 to 1024"):
        dh.generate_teaching_key_pair(2048)


def test_keys_as_pem_text_everywhere() -> None:
    from cryptography.hazmat.primitives import serialization

    mine = x25519.X25519PrivateKey.generate()
    theirs = x25519.X25519PrivateKey.generate()
    pem = mine.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    kms = KeyCustodian()
    kms.derive_shared_key("from-pem", pem, public_key_pem(theirs))
    kms.derive_shared_key("from-objects", mine, theirs.public_key())
    assert kms.key_info("from-pem").fingerprint == kms.key_info("from-objects").fingerprint
    assert public_key_pem(public_key_pem(theirs)) == public_key_pem(theirs)
    with pytest.raises(InvalidInputError, match="not an unencrypted PEM private key"):
        kms.derive_shared_key(
            "x", "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n", theirs.public_key()
        )
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(InvalidInputError, match="not a Diffie-Hellman or X25519 private key"):
        kms.derive_shared_key("x", ec_pem, theirs.public_key())
    assert "x" not in kms


def test_one_rule_for_keys_of_another_kind(rsa_pems: Callable[[int], str]) -> None:
    # A key of another kind, as an object or as PEM, is an InvalidPeerKeyError (for the peer's key)
    # or an InvalidInputError (for our own); a value that is no key at all is an ArgumentTypeError.
    from cryptography.hazmat.primitives import serialization

    kms = KeyCustodian()
    private, public = kms.generate_diffie_hellman_params_and_key(group="x25519")
    rsa_private = serialization.load_pem_private_key(rsa_pems(0).encode(), None)
    rsa_public = rsa_private.public_key()
    ec_private = ec.generate_private_key(ec.SECP256R1())
    not_peers = [
        rsa_public,
        public_key_pem(rsa_public),
        public_key_pem(rsa_public).encode(),
        rsa_private,
        ec_private.public_key(),
        public_key_pem(ec_private),
        private,
        private.cryptography_key,
    ]
    for peer in not_peers:
        with pytest.raises(InvalidPeerKeyError):
            kms.derive_shared_key("k", private, peer)
    for peer in (42, None, [public], object()):
        with pytest.raises(ArgumentTypeError, match="peer_public_key must be"):
            kms.derive_shared_key("k", private, peer)
    for mine in (rsa_private, ec_private, public, public.cryptography_key, rsa_pems(0)):
        with pytest.raises(InvalidInputError) as err:
            kms.derive_shared_key("k", mine, public)
        assert not isinstance(err.value, ArgumentTypeError)
    for mine in (42, None):
        with pytest.raises(ArgumentTypeError, match="private_key must be"):
            kms.derive_shared_key("k", mine, public)
    assert "k" not in kms


def _field(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value


def _hkdf(secret: bytes, info: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def test_a_transcript_bound_key_computed_with_raw_pyca() -> None:
    # The documented input: HKDF-SHA256, no salt, info = info || SHA-256(transcript encoding).
    import hashlib

    from kmslib.kex import Transcript

    kms = KeyCustodian()
    private, public = kms.generate_diffie_hellman_params_and_key(group="x25519")
    peer = x25519.X25519PrivateKey.generate()
    transcript = Transcript.of(peer.public_key(), public, initiator="carol", responder="dave")
    kms.derive_shared_key("x", private, peer.public_key(), info=b"ctx", transcript=transcript)
    encoding = b"".join(
        _field(f)
        for f in (
            b"kmslib-kex-v1",
            b"x25519",
            b"carol",
            b"dave",
            peer.public_key().public_bytes_raw(),
            public.cryptography_key.public_bytes_raw(),
            b"",
        )
    )
    expected = _hkdf(peer.exchange(public.cryptography_key), b"ctx" + hashlib.sha256(encoding).digest())
    raw = KeyCustodian()
    raw.import_aes_key("x", expected)
    assert raw.key_info("x").fingerprint == kms.key_info("x").fingerprint
    # ffdhe2048: y padded to 256 bytes, and the secret padded the same way.
    ff_private, ff_public = kms.generate_diffie_hellman_params_and_key(group="ffdhe2048")
    peer_ff = dh.generate_key_pair("ffdhe2048")[0].cryptography_key  # a pyca key (pyca warns on DH's module names)
    transcript = Transcript.of(ff_public, peer_ff.public_key(), initiator="dave", responder="carol")
    kms.derive_shared_key("ff", ff_private, peer_ff.public_key(), transcript=transcript)
    ys = [key.public_numbers().y.to_bytes(256, "big") for key in (ff_public.cryptography_key, peer_ff.public_key())]
    encoding = b"".join(_field(f) for f in (b"kmslib-kex-v1", b"ffdhe2048", b"dave", b"carol", *ys, b""))
    secret = peer_ff.exchange(ff_public.cryptography_key).rjust(256, b"\0")
    raw.import_aes_key("ff", _hkdf(secret, b"kmslib key exchange" + hashlib.sha256(encoding).digest()))
    assert raw.key_info("ff").fingerprint == kms.key_info("ff").fingerprint


def test_without_a_transcript_x25519_keeps_the_contract_derivation() -> None:
    # Contract section 5: no salt, info alone. X25519 ignores bit 255 of a public key (RFC 7748 section 5), so a
    # flipped copy gives the same unbound key; a transcript binds the bytes actually received, so the key differs.
    from kmslib.kex import Transcript

    kms = KeyCustodian()
    private, public = kms.generate_diffie_hellman_params_and_key(group="x25519")
    peer = x25519.X25519PrivateKey.generate()
    flipped_raw = bytearray(peer.public_key().public_bytes_raw())
    flipped_raw[31] ^= 0x80
    flipped = x25519.X25519PublicKey.from_public_bytes(bytes(flipped_raw))
    kms.derive_shared_key("sent", private, peer.public_key())
    kms.derive_shared_key("flipped", private, flipped)
    raw = KeyCustodian()
    raw.import_aes_key("k", _hkdf(peer.exchange(public.cryptography_key), b"kmslib key exchange"))
    assert kms.key_info("sent").fingerprint == kms.key_info("flipped").fingerprint == raw.key_info("k").fingerprint
    for key_id, received in (("sent-bound", peer.public_key()), ("flipped-bound", flipped)):
        transcript = Transcript.of(public, received, initiator="alice", responder="bob")
        kms.derive_shared_key(key_id, private, received, transcript=transcript)
    assert kms.key_info("sent-bound").fingerprint != kms.key_info("flipped-bound").fingerprint
