"""Lesson 01 (AES): four checked exercises, of rising difficulty, and the quiz.

The exercises act on a bank that keeps its own custodian, out of the student's reach: the student
holds tokens and an oracle, as an attacker would, never the keys.

- ``q1`` (recall): a key nobody can guess, drawn by the custodian from the CSPRNG (its audit log shows it);
- ``q2`` (apply): forge ``amt=9100`` into the bank's CBC order by flipping bits of the IV;
- ``q3`` (break): recover a secret block by a padding-oracle attack that sees only success or failure;
- ``q4`` (break): the same two attacks against GCM, which refuses both.
"""

from __future__ import annotations

import hashlib
import random
import secrets

from kmslib.aes import AESKeyVersion
from kmslib.course.exercises import Exercise, Question, Quiz, kind, student_custodian, whole
from kmslib.custodian import KeyCustodian
from kmslib.errors import DecryptionError, InvalidInputError
from kmslib.tokens import parse_token

__all__ = [
    "ORDER",
    "TARGET",
    "gcm_oracle",
    "gcm_order_token",
    "oracle",
    "order_token",
    "q1",
    "q2",
    "q3",
    "q4",
    "quiz",
    "secret_token",
]

ORDER = "to=bob;amt=0100;memo=rent"
TARGET = "to=bob;amt=9100;memo=rent"
KEY_ID = "vault"


class Oracle:
    """Answers one question about a token: does it decrypt? It counts how often it was asked.

    This is all a padding-oracle attacker needs: a server that accepts or refuses what it is sent,
    even with the same error message for every cause.

    It also keeps the distinct tokens it was asked about (tokens are public): the checkers judge
    the attacks from them, not from the count.
    """

    def __init__(self, custodian: KeyCustodian, key_id: str) -> None:
        self._custodian = custodian
        self._key_id = key_id
        #: How many tokens the oracle has been asked about.
        self.queries = 0
        # The distinct tokens asked about (public, as tokens are): the checkers judge the attack from them.
        self._asked: set[str] = set()

    def __call__(self, token: str) -> bool:
        """``True`` if the bank decrypts ``token``, ``False`` if it refuses it."""
        self.queries += 1
        if isinstance(token, str):
            self._asked.add(token)
        try:
            self._custodian.decrypt_data_aes(self._key_id, token, encoding=None)
        except DecryptionError:
            return False
        return True

    def __repr__(self) -> str:
        return f"Oracle(queries={self.queries})"


# The bank: its keys never leave this module. The secret is new in every kernel.
_bank = KeyCustodian()
_bank.establish_aes_key("orders-cbc", mode="cbc")
_bank.establish_aes_key("orders-gcm")
_SECRET = f"PIN={secrets.randbelow(10**4):04d};acct={secrets.randbelow(100):02d}".encode()
assert len(_SECRET) == 16

#: The bank's order, encrypted under its CBC key (the student sees only this token).
order_token = _bank.encrypt_data_aes("orders-cbc", ORDER)
#: The same order under the bank's GCM key.
gcm_order_token = _bank.encrypt_data_aes("orders-gcm", ORDER)
#: A token of a 16-byte secret under the bank's CBC key: recover it with :data:`oracle` alone.
secret_token = _bank.encrypt_data_aes("orders-cbc", _SECRET)
#: The bank's answer, for its CBC key: does this token decrypt?
oracle = Oracle(_bank, "orders-cbc")
#: The same, for its GCM key.
gcm_oracle = Oracle(_bank, "orders-gcm")


# ---------------------------------------------------------------- q1: a key nobody can guess


