"""Lesson 03 (Diffie-Hellman): six checked exercises and the quiz.

- ``q1`` (recall): spot Mallory, by comparing fingerprints over a separate channel;
- ``q2`` (apply): agree a key with a partner custodian, sending only public keys;
- ``q3`` (apply): find which of five public keys ``derive_shared_key`` refuses;
- ``q4`` (break): be Mallory: agree one key with Alice and another with Bob;
- ``q5`` (apply): answer a partner's hybrid post-quantum exchange (X25519MLKEM768): you are the responder;
- ``q6`` (recall): how many bytes the hybrid exchange puts on the wire, each way.
"""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives.asymmetric import x25519

from kmslib import _ffdh, dh
from kmslib.course.exercises import Exercise, Question, Quiz, indices, kind, student_custodian, whole
from kmslib.custodian import KeyCustodian
from kmslib.dh import DHPublicKey
from kmslib.errors import InvalidPeerKeyError, KMSError

__all__ = [
    "alice_public",
    "bob_public",
    "candidates",
    "exchanges",
    "hybrid_partner_public",
    "partner_public",
    "q1",
    "q2",
    "q3",
    "q4",
    "q5",
    "q6",
    "quiz",
]

KEY_ID = "link"

# The partner, Alice and Bob: their private keys stay in this module.
_partner = KeyCustodian()
_partner_private, partner_public = _partner.generate_diffie_hellman_params_and_key(group="x25519")
_alice = KeyCustodian()
_alice_private, alice_public = _alice.generate_diffie_hellman_params_and_key(group="x25519")
_bob = KeyCustodian()
_bob_private, bob_public = _bob.generate_diffie_hellman_params_and_key(group="x25519")
_agreed = [0]


def _fresh_id(custodian: KeyCustodian, stem: str) -> str:
    """A key id not used yet in ``custodian``, so that a check can run again."""
    _agreed[0] += 1
    return f"{stem}-{_agreed[0]}"


def _public(value: object, what: str) -> DHPublicKey | str:
    """The public key ``what`` names, in any form ``derive_shared_key`` takes; or what is wrong with it.

    The forms: a handle, PEM text or bytes, or a pyca key.
    """
    try:
        return value if isinstance(value, DHPublicKey) else DHPublicKey(dh._public(value))
    except KMSError:
        return (
            f"{what} should be a public key (the handle generate_diffie_hellman_params_and_key gave you, its PEM, "
            f"or a pyca key), not {kind(value)}."
        )


def _gcm_problem(custodian: KeyCustodian, key_id: str) -> str | None:
    """What is wrong with the kind of key ``key_id`` is: the partner's is AES-256-GCM, as the default makes."""
    algorithm = custodian.key_info(key_id).algorithm
    if algorithm != "aes-256-gcm":
        return f"your {key_id!r} is an {algorithm} key: keep the default mode, AES-256-GCM, as the partner does."
    return None


def _check_q2(kms: object, my_public: object) -> str | None:
    custodian = student_custodian(kms)
    mine = _public(my_public, "your public key")
    if isinstance(mine, str):
        return mine
    if KEY_ID not in custodian:
        return f"there is no key {KEY_ID!r} in your custodian: derive it with derive_shared_key."
    if mine == partner_public:
        return "that is the partner's public key: pass your own, the one you would send."
    theirs = _fresh_id(_partner, KEY_ID)
    try:
        _partner.derive_shared_key(theirs, _partner_private, mine)
    except InvalidPeerKeyError:
        return "the partner refused your public key: make an x25519 key pair, as the partner did."
    if _partner.key_info(theirs).fingerprint != custodian.key_info(KEY_ID).fingerprint:
        return (
            "you and the partner hold different keys: derive yours from your private key and partner_public, "
            "and pass the public key of that same pair."
        )
    if (wrong_kind := _gcm_problem(custodian, KEY_ID)) is not None:
        return wrong_kind
    if not custodian.key_info(KEY_ID).active:  # agreed, then revoked: judged as q4 and q5 judge it
        return None
    token = _partner.encrypt_data_aes(theirs, "hello from your partner")
    if custodian.decrypt_data_aes(KEY_ID, token) != "hello from your partner":  # pragma: no cover - same key
        return "your key does not read the partner's message."
    return None


