"""The key ceremony (contract section 12): each SLIP-39 share sealed to its holder with HPKE (RFC 9180).

Holders' keys are made here with raw pyca/cryptography, so the tests also pin the PEM forms kmslib reads.
"""

from __future__ import annotations

import base64
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import pytest
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric import ec, mlkem, rsa, x25519

import kmslib
from helpers import KMSLIB_DIR, leaks
from kmslib import ArgumentTypeError, InvalidInputError, KeyCustodian, StoreError, UnsealError, ceremony, unsealing

PEM = serialization.Encoding.PEM
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
PKCS8 = serialization.PrivateFormat.PKCS8
CLEAR = serialization.NoEncryption()
#: The documented form of a sealed share (kmslib/ceremony.py's docstring).
SEALED = re.compile(
    r"kmslib-share-v1:(x25519|mlkem768-x25519):([0-9a-f]{32}):share-(\d+)-of-(\d+):threshold-(\d+):([A-Za-z0-9_-]+)"
)
FAILED = "the sealed share does not open with this private key"


def x25519_holder() -> tuple[str, str]:
    """(private PEM, public PEM) of an X25519 key, as pyca writes them."""
    key = x25519.X25519PrivateKey.generate()
    return (
        key.private_bytes(PEM, PKCS8, CLEAR).decode(),
        key.public_key().public_bytes(PEM, SPKI).decode(),
    )


def hybrid_holder() -> tuple[str, str]:
    """(private PEM, public PEM) of an ML-KEM-768+X25519 key: the ML-KEM-768 PEM block, then the X25519 one."""
    m, x = mlkem.MLKEM768PrivateKey.generate(), x25519.X25519PrivateKey.generate()
    return (
        m.private_bytes(PEM, PKCS8, CLEAR).decode() + x.private_bytes(PEM, PKCS8, CLEAR).decode(),
        m.public_key().public_bytes(PEM, SPKI).decode() + x.public_key().public_bytes(PEM, SPKI).decode(),
    )


#: Five holders: X25519, hybrid, X25519, hybrid, X25519.
KINDS = [x25519_holder, hybrid_holder, x25519_holder, hybrid_holder, x25519_holder]