def _weak_keys() -> dict[str, bytes]:
    """Keys a guesser tries first: hashes of common passwords, counting bytes, seeded ``random``."""
    guesses: dict[str, bytes] = {}
    for word in ("password", "123456", "secret", "letmein", "qwerty", "admin", "vault", "kmslib", "", "hunter2"):
        guesses[f"sha256({word!r})"] = hashlib.sha256(word.encode()).digest()
        guesses[f"md5({word!r}) twice"] = hashlib.md5(word.encode()).digest() * 2  # noqa: S324 - a guess to refuse
        guesses[f"{word!r} padded"] = word.encode().ljust(32, b"\0")[:32]
    guesses["bytes(range(32))"] = bytes(range(32))
    guesses["the digits twice"] = b"0123456789abcdef" * 2
    for seed in (*range(101), 1234, 2024, 2025, 2026, 12345, 31337):
        guesses[f"random.Random({seed})"] = random.Random(seed).randbytes(32)  # noqa: S311 - guesses to refuse
    return guesses


_WEAK_FINGERPRINTS: dict[str, str] | None = None


def _weak_fingerprint(fingerprint: str) -> str | None:
    """The name of the guessable key with this fingerprint, if it is one."""
    global _WEAK_FINGERPRINTS  # noqa: PLW0603 - computed on first use, once
    if _WEAK_FINGERPRINTS is None:
        found = {}
        for name, key in _weak_keys().items():
            try:
                found[AESKeyVersion(key, "gcm").fingerprint] = name
            except InvalidInputError:  # one repeated byte: kmslib refuses it anyway
                continue
        _WEAK_FINGERPRINTS = found
    return _WEAK_FINGERPRINTS.get(fingerprint)


def _check_q1(kms: object) -> str | None:
    custodian = student_custodian(kms)
    if KEY_ID not in custodian:
        return f"there is no key {KEY_ID!r} in your custodian yet."
    info = custodian.key_info(KEY_ID)
    if info.kind != "aes" or info.algorithm != "aes-256-gcm":
        return f"{KEY_ID!r} is {info.algorithm}; make an AES-256-GCM key (GCM authenticates, CBC does not)."
    if not info.active:
        return f"{KEY_ID!r} was revoked, and ids are never reused: start a new custodian (kms = KeyCustodian())."
    # The newest version's bytes: drawn by the custodian (establish_aes_key, rotate_key) or brought in from outside.
    made = [e for e in custodian.audit_log if e.key_id == KEY_ID and e.outcome == "ok" and e.version == info.version]
    how = made[0].operation if made else None
    if how in ("establish_aes_key", "rotate_key"):
        return None
    weak = _weak_fingerprint(info.fingerprint) if how == "import_aes_key" else None
    if weak is not None:
        return (
            f"the key you imported is {weak}: the first thing a guesser tries. A password is not a key; "
            "let kmslib draw the key from the CSPRNG with establish_aes_key."
        )
    return (
        f"{KEY_ID!r} was made by {how}: its bytes came from outside the custodian, and imported bytes look the "
        "same whether they came from a CSPRNG or from sha256(a passphrase). Let the custodian draw them from the "
        "CSPRNG with establish_aes_key; its audit log then shows where the key came from."
    )


q1 = Exercise(
    1,
    "recall",
    f"Make an AES-256-GCM key called {KEY_ID!r} in your custodian `kms`, whose bytes nobody can guess: let the "
    "custodian draw them from the CSPRNG, so that its audit log shows where the key came from.",
    _check_q1,
    "kmslib draws a new key from the operating system's CSPRNG for you; GCM is the default mode.",
    f'kms.establish_aes_key("{KEY_ID}")\nq1.check(kms)',
)


# ---------------------------------------------------------------- q2: the CBC bit flip


def _check_q2(forged: object) -> str | None:
    if not isinstance(forged, str):
        return f"pass the forged token (a str), not {kind(forged)}."
    try:
        version, algorithm, payload = parse_token(forged)
    except DecryptionError:
        return "that is not a well-formed token: build it with tamper(order_token, index, mask)."
    _, _, original = parse_token(order_token)
    if algorithm != "aes-256-cbc" or version != 1:
        return "the bank expects a v1 aes-256-cbc token, like order_token."
    if payload[16:] != original[16:]:
        return (
            "the ciphertext blocks differ from order_token's: an attacker has no key, so cannot encrypt anew. "
            "Change only the IV (the first 16 bytes of the payload)."
        )
    try:
        read = _bank.decrypt_data_aes("orders-cbc", forged)
    except DecryptionError:
        return "the bank refused the token: its padding or text broke. Flip only the bits that turn '0' into '9'."
    if read == ORDER:
        return "the bank read the original order: nothing changed yet."
    if read != TARGET:
        return f"the bank read {read!r}; make it read {TARGET!r}."
    return None