q2 = Exercise(
    2,
    "apply",
    f"Agree a key {KEY_ID!r} with a partner whose public key is `partner_public` (x25519). Make your own key pair in "
    "`my_kms`, derive the key, and pass (my_kms, your public key).",
    _check_q2,
    "generate_diffie_hellman_params_and_key(group='x25519') gives (private, public); derive_shared_key takes your "
    "private key and the partner's public key.",
    f"""kms = KeyCustodian()
my_private, my_public = kms.generate_diffie_hellman_params_and_key(group="x25519")
kms.derive_shared_key("{KEY_ID}", my_private, partner_public)
q2.check(kms, my_public)""",
)


def _exchanges() -> tuple[dict[str, dict[str, str]], str]:
    """Two exchanges as each side saw them, and which one Mallory sat in."""
    fair_a, fair_b = dh.generate_key_pair("x25519")[1], dh.generate_key_pair("x25519")[1]
    alice_real, bob_real = dh.generate_key_pair("x25519")[1], dh.generate_key_pair("x25519")[1]
    mallory_to_alice, mallory_to_bob = dh.generate_key_pair("x25519")[1], dh.generate_key_pair("x25519")[1]
    honest = {
        "alice's own key": fair_a.fingerprint,
        "the key alice received as bob's": fair_b.fingerprint,
        "bob's own key": fair_b.fingerprint,
        "the key bob received as alice's": fair_a.fingerprint,
    }
    attacked = {
        "alice's own key": alice_real.fingerprint,
        "the key alice received as bob's": mallory_to_alice.fingerprint,
        "bob's own key": bob_real.fingerprint,
        "the key bob received as alice's": mallory_to_bob.fingerprint,
    }
    if secrets.randbelow(2):
        return {"monday": honest, "tuesday": attacked}, "tuesday"
    return {"monday": attacked, "tuesday": honest}, "monday"


#: Two days' exchanges, as Alice and Bob read the fingerprints to each other over the phone.
exchanges, _MALLORY_DAY = _exchanges()


def _check_q1(day: object) -> str | None:
    if isinstance(day, str):
        day = day.strip().lower()
    if not isinstance(day, str) or day not in exchanges:
        return f"pass the day Mallory was in the middle: one of {sorted(exchanges)}."
    if day != _MALLORY_DAY:
        return (
            f"on {day}, the key Alice received as Bob's is Bob's own key, and the other way round: that exchange "
            "is honest."
        )
    return None


q1 = Exercise(
    1,
    "recall",
    "`exchanges` shows two days' key exchanges, with each side's fingerprints. On which day was Mallory in the middle?",
    _check_q1,
    "Compare what Alice received as Bob's key with the fingerprint Bob reads out of his own key.",
    """mallory_day = next(
    day for day, seen in exchanges.items() if seen["the key alice received as bob's"] != seen["bob's own key"]
)
q1.check(mallory_day)""",
)


def _candidates() -> tuple[list[DHPublicKey], set[int]]:
    p = _ffdh.FF_GROUPS["ffdhe2048"]
    keys = [
        dh.generate_key_pair("ffdhe2048")[1],  # valid
        dh.public_key_from_y("ffdhe2048", 1),  # forces the secret 1
        dh.public_key_from_y("ffdhe2048", p - 1),  # forces the secret 1 or p - 1
        dh.public_key_from_y("ffdhe2048", p - 2),  # order 2q: leaks one bit of the exponent
        DHPublicKey(x25519.X25519PublicKey.from_public_bytes(bytes(32))),  # low order: an all-zero secret
        dh.generate_key_pair("x25519")[1],  # valid, in the other group
    ]
    return keys, {1, 2, 3, 4}


#: Six public keys sent by peers: some of them are traps.
candidates, _BAD = _candidates()


def _check_q3(rejected: object) -> str | None:
    chosen = indices(rejected)
    if chosen is None:
        return "pass the indices (ints) of the candidates that derive_shared_key refuses."
    if chosen == _BAD:
        return None
    if not chosen <= set(range(len(candidates))):
        return f"there are candidates 0 to {len(candidates) - 1}: pass indices among them."
    if 0 in chosen or 5 in chosen:
        return (
            "a valid key is among your choices: each of your own key pairs must match the candidate's group "
            "(ffdhe2048 or x25519)."
        )
    missing = sorted(_BAD - chosen)
    return f"{len(missing)} of the traps are missing. Try every candidate with a key pair of its own group."