class Ceremony:
    """A store made with five holders' public keys, threshold 3, and what each holder opened."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.keys = [kind() for kind in KINDS]
        self.sealed = kmslib.init_store(path, shares=5, threshold=3, share_recipients=[pub for _, pub in self.keys])
        self.opened = [
            kmslib.open_share(private, sealed) for (private, _), sealed in zip(self.keys, self.sealed, strict=True)
        ]


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Ceremony:
    return Ceremony(tmp_path_factory.mktemp("ceremony") / "team.db")


def store_id_of(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return str(db.execute("SELECT value FROM meta WHERE name = 'store_id'").fetchone()[0])
    finally:
        db.close()


def word_runs(mnemonic: str, length: int = 3) -> set[str]:
    """Every run of ``length`` consecutive words of ``mnemonic``, joined as a copy might join them."""
    words = mnemonic.split()
    runs: set[str] = set()
    for start in range(len(words) - length + 1):
        run = words[start : start + length]
        runs.update(joiner.join(run) for joiner in (" ", "", "-", "_"))
    return runs


def retagged(sealed: str, **fields: str) -> str:
    """``sealed`` with header fields replaced (kem, store, index, threshold), its payload kept."""
    match = SEALED.fullmatch(sealed)
    assert match is not None
    kem, store, index, count, threshold, payload = match.groups()
    kem, store = fields.get("kem", kem), fields.get("store", store)
    index, threshold = fields.get("index", index), fields.get("threshold", threshold)
    return f"kmslib-share-v1:{kem}:{store}:share-{index}-of-{count}:threshold-{threshold}:{payload}"


# ------------------------------------------------------------------------ the ceremony itself


def test_each_holder_opens_their_own_share_and_it_is_a_slip39_share(team: Ceremony) -> None:
    assert len(team.sealed) == 5
    assert len(set(team.opened)) == 5
    for number, (sealed, opened) in enumerate(zip(team.sealed, team.opened, strict=True), start=1):
        match = SEALED.fullmatch(sealed)
        assert match is not None, sealed[:60]
        kem, store, index, count, threshold, _ = match.groups()
        assert kem == ("mlkem768-x25519" if KINDS[number - 1] is hybrid_holder else "x25519")
        assert (store, index, count, threshold) == (store_id_of(team.path), str(number), "5", "3")
        assert len(opened.split()) == 33  # a SLIP-0039 share of a 256-bit secret
        assert unsealing.share_progress([opened]) == (1, 3)  # its checksum holds


@pytest.mark.parametrize("holders", [(0, 1, 2), (2, 3, 4), (0, 3, 4), (1, 2, 4)])
def test_any_three_holders_open_the_store(team: Ceremony, holders: tuple[int, ...]) -> None:
    with KeyCustodian.open(team.path, shares=[team.opened[i] for i in holders]) as kms:
        assert kms.list_keys() == ()


@pytest.mark.parametrize("holders", [(0, 1), (3, 4), (2,)])
def test_fewer_than_three_holders_do_not(team: Ceremony, holders: tuple[int, ...]) -> None:
    with pytest.raises(UnsealError, match="too few shares"):
        KeyCustodian.open(team.path, shares=[team.opened[i] for i in holders])


def test_the_return_value_holds_no_plaintext_share(team: Ceremony) -> None:
    returned = "\n".join(team.sealed)
    payloads = [base64.urlsafe_b64decode(s.rsplit(":", 1)[1] + "==") for s in team.sealed]
    for opened in team.opened:
        assert opened not in returned
        for run in word_runs(opened):
            assert run not in returned.lower()
            assert not any(run.encode() in payload for payload in payloads)  # not even inside the ciphertext
    assert all(SEALED.fullmatch(s) for s in team.sealed)  # nothing else is in there: the header and the payload


def test_a_holder_cannot_open_another_holders_share(team: Ceremony) -> None:
    secrets = [private.encode() for private, _ in team.keys] + [o.encode() for o in team.opened]
    for mine, theirs in ((0, 2), (2, 0), (1, 3), (3, 1), (0, 1), (1, 0), (4, 3)):  # same kind, and across kinds
        with pytest.raises(UnsealError) as caught:
            kmslib.open_share(team.keys[mine][0], team.sealed[theirs])
        assert str(caught.value).startswith(FAILED)  # one message, whatever the cause
        assert leaks(caught.value, secrets) == []
        assert holds_no_private_key(caught.value.__traceback__)


def holds_no_private_key(tb: TracebackType | None) -> bool:
    """No kmslib frame of the traceback keeps a private key object of any kind a holder may use."""
    kinds = (x25519.X25519PrivateKey, mlkem.MLKEM768PrivateKey, hpke.MLKEM768X25519PrivateKey)
    while tb is not None:
        in_kmslib = tb.tb_frame.f_code.co_filename.startswith(KMSLIB_DIR)
        if in_kmslib and any(isinstance(value, kinds) for value in tb.tb_frame.f_locals.values()):
            return False
        tb = tb.tb_next
    return True


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"), id="last payload character"),
        pytest.param(
            lambda s: (
                s[: s.rindex(":") + 40] + ("x" if s[s.rindex(":") + 40] != "x" else "y") + s[s.rindex(":") + 41 :]
            ),
            id="a character of the encapsulated key",
        ),
        pytest.param(lambda s: s[:-20], id="truncated"),
        pytest.param(lambda s: s[: s.rindex(":") + 30], id="cut to its encapsulated key's start"),
        pytest.param(lambda s: retagged(s, index="2"), id="share index relabelled"),
        pytest.param(lambda s: retagged(s, threshold="2"), id="threshold relabelled"),
        pytest.param(lambda s: retagged(s, store="0" * 32), id="store id relabelled"),
        pytest.param(lambda s: retagged(s, kem="mlkem768-x25519"), id="KEM relabelled"),
    ],
)
def test_a_tampered_or_truncated_sealed_share_is_one_unseal_error(team: Ceremony, change: Callable[[str], str]) -> None:
    private, sealed = team.keys[0][0], team.sealed[0]
    with pytest.raises(UnsealError) as caught:
        kmslib.open_share(private, change(sealed))
    assert str(caught.value).startswith(FAILED)
    assert leaks(caught.value, [private.encode(), team.opened[0].encode()]) == []
    assert holds_no_private_key(caught.value.__traceback__)
    assert kmslib.open_share(private, sealed) == team.opened[0]  # the original still opens


def test_a_share_relabelled_as_another_stores_is_refused(team: Ceremony, tmp_path: Path) -> None:
    keys = [team.keys[0], x25519_holder()]  # the team's first holder holds a share of another store too
    other = tmp_path / "other.db"
    theirs = kmslib.init_store(other, shares=2, threshold=2, share_recipients=[pub for _, pub in keys])
    assert store_id_of(other) != store_id_of(team.path)
    # the store id is bound into HPKE's info: a share relabelled with the other store's id does not open
    with pytest.raises(UnsealError, match=FAILED):
        kmslib.open_share(team.keys[0][0], retagged(team.sealed[0], store=store_id_of(other)))
    with pytest.raises(UnsealError, match=FAILED):
        kmslib.open_share(team.keys[0][0], retagged(theirs[0], store=store_id_of(team.path)))
    mine = kmslib.open_share(team.keys[0][0], theirs[0])
    assert mine != team.opened[0]
    with pytest.raises(UnsealError):  # and a share of one store does not count towards the other
        KeyCustodian.open(team.path, shares=[mine, team.opened[1], team.opened[2]])


def test_a_forged_share_opens_but_does_not_unseal(team: Ceremony) -> None:
    # HPKE's base mode does not authenticate the sender: anyone with a holder's public key can seal text to them
    forged = unsealing.split_unseal_key(bytes(32), 5, 3)[0]
    header = f"kmslib-share-v1:x25519:{store_id_of(team.path)}:share-1-of-5:threshold-3"
    public = serialization.load_pem_public_key(team.keys[0][1].encode())
    assert isinstance(public, x25519.X25519PublicKey)
    suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    payload = suite.encrypt(forged.encode(), public, info=header.encode())
    sealed = f"{header}:{base64.urlsafe_b64encode(payload).decode().rstrip('=')}"
    assert kmslib.open_share(team.keys[0][0], sealed) == forged
    with pytest.raises(UnsealError):
        KeyCustodian.open(team.path, shares=[forged, team.opened[1], team.opened[2]])


@pytest.mark.parametrize("holder", [0, 1])
def test_raw_pyca_hpke_opens_a_sealed_share_as_documented(team: Ceremony, holder: int) -> None:
    header, payload = team.sealed[holder].rsplit(":", 1)
    kem_name = header.split(":")[1]
    ciphertext = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    blocks = re.findall(r"-----BEGIN PRIVATE KEY-----.+?-----END PRIVATE KEY-----", team.keys[holder][0], re.S)
    loaded = [serialization.load_pem_private_key(block.encode(), None) for block in blocks]
    key: x25519.X25519PrivateKey | hpke.MLKEM768X25519PrivateKey
    if kem_name == "x25519":
        kem, [key] = hpke.KEM.X25519, loaded  # type: ignore[assignment]
    else:
        kem, key = hpke.KEM.MLKEM768_X25519, hpke.MLKEM768X25519PrivateKey(*loaded)  # type: ignore[arg-type]
    suite = hpke.Suite(kem, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    assert suite.decrypt(ciphertext, key, info=header.encode("ascii")).decode() == team.opened[holder]


def test_a_sealed_share_copied_with_line_breaks_and_spaces_still_opens(team: Ceremony) -> None:
    sealed = team.sealed[1]
    wrapped = "  " + "\n".join(sealed[i : i + 64] for i in range(0, len(sealed), 64)) + "\n"
    assert kmslib.open_share(team.keys[1][0].encode(), wrapped) == team.opened[1]  # bytes PEM too


# ------------------------------------------------------------------------ what open_share refuses


@pytest.mark.parametrize(
    ("sealed", "error", "match"),
    [
        ("kmslib-share-v2:x25519:" + "0" * 32 + ":share-1-of-5:threshold-3:AAAA", InvalidInputError, "v2.*reads v1"),
        ("vault:v1:AAAA", InvalidInputError, "not a kmslib sealed share"),
        ("kmslib-share-v1:rsa:" + "0" * 32 + ":share-1-of-5:threshold-3:AAAA", InvalidInputError, "KEM"),
        ("kmslib-share-v1:x25519:nothex:share-1-of-5:threshold-3:AAAA", InvalidInputError, "malformed"),
        ("kmslib-share-v1:x25519:" + "0" * 32 + ":share-1-of-5:AAAA", InvalidInputError, "malformed"),
        ("kmslib-share-v1:x25519:" + "0" * 32 + ":share-1-of-5:threshold-3:" + "A" * 5000, InvalidInputError, "longer"),
        (b"kmslib-share-v1", ArgumentTypeError, "sealed must be a str"),
        (None, ArgumentTypeError, "sealed must be a str"),
    ],
)
def test_open_share_refuses_what_is_not_a_sealed_share(
    team: Ceremony, sealed: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match) as caught:
        kmslib.open_share(team.keys[0][0], sealed)  # type: ignore[arg-type]
    assert leaks(caught.value, [team.keys[0][0].encode()]) == []


def test_open_share_refuses_what_is_not_a_holders_private_key(team: Ceremony) -> None:
    rsa_private = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(PEM, PKCS8, CLEAR)
    x = x25519.X25519PrivateKey.generate()
    encrypted = x.private_bytes(PEM, PKCS8, serialization.BestAvailableEncryption(b"pw")).decode()
    cases: list[tuple[object, type[Exception], str]] = [
        (team.keys[0][1], InvalidInputError, "is a public key"),
        (rsa_private.decode(), InvalidInputError, "not a private key of a supported type"),
        (encrypted, InvalidInputError, "not a private key of a supported type"),
        ("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n", InvalidInputError, "not a private"),
        ("garbage", InvalidInputError, "not a PEM"),
        ("-----BEGIN PRIVATE KEY-----\n" + "A" * 20000, InvalidInputError, "longer"),
        (42, ArgumentTypeError, "private_key_pem must be a str or bytes"),
    ]
    for private, error, match in cases:
        with pytest.raises(error, match=match) as caught:
            kmslib.open_share(private, team.sealed[0])  # type: ignore[arg-type]
        text = private.decode() if isinstance(private, bytes) else str(private)
        assert not any(line in str(caught.value) for line in text.splitlines() if len(line) > 20)
        if len(text) >= 20:  # a short text ("42") may occur by chance inside the sealed share's base64
            assert leaks(caught.value, [text.encode()]) == []


# ------------------------------------------------------------------------ what init_store refuses, writing nothing


def _recipients_cases() -> list[tuple[str, Callable[[list[str]], object], type[Exception], str]]:
    rsa_public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(PEM, SPKI)
    ec_public = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(PEM, SPKI)
    low_order = x25519.X25519PublicKey.from_public_bytes(bytes(32)).public_bytes(PEM, SPKI).decode()
    lone_mlkem = mlkem.MLKEM768PrivateKey.generate().public_key().public_bytes(PEM, SPKI).decode()

    def swap(keys: list[str], index: int, value: object) -> list[object]:
        return [value if i == index else key for i, key in enumerate(keys)]

    def reversed_hybrid(keys: list[str]) -> list[object]:
        blocks = re.findall(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----\n", keys[1], re.S)
        return swap(keys, 1, blocks[1] + blocks[0])

    def shared_x25519_part(keys: list[str]) -> list[object]:
        blocks = re.findall(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----\n", keys[1], re.S)
        return swap(keys, 4, blocks[1])  # recipient 4 is recipient 1's X25519 half

    return [
        ("four keys for five shares", lambda k: k[:4], InvalidInputError, "4 public keys.*shares=5"),
        ("six keys for five shares", lambda k: [*k, k[0]], InvalidInputError, "6 public keys.*shares=5"),
        ("a string", lambda k: k[0], ArgumentTypeError, "share_recipients must be a list"),
        ("an int item", lambda k: swap(k, 2, 7), ArgumentTypeError, r"share_recipients\[2\] must be a str"),
        (
            "a private key",
            lambda k: swap(k, 3, x25519_holder()[0]),
            InvalidInputError,
            r"share_recipients\[3\] is a private key",
        ),
        (
            "an RSA key",
            lambda k: swap(k, 2, rsa_public.decode()),
            InvalidInputError,
            r"share_recipients\[2\] is an RSA public key",
        ),
        ("an EC key", lambda k: swap(k, 0, ec_public), InvalidInputError, r"share_recipients\[0\] is an EC public key"),
        (
            "a lone ML-KEM key",
            lambda k: swap(k, 1, lone_mlkem),
            InvalidInputError,
            r"share_recipients\[1\] is an ML-KEM-768 key alone",
        ),
        (
            "a hybrid in the wrong order",
            reversed_hybrid,
            InvalidInputError,
            r"share_recipients\[1\].*ML-KEM-768.*first",
        ),
        ("garbage", lambda k: swap(k, 4, "hello"), InvalidInputError, r"share_recipients\[4\] is not a PEM"),
        (
            "a damaged PEM",
            lambda k: swap(k, 4, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
            InvalidInputError,
            r"share_recipients\[4\] is not a public key",
        ),
        ("too long", lambda k: swap(k, 0, "A" * 100_000), InvalidInputError, r"share_recipients\[0\] is longer"),
        (
            "a low-order X25519 key",
            lambda k: swap(k, 2, low_order),
            InvalidInputError,
            r"share_recipients\[2\] cannot be sealed to",
        ),
        (
            "one key twice",
            lambda k: swap(k, 4, k[0]),
            InvalidInputError,
            r"share_recipients\[4\] repeats.*share_recipients\[0\]",
        ),
        (
            "one key twice, as bytes",
            lambda k: swap(k, 2, k[0].encode()),
            InvalidInputError,
            r"share_recipients\[2\] repeats.*share_recipients\[0\]",
        ),
        ("one hybrid twice", lambda k: swap(k, 3, k[1]), InvalidInputError, r"share_recipients\[3\] repeats"),
        ("one X25519 half twice", shared_x25519_part, InvalidInputError, r"share_recipients\[4\] repeats"),
    ]


@pytest.mark.parametrize(
    ("change", "error", "match"), [pytest.param(*case[1:], id=case[0]) for case in _recipients_cases()]
)
def test_bad_recipients_are_refused_before_any_file_is_created(
    tmp_path: Path, change: Callable[[list[str]], object], error: type[Exception], match: str
) -> None:
    keys = [kind()[1] for kind in KINDS]
    recipients = change(keys)
    with pytest.raises(error, match=match) as caught:
        kmslib.init_store(tmp_path / "team.db", shares=5, threshold=3, share_recipients=recipients)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
    assert len(str(caught.value)) < 300  # names the argument and index; never repeats a PEM
    assert "MC" not in str(caught.value)  # base64 of an X25519 or ML-KEM SubjectPublicKeyInfo starts with MC or MI
    assert "MI" not in str(caught.value)
    assert "AAAA" not in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"passphrase": "pw"}, "share_recipients= goes with shares="),
        ({"passphrase": "pw", "shares": None}, "share_recipients= goes with shares="),
    ],
)
def test_recipients_need_shares(tmp_path: Path, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        kmslib.init_store(tmp_path / "team.db", share_recipients=[x25519_holder()[1]] * 2, **kwargs)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------ the plaintext shares never leave


def spy_on_shares(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[bytes]]:
    """Record every plaintext share and unseal key that init_store makes (to look for them afterwards)."""
    made: list[str] = []
    unseal_keys: list[bytes] = []
    split = unsealing.split_unseal_key

    def spy(*args: object) -> list[str]:
        unseal_keys.append(args[0])  # type: ignore[arg-type]
        made.extend(split(*args))  # type: ignore[arg-type]
        return made[-5:]

    monkeypatch.setattr(unsealing, "split_unseal_key", spy)
    return made, unseal_keys


def test_no_plaintext_share_survives_a_failed_init_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made, unseal_keys = spy_on_shares(monkeypatch)
    keys = [kind()[1] for kind in KINDS]
    with pytest.raises(StoreError, match="could not be created") as caught:  # no such folder: the file cannot be made
        kmslib.init_store(tmp_path / "missing" / "team.db", shares=5, threshold=3, share_recipients=keys)
    assert len(made) == 5
    assert leaks(caught.value, [m.encode() for m in made] + unseal_keys) == []
    assert not any(run in str(caught.value) for m in made for run in word_runs(m))


def test_no_plaintext_share_survives_a_failure_while_sealing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made, unseal_keys = spy_on_shares(monkeypatch)
    sealing: list[object] = []  # HPKE calls made once the shares exist (checking the recipients seals too)
    suite = ceremony._suite

    class Failing:
        """HPKE that runs out of memory on the third share, inside kmslib's frame that holds it."""

        def __init__(self, kem: str) -> None:
            self.real = suite(kem)

        def encrypt(self, plaintext: bytes, key: object, info: bytes) -> bytes:
            if made:
                sealing.append(plaintext)
                if len(sealing) == 3:
                    raise MemoryError
            return bytes(self.real.encrypt(plaintext, key, info=info))

    monkeypatch.setattr(ceremony, "_suite", Failing)
    keys = [kind()[1] for kind in KINDS]
    with pytest.raises(MemoryError) as caught:
        kmslib.init_store(tmp_path / "team.db", shares=5, threshold=3, share_recipients=keys)
    assert len(made) == 5
    assert len(sealing) == 3
    assert list(tmp_path.iterdir()) == []
    assert leaks(caught.value, [m.encode() for m in made] + unseal_keys) == []