q2 = Exercise(
    2,
    "apply",
    f"Without the key, turn `order_token` (which says {ORDER!r}) into a token the bank reads as {TARGET!r}.",
    _check_q2,
    "Decryption XORs the IV into the first block, so XORing IV byte i with ('0' XOR '9') turns plaintext "
    "byte i from '0' into '9'. Count where 'amt=0' puts that 0; tamper(token, index, mask) flips payload bytes.",
    'mask = bytes([ord("0") ^ ord("9")])\n'
    'forged = tamper(order_token, ORDER.index("amt=") + 4, mask)\n'
    "q2.check(forged)",
)


# ---------------------------------------------------------------- q3: the padding-oracle attack


def _attack_steps() -> int:
    """How many distinct forged tokens ending in the secret's block the oracle was asked about."""
    _, _, payload = parse_token(secret_token)
    block = payload[16:32]
    steps = 0
    for token in oracle._asked:
        try:
            _, algorithm, asked = parse_token(token)
        except DecryptionError:
            continue
        if algorithm == "aes-256-cbc" and asked[-16:] == block and asked != payload[:32]:
            steps += 1
    return steps


def _padding_found() -> set[int]:
    """The padding lengths the oracle accepted in forged tokens ending in the secret's block.

    Each step of the attack ends with a forged token whose last ``pad`` decrypted bytes are ``pad``: the oracle's
    True. The checker knows D(block) (the secret XOR the real IV), so it reads that length from the fake IV.
    """
    _, _, payload = parse_token(secret_token)
    iv, block = payload[:16], payload[16:32]
    middle = bytes(s ^ v for s, v in zip(_SECRET, iv, strict=True))
    found = set()
    for token in oracle._asked:
        try:
            _, algorithm, asked = parse_token(token)
        except DecryptionError:
            continue
        if algorithm != "aes-256-cbc" or len(asked) < 32 or asked[-16:] != block:
            continue
        decrypted = bytes(m ^ f for m, f in zip(middle, asked[-32:-16], strict=True))
        pad = decrypted[-1]
        if 1 <= pad <= 16 and decrypted[-pad:] == bytes([pad]) * pad:
            found.add(pad)
    return found


def _check_q3(recovered: object) -> str | None:
    if isinstance(recovered, str):
        try:
            recovered = recovered.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return "pass the recovered block as bytes: that text is not even UTF-8."
    if not isinstance(recovered, (bytes, bytearray)):
        return f"pass the recovered block as bytes, not {kind(recovered)}."
    if oracle.queries == 0:
        return "the oracle was never asked: recover the block through it, one byte at a time."
    if _attack_steps() < 16:
        return (
            "the oracle was not asked about forged two-block tokens ending in the secret's block "
            "(cbc_token(fake_iv, block)), at least one per byte: recover the block through the oracle."
        )
    if len(recovered) == 32 and recovered[16:] == bytes([16]) * 16:
        recovered = recovered[:16]  # the padding block too: fine
    if len(recovered) != 16:
        return f"a block is 16 bytes; you passed {len(recovered)}."
    if len(_padding_found()) < 16:  # the same words for every answer: no hint about the secret
        return (
            "the oracle has not yet accepted a forged token at every step of the attack: for each padding length "
            "1 to 16, one forgery ending in the secret's block whose fake IV makes that padding valid. Recover the "
            "block through the oracle."
        )
    if bytes(recovered) == _SECRET:
        return None
    # Right or wrong, nothing more: a count of right bytes would itself be an oracle for the secret.
    return (
        "that is not the secret block. The attack finds the last byte first, then aims for padding 2, 2 with "
        "the byte found, and so on; the plaintext is D(block) XOR the real IV."
    )