q3 = Exercise(
    3,
    "apply",
    "Which of the six `candidates` does derive_shared_key refuse with InvalidPeerKeyError? Try each with a key pair "
    "of its own group (candidate.group), and pass the list of indices refused.",
    _check_q3,
    "Catch InvalidPeerKeyError around derive_shared_key; use a new key id for each try (a refused key leaves none).",
    """kms = KeyCustodian()
rejected = []
for index, candidate in enumerate(candidates):
    private, _ = kms.generate_diffie_hellman_params_and_key(group=candidate.group)
    try:
        kms.derive_shared_key(f"try-{index}", private, candidate)
    except InvalidPeerKeyError:
        rejected.append(index)
q3.check(rejected)""",
)


def _check_q4(mallory: object, to_alice: object, to_bob: object) -> str | None:
    custodian = student_custodian(mallory)
    sent = {"Alice": _public(to_alice, "the key you send Alice"), "Bob": _public(to_bob, "the key you send Bob")}
    for key in sent.values():
        if isinstance(key, str):
            return key
    for key_id in ("to-alice", "to-bob"):
        if key_id not in custodian:
            return f"Mallory has no key {key_id!r}: derive one with each victim."
    if sent["Alice"] == sent["Bob"]:
        return (
            "you send Alice and Bob the same public key: give each victim its own key pair, so that nothing "
            "Mallory sends is the same on both sides."
        )
    alice_key, bob_key = _fresh_id(_alice, "link"), _fresh_id(_bob, "link")
    try:
        _alice.derive_shared_key(alice_key, _alice_private, sent["Alice"])
        _bob.derive_shared_key(bob_key, _bob_private, sent["Bob"])
    except KMSError:
        return "Alice or Bob refused the public key you sent: send x25519 public keys."
    if _alice.key_info(alice_key).fingerprint != custodian.key_info("to-alice").fingerprint:
        return "Alice's key is not Mallory's 'to-alice': derive it with the key pair whose public half you send Alice."
    if _bob.key_info(bob_key).fingerprint != custodian.key_info("to-bob").fingerprint:
        return "Bob's key is not Mallory's 'to-bob': derive it with the key pair whose public half you send Bob."
    return None


q4 = Exercise(
    4,
    "break",
    "Be Mallory: in a custodian `mallory`, agree 'to-alice' with `alice_public` and 'to-bob' with `bob_public`, each "
    "with its own key pair. Pass (mallory, the public key you send Alice, the public key you send Bob).",
    _check_q4,
    "Two key pairs; derive_shared_key('to-alice', private_1, alice_public), and the same for Bob with private_2.",
    """mallory = KeyCustodian()
for_alice_private, for_alice = mallory.generate_diffie_hellman_params_and_key(group="x25519")
for_bob_private, for_bob = mallory.generate_diffie_hellman_params_and_key(group="x25519")
mallory.derive_shared_key("to-alice", for_alice_private, alice_public)
mallory.derive_shared_key("to-bob", for_bob_private, bob_public)
q4.check(mallory, for_alice, for_bob)""",
    lambda mallory, to_alice, to_bob: (
        "Alice and Bob each hold a working key, and Mallory reads and re-encrypts everything between them. "
        "Only comparing fingerprints over another channel (or signatures) shows her."
    ),
)


# The hybrid partner initiates: its private keys stay here; its public key is what it sends.
_hybrid_partner = KeyCustodian()
_hybrid_private, hybrid_partner_public = _hybrid_partner.generate_diffie_hellman_params_and_key(group="x25519mlkem768")


def _check_q5(kms: object, reply: object) -> str | None:
    custodian = student_custodian(kms)
    if KEY_ID not in custodian:
        return f"there is no key {KEY_ID!r} in your custodian: accept the exchange with accept_key_exchange."
    theirs = _fresh_id(_hybrid_partner, KEY_ID)
    try:
        _hybrid_partner.derive_shared_key(theirs, _hybrid_private, reply)
    except KMSError as exc:
        return f"the partner could not finish the exchange with your reply ({type(exc).__name__}): pass the reply."
    if _hybrid_partner.key_info(theirs).fingerprint != custodian.key_info(KEY_ID).fingerprint:
        return "you and the partner hold different keys: reply to hybrid_partner_public, and pass that reply."
    return _gcm_problem(custodian, KEY_ID)