# ------------------------------------------------------------------------ rekey to sealed shares


def test_rekey_seals_the_new_shares_to_their_holders(tmp_path: Path) -> None:
    path = tmp_path / "team.db"
    old = kmslib.init_store(path, shares=3, threshold=2)
    holders = [hybrid_holder(), x25519_holder(), hybrid_holder(), x25519_holder()]
    with KeyCustodian.open(path, shares=old[:2]) as kms:
        kms.establish_aes_key("payroll")
        token = kms.encrypt_data_aes("payroll", "salary data")
        with pytest.raises(InvalidInputError, match=r"3 public keys.*shares=4"):  # refused before anything changes
            kms.rekey(old[:2], shares=4, threshold=2, share_recipients=[pub for _, pub in holders[:3]])
        sealed = kms.rekey(old[:2], shares=4, threshold=2, share_recipients=[pub for _, pub in holders])
    assert all(SEALED.fullmatch(s) for s in sealed)
    assert {SEALED.fullmatch(s).group(2) for s in sealed} == {store_id_of(path)}  # type: ignore[union-attr]
    opened = [kmslib.open_share(private, s) for (private, _), s in zip(holders, sealed, strict=True)]
    with pytest.raises(UnsealError):
        KeyCustodian.open(path, shares=old[:2])
    with KeyCustodian.open(path, shares=opened[2:]) as kms:
        assert kms.decrypt_data_aes("payroll", token) == "salary data"