def _praise_q3(recovered: object) -> str:
    return f"You read the secret through {oracle.queries} oracle queries, without the key."


q3 = Exercise(
    3,
    "break",
    "`secret_token` holds a 16-byte secret. Using only `oracle(token)` (True if the bank decrypts it), "
    "recover the secret block.",
    _check_q3,
    "Send the bank two-block tokens cbc_token(fake_iv, first_block). The padding is valid when the last "
    "decrypted byte is 1, so try all 256 values of fake_iv[15]: the one the oracle accepts gives "
    "D(block)[15] = guess ^ 1. Then aim for padding 2, 2 with the bytes found so far, and so on. "
    "The plaintext is D(block) XOR the real IV.",
    """parts = inspect_token(secret_token)
iv, block = parts.nonce, parts.ciphertext[:16]
middle = bytearray(16)  # D(block): what AES decryption gives before the IV is XORed in
for pad in range(1, 17):
    i = 16 - pad
    for guess in range(256):
        fake_iv = bytearray(16)
        for j in range(i + 1, 16):
            fake_iv[j] = middle[j] ^ pad  # the bytes already found now decrypt to `pad`
        fake_iv[i] = guess
        if not oracle(cbc_token(bytes(fake_iv), block)):
            continue
        if pad == 1:  # rule out valid padding by chance (..., 2, 2): change the byte before
            fake_iv[i - 1] ^= 1
            if not oracle(cbc_token(bytes(fake_iv), block)):
                continue
        middle[i] = guess ^ pad
        break
recovered = bytes(m ^ v for m, v in zip(middle, iv))
q3.check(recovered)""",
    _praise_q3,
)


# ---------------------------------------------------------------- q4: GCM refuses both


def _check_q4(forged_gcm: object, accepted: object) -> str | None:
    if not isinstance(forged_gcm, str):
        return f"forged_gcm should be the forged GCM token (a str), not {kind(forged_gcm)}."
    if forged_gcm == gcm_order_token:
        return "forged_gcm is gcm_order_token itself: flip the bits that would make amt=9100."
    try:
        _, algorithm, payload = parse_token(forged_gcm)
    except DecryptionError:
        return "forged_gcm is not a well-formed token: start from gcm_order_token, with tamper(token, index, mask)."
    _, _, original = parse_token(gcm_order_token)
    if algorithm != "aes-256-gcm" or len(payload) != len(original):
        return "start from gcm_order_token, and change bits only."
    changed = [i for i in range(len(payload)) if payload[i] != original[i]]
    digit = 12 + ORDER.index("amt=") + 4  # GCM is counter mode: plaintext byte i is ciphertext byte 12 + i
    if changed != [digit] or payload[digit] ^ original[digit] != ord("0") ^ ord("9"):
        return (
            "that flip would not make amt=9100 even without the tag. GCM's ciphertext starts after the 12-byte "
            "nonce, and counter mode puts plaintext byte i at ciphertext byte i: flip byte 12 + i."
        )
    try:
        _bank.decrypt_data_aes("orders-gcm", forged_gcm)
    except DecryptionError:
        pass
    else:  # pragma: no cover - GCM would have to be broken
        return "the bank accepted it: that should be impossible."
    asked = _forged_nonces_asked()
    if asked < 255:
        return (
            f"gcm_oracle was asked about {asked} of the 255 forged nonces: gcm_order_token with its last nonce byte "
            "changed to each other value, the rest untouched. Ask about every one, and count the accepted ones."
        )
    count = whole(accepted)
    if count is None:
        return "accepted should be the number of guesses the GCM oracle accepted (an int)."
    if count != 0:
        return f"gcm_oracle accepted none of the forgeries, not {count}: count the True answers for forged nonces."
    return None


def _forged_nonces_asked() -> int:
    """How many of the 255 other values of the last nonce byte of ``gcm_order_token`` ``gcm_oracle`` was asked about."""
    _, _, original = parse_token(gcm_order_token)
    values = set()
    for token in gcm_oracle._asked:
        try:
            _, algorithm, asked = parse_token(token)
        except DecryptionError:
            continue
        if (
            algorithm == "aes-256-gcm"
            and len(asked) == len(original)
            and asked[:11] + asked[12:] == (original[:11] + original[12:])
        ):
            values.add(asked[11])
    return len(values - {original[11]})