q5 = Exercise(
    5,
    "apply",
    "The partner starts a hybrid post-quantum exchange and sends you `hybrid_partner_public`. Be the responder: "
    f"accept it in `my_kms` as {KEY_ID!r} and pass (my_kms, the reply you send back).",
    _check_q5,
    "A KEM is not symmetric: the responder calls accept_key_exchange(key_id, initiator_public); it returns the reply.",
    f"""kms = KeyCustodian()
reply = kms.accept_key_exchange("{KEY_ID}", hybrid_partner_public)
q5.check(kms, reply)""",
)


def _check_q6(there: object, back: object) -> str | None:
    there_size, back_size = whole(there), whole(back)
    if there_size is None or back_size is None:
        return "pass two numbers of bytes: initiator to responder, then responder to initiator."
    there, back = there_size, back_size
    if (there, back) == (1120, 1216):
        return "the other way round: the initiator sends the bigger message, its public key."
    if there != 1216:
        return "the initiator sends an ML-KEM-768 encapsulation key (1184 bytes) and an X25519 public key: count again."
    if back != 1120:
        return "the responder sends an ML-KEM-768 ciphertext (1088 bytes) and an X25519 public key: count again."
    return None


q6 = Exercise(
    6,
    "recall",
    "How many bytes does X25519MLKEM768 put on the wire: from initiator to responder, and back? Measure them with "
    "`.raw`, and pass the two numbers.",
    _check_q6,
    "len(public_key.raw) and len(reply.raw); compare with X25519's 32 bytes each way.",
    """initiator = KeyCustodian()
private, public = initiator.generate_diffie_hellman_params_and_key(group="x25519mlkem768")
reply = KeyCustodian().accept_key_exchange("link", public)
q6.check(len(public.raw), len(reply.raw))""",
)


quiz = Quiz(
    Question(
        "Against whom is an unauthenticated Diffie-Hellman exchange safe?",
        {"a": "A passive eavesdropper", "b": "A man in the middle", "c": "Both"},
        "a",
        "Whoever only listens learns the public keys, not the secret. Whoever can replace the public keys agrees a "
        "key with each side: authenticate the keys (signatures, certificates, a fingerprint check).",
    ),
    Question(
        "With an RFC 7919 group (p = 2q + 1), which peer values force a predictable shared secret?",
        {
            "a": "1 and p - 1",
            "b": "Every y of order 2q, outside the subgroup of order q",
            "c": "Every y above q",
        },
        "a",
        "y = 1 gives the secret 1; y = p - 1 gives 1 or p - 1. An element of order 2q forces nothing, but leaks one "
        "bit of the exponent; kmslib checks y^q = 1 mod p, so it refuses those too.",
    ),
    Question(
        "Why run the shared secret through HKDF instead of using it as the AES key?",
        {
            "a": "The secret is not uniformly random bytes; HKDF extracts a uniform key from it (RFC 5869)",
            "b": "To fit its length to AES-256's 32 bytes",
            "c": "So that whoever later learns the shared secret still cannot compute the AES key",
        },
        "a",
        "A Diffie-Hellman secret is a group element with structure; HKDF turns it into uniform key bytes, bound "
        "to a context (the info string). Length alone is not the reason: X25519's secret is 32 bytes already. And "
        "HKDF here has no secret salt, so whoever holds the shared secret can run it too.",
    ),
    Question(
        "Alice and Bob read their 64-bit fingerprints to each other over the phone, and they match. What does that "
        "show?",
        {
            "a": "That they hold the same public keys, unless Mallory found two key pairs whose fingerprints collide",
            "b": "That no man in the middle was present: a match rules one out",
            "c": "That their keys stay safe from now on",
        },
        "a",
        "Matching fingerprints over a channel Mallory does not control show both hold the same public keys, as far "
        "as 64 bits can tell. A Mallory who picks her key pairs after seeing Alice's and Bob's can search for a "
        "collision, about 2^32 work on each side: costly, not impossible, so a match does not rule her out. Real "
        "systems compare 60-digit safety numbers (Signal) or commit to their keys first (ZRTP). Nor does it say "
        "anything about a later compromise of the keys.",
    ),
)