def test_rekey_to_a_passphrase_refuses_recipients(tmp_path: Path) -> None:
    path = tmp_path / "team.db"
    old = kmslib.init_store(path, shares=3, threshold=2)
    with (
        KeyCustodian.open(path, shares=old[:2]) as kms,
        pytest.raises(InvalidInputError, match="share_recipients= goes with shares="),
    ):
        kms.rekey(old[:2], passphrase="pw", share_recipients=[x25519_holder()[1]])
    with KeyCustodian.open(path, shares=old[1:]):  # the old shares still open it: nothing changed
        pass


# ------------------------------------------------------------------------ holders' keys, and layering


@pytest.mark.parametrize("kem", ["x25519", "mlkem768-x25519"])
def test_holder_keys_makes_keys_in_the_documented_forms(tmp_path: Path, kem: str) -> None:
    private, public = ceremony.holder_keys(kem)
    blocks = re.findall(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", public, re.S)
    loaded = [serialization.load_pem_public_key(block.encode()) for block in blocks]
    expected = [x25519.X25519PublicKey] if kem == "x25519" else [mlkem.MLKEM768PublicKey, x25519.X25519PublicKey]
    assert len(loaded) == len(expected)
    assert all(isinstance(key, kind) for key, kind in zip(loaded, expected, strict=True))
    other = ceremony.holder_keys("x25519")[1]
    sealed = kmslib.init_store(tmp_path / "team.db", shares=2, threshold=2, share_recipients=[public, other])
    assert SEALED.fullmatch(sealed[0]).group(1) == kem  # type: ignore[union-attr]
    assert len(kmslib.open_share(private, sealed[0]).split()) == 33
    with pytest.raises(InvalidInputError, match="kem must be"):
        ceremony.holder_keys("rsa")


def test_open_share_loads_neither_sqlite3_nor_shamir_mnemonic(team: Ceremony) -> None:
    code = (
        "import sys, kmslib;"
        f"share = kmslib.open_share({team.keys[1][0]!r}, {team.sealed[1]!r});"
        "print(len(share.split()), 'sqlite3' in sys.modules, 'shamir_mnemonic' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["33", "False", "False"]