q4 = Exercise(
    4,
    "break",
    "Try both attacks on GCM: flip `gcm_order_token` as you did in q2 (keep it in `forged_gcm`), and ask "
    "`gcm_oracle` about the attack's first step, every other value of the last nonce byte (count the accepted "
    "forgeries in `accepted`).",
    _check_q4,
    "A GCM payload is nonce (12 bytes) || ciphertext || tag, and the ciphertext is the plaintext XOR a key "
    "stream, byte for byte. For the oracle, change the last nonce byte through its 255 other values.",
    """digit = 12 + ORDER.index("amt=") + 4
forged_gcm = tamper(gcm_order_token, digit, ord("0") ^ ord("9"))
parts = inspect_token(gcm_order_token)
rest = parts.ciphertext + parts.tag
accepted = 0
for guess in range(256):
    if guess != parts.nonce[11]:  # the real nonce is no forgery
        accepted += gcm_oracle(format_token(1, "aes-256-gcm", parts.nonce[:11] + bytes([guess]) + rest))
q4.check(forged_gcm, accepted)""",
    lambda forged, accepted: "GCM refused the forgery and gave the oracle nothing: the tag covers every bit.",
)


# ---------------------------------------------------------------- the quiz

quiz = Quiz(
    Question(
        "Which of these is a safe AES-256 key?",
        {
            "a": "random.randbytes(32)",
            "b": 'hashlib.sha256(b"my long passphrase").digest()',
            "c": "secrets.token_bytes(32)",
            "d": "the current time in nanoseconds, hashed",
        },
        "c",
        "secrets reads the operating system's CSPRNG. random is a Mersenne Twister, predictable from its output; "
        "a hash of a passphrase is exactly as guessable as the passphrase (derive keys from passwords only with a "
        "slow, salted KDF such as scrypt or Argon2id); the time has a few dozen bits of uncertainty at best.",
    ),
    Question(
        "kmslib gives every failed decryption the same error message. Against CBC, does that stop padding-oracle "
        "attacks?",
        {
            "a": "Yes: the attacker cannot tell a padding error from a tag error",
            "b": "No",
            "c": "Yes, if every failure also takes the same time to report",
        },
        "b",
        "Success against failure is enough (Vaudenay, 2002): exercise 3 reads a block that way, with one answer "
        "per token and no timing at all. Only authenticated encryption (GCM) stops it, by refusing every changed "
        "token before any padding is looked at.",
    ),
    Question(
        "Bob decrypts a GCM token with the associated data `user=alice`. Which changes make his decryption fail?",
        {
            "a": "a changed byte of the ciphertext only: the nonce and the associated data are not covered",
            "b": "a changed byte of the ciphertext or the tag, but not other associated data: it is not encrypted",
            "c": "a changed byte of the nonce, the ciphertext or the tag, or other associated data",
            "d": "only a changed byte of the tag itself",
        },
        "c",
        "GHASH runs over the associated data and the ciphertext, and the tag is that hash masked with the "
        "encryption of the first counter block J0, which is made from the nonce (NIST SP 800-38D, section 7.1). "
        "Change any of them, or pass other associated data, and the tag no longer matches. Associated data is "
        "authenticated, not encrypted.",
    ),
    Question(
        "Why must a GCM nonce never repeat under one key?",
        {
            "a": "Only because equal plaintexts would then give equal ciphertexts, as with ECB",
            "b": "Two messages would share a key stream (their XOR leaks), and tags could then be forged",
            "c": "It need not, while the key stays secret: the nonce is public anyway",
        },
        "b",
        "A repeated nonce repeats the counter-mode key stream, and the two tags give away the GHASH key "
        "(Joux's 'forbidden attack'). With random 12-byte nonces, SP 800-38D limits one key to 2^32 messages.",
    ),
)
