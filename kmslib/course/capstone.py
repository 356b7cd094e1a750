"""The capstone: a stolen shop terminal, and the decisions of the response (see :mod:`kmslib.course.exercises`).

:func:`incident` builds head office's custodian as it stands when the theft is reported: three days of
history in its audit log. The exercises ask the student to decide, and judge the decisions from the
custodian's state and its audit log, never from the tries that led there (a refused or wrong try spoils
nothing, and checking again gives the same verdict). A revocation counts when the log records it
(``invalidate_key``, or ``mark_compromised`` for the stolen link), not when a key record was changed by hand:

- ``q1`` (forensics): from the audit log, since when the stolen link's traffic is exposed, how many tokens
  crossed the network under it, and which versions of the archive KEK wrapped the copies on the terminal;
- ``q2`` (revoke or rotate): revoke the stolen link key (or mark it compromised); rotate the archive KEK, rewrap
  head office's envelopes, then revoke the versions that wrapped the stolen copies; leave alone what was never
  exposed. Each revocation counts when the log shows it made by the responder (``case.responder``, an
  administrator under head office's key policy, :data:`POLICY`) after an approval of its own by the security
  officer (``case.second_approver``): dual control, which the owner's custodian would bypass;
- ``q3`` (enrolment): of two terminals that say they are the replacement, the genuine one enrolls by a
  signed, transcript-bound exchange (:mod:`kmslib.kex`), checked against the identity key on the installer's
  sheet; the thief, who holds the stolen terminal's identity key, does not;
- ``q4`` (the audit): a checkpoint signed with the auditor's key after the response, so that it covers the
  whole story, which the auditor checks with the checkpoint kept from before and the key that head office's root
  CA certified for ``auditor``, once a fresh CRL says that certificate is good (:mod:`kmslib.relying`): a
  revocation or compromise of the auditor key in head office's custodian revokes that certificate at once.
"""

from __future__ import annotations

import hashlib
import itertools
import weakref
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kmslib.audit import AuditEntry, AuditLog
from kmslib.course.exercises import (
    Exercise,
    Question,
    Quiz,
    as_checker,
    blank,
    indices,
    kind,
    student_custodian,
    student_entries,
    whole,
)
from kmslib.course.lesson04 import _REASON_RULE, _says_something  # one rule for every reason
from kmslib.custodian import KeyCustodian
from kmslib.envelope import split
from kmslib.errors import KeyRevokedError, KMSError
from kmslib.kex import Transcript, sign_transcript, verify_transcript
from kmslib.pki import CertificateAuthority
from kmslib.principals import PrincipalView
from kmslib.relying import certified_key
from kmslib.tokens import parse_token

__all__ = [
    "AUDITOR",
    "HQ_ROOT",
    "OFFICER",
    "POLICY",
    "RESPONDER",
    "HQ",
    "HQ_ID",
    "EXERCISES",
    "Incident",
    "Terminal",
    "incident",
    "q1",
    "q2",
    "q3",
    "q4",
    "quiz",
]

#: Head office's identity in key exchanges, and the ids of its keys.
HQ = "head-office"
HQ_ID = "hq-id"  # head office's signing key for key exchanges; terminals hold its public key
AUDITOR = "auditor"  # the signing key for audit checkpoints only; the auditor holds its certificate
HQ_ROOT = "hq-root"  # head office's root CA key (kmslib.pki): it certifies the auditor key
ARCHIVE = "archive"  # the key-encryption key of head office's envelopes
STOLEN_LINK = "link-1"  # agreed with shop-1's terminal, the one stolen
OTHER_LINK = "link-2"  # agreed with shop-2's terminal, which was not
#: When the theft was reported (the terminal went missing that evening).
REPORTED = datetime(2026, 1, 7, 19, 0, tzinfo=UTC)
_DAYS = ("2026-01-05", "2026-01-06", "2026-01-07")
#: The principals of the response: the student works as the responder; revoking needs the officer's approval.
RESPONDER = "responder"
OFFICER = "security-officer"
#: Head office's key policy, on every one of its keys (:mod:`kmslib.policy`). The responder administers keys
#: and uses none (separation of duties; rewrapping, ``kms:ReEncrypt``, returns no plaintext); a revocation, or a
#: mark of compromise, needs one approval by another principal the policy names for it (dual control: NIST SP
#: 800-57 Part 2 Rev. 1, SP 800-130); the security officer cannot act alone either.
POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ResponderAdministers",
            "Effect": "Allow",
            "Principal": RESPONDER,
            "Action": [
                "kms:DescribeKey",
                "kms:GetKeyPolicy",
                "kms:RotateKey",
                "kms:ReEncrypt",
                "kms:DisableKey",
                "kms:EnableKey",
                "kms:DeactivateKey",
            ],
        },
        {
            "Sid": "RevocationNeedsASecondApprover",
            "Effect": "Allow",
            "Principal": [RESPONDER, OFFICER],
            "Action": ["kms:RevokeKey", "kms:MarkCompromised"],
            "Condition": {"NumericGreaterThanEquals": {"kmslib:Approvals": 1}},
        },
        {"Sid": "OfficerReads", "Effect": "Allow", "Principal": OFFICER, "Action": ["kms:DescribeKey"]},
    ],
}
_RESTART = "run the incident cell again (case = capstone.incident()) to start over"


class _Clock:
    """The incident's clock: it jumps to the times of the story, and ticks a minute per reading."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def at(self, when: datetime) -> None:
        self.now = when

    def __call__(self) -> datetime:
        current = self.now
        self.now = current + timedelta(minutes=1)
        return current


@dataclass
class _Facts:
    """What the incident's log shows, computed when it was built; checkers compare answers with it."""

    reported: int  # the number of entries when the theft was reported
    since: datetime  # link-1's making
    first_use: datetime  # its first token
    tokens: int
    versions: frozenset[int]
    plaintexts: dict[str, bytes]  # head office's envelopes' contents (SHA-256), by name
    bodies: dict[str, bytes]  # and their nonce, ciphertext and tag
    auditor_pem: str
    hq_pem: str
    earlier: str  # the checkpoint the auditor kept from 5 January
    authority: CertificateAuthority | None = None  # head office's root CA
    auditor_certificate: str = ""
    genuine: Terminal | None = None
    impostor: Terminal | None = None


_FACTS: weakref.WeakKeyDictionary[KeyCustodian, _Facts] = weakref.WeakKeyDictionary()


class Terminal:
    """A terminal that says it is shop-1's replacement, played by the checker: it starts a signed X25519 exchange.

    Each holds head office's exchange-signing public key (``hq-id``'s, installed at the factory) and a signing
    key of its own. The genuine replacement's public half is on the installer's sheet, handed to head office
    out of band (``case.installer_sheet``); the thief's terminal signs with the identity key of the terminal he
    stole, and says it is the replacement all the same.

    Attributes:
        name: the identity it claims in the exchange (the transcript's initiator).
        public: its ephemeral X25519 public key, the first message it sends.
        identity: the signing public key (PEM) it claims as its own: a claim, not proof.
    """

    name = "shop-1-replacement"

    def __init__(self, hq_pem: str, *, custodian: KeyCustodian | None = None) -> None:
        self._custodian = custodian or KeyCustodian()  # its own, in memory (the thief's: the stolen one)
        if "terminal-id" not in self._custodian:
            self._custodian.generate_signing_key("terminal-id")
        self.identity = self._custodian.export_public_key("terminal-id")
        pair: tuple[Any, Any] = self._custodian.generate_diffie_hellman_params_and_key(group="x25519")
        self._private, self.public = pair
        self._hq_pem = hq_pem
        self._links = itertools.count(1)
        self._fingerprints: list[str] = []

    @property
    def fingerprints(self) -> tuple[str, ...]:
        """The fingerprints of the keys it derived, one per exchange it accepted."""
        return tuple(self._fingerprints)

    def answer(self, hq_public: object, signature: object) -> str | None:
        """The terminal's turn: check head office's signature, derive the key, and sign as initiator.

        Args:
            hq_public: head office's ephemeral public key in this exchange.
            signature: head office's signature over the transcript, as responder, with ``hq-id``.

        Returns:
            The terminal's own signature over the same transcript (its confirmation), or ``None`` if it
            refused; it then says why.
        """
        if hq_public is blank or signature is blank:
            print("✘ The terminal waits: replace the blanks ____ with head office's public key and signature.")
            return None
        try:
            transcript = Transcript.of(self.public, hq_public, initiator=self.name, responder=HQ)
            if not isinstance(signature, str):
                raise TypeError
            verify_transcript(self._hq_pem, transcript, signature, role="responder")
        except (KMSError, TypeError):
            print(
                "✘ The terminal refused: head office's signature, made with hq-id as responder, does not verify "
                f"over the transcript it built (initiator {self.name!r}, responder {HQ!r}, its public key, "
                "then head office's)."
            )
            return None
        link = f"link#{next(self._links)}"  # a fresh id for each exchange: a wrong try spoils nothing
        info = self._custodian.derive_shared_key(link, self._private, hq_public, transcript=transcript)
        self._fingerprints.append(info.fingerprint)
        return sign_transcript(self._custodian, "terminal-id", transcript, role="initiator")

    def __repr__(self) -> str:
        return f"Terminal(says it is {self.name!r})"


@dataclass
class Incident:
    """Head office when the theft is reported.

    Attributes:
        hq: head office's custodian (in memory, on the incident's clock).
        archive: head office's envelopes, by name; each is bound to its name as associated data.
        on_the_terminal: the copies of envelopes that were on the stolen terminal (the thief has them).
        auditor_checkpoint: the checkpoint the auditor was given on 5 January.
        auditor_public_key: the ``auditor`` key's public half, as its certificate names it.
        auditor_certificate: the ``auditor`` key's certificate (PEM), issued by head office's root CA.
        authority: head office's root CA (key ``hq-root``): its certificate is the auditor's trust anchor, and
            its CRL says whether the auditor key's certificate is still good.
        arrivals: two terminals that say they are shop-1's replacement, waiting to enroll (exercise 3).
        installer_sheet: the genuine replacement's identity public key (PEM), from the installer, on paper.
        responder: head office's custodian acting as the principal ``"responder"`` (the student, an
            administrator under :data:`POLICY`): exercise 2's calls.
        second_approver: head office's custodian acting as ``"security-officer"``, who approves a revocation's
            request (``approve(request_id)``).
    """

    hq: KeyCustodian
    archive: dict[str, bytes]
    on_the_terminal: dict[str, bytes]
    auditor_checkpoint: str
    auditor_public_key: str
    arrivals: tuple[Terminal, Terminal] = field(repr=False)
    installer_sheet: str = field(repr=False)
    responder: KeyCustodian = field(repr=False)
    second_approver: KeyCustodian = field(repr=False)
    auditor_certificate: str = field(repr=False, default="")
    authority: CertificateAuthority | None = field(repr=False, default=None)

    def __repr__(self) -> str:
        return f"Incident(hq={self.hq!r}, archive={sorted(self.archive)}, reported={REPORTED:%Y-%m-%d %H:%M} UTC)"


def _enroll(hq: KeyCustodian, hq_pem: str, terminal: KeyCustodian, name: str, link: str) -> None:
    """A signed X25519 exchange between a terminal (initiator) and head office, as in exercise 3."""
    terminal.generate_signing_key("terminal-id")
    terminal_pem = terminal.export_public_key("terminal-id")  # the installer's paper
    private, public = terminal.generate_diffie_hellman_params_and_key(group="x25519")
    hq_private, hq_public = hq.generate_diffie_hellman_params_and_key(group="x25519")
    transcript = Transcript.of(public, hq_public, initiator=name, responder=HQ)
    signature = sign_transcript(hq, HQ_ID, transcript, role="responder")
    verify_transcript(hq_pem, transcript, signature, role="responder")
    terminal.derive_shared_key(link, private, hq_public, transcript=transcript)
    confirmation = sign_transcript(terminal, "terminal-id", transcript, role="initiator")
    verify_transcript(terminal_pem, transcript, confirmation, role="initiator")
    hq.derive_shared_key(link, hq_private, public, transcript=transcript)
    hq.set_key_policy(link, POLICY)


def incident() -> Incident:
    """Head office's custodian and records when shop-1's terminal is reported stolen (7 January, 19:00 UTC).

    The story in its audit log: on 5 January head office makes its archive KEK, its exchange-signing key
    ``hq-id`` and the ``auditor`` key, hands out their public keys, archives two records of 2025 under the
    KEK's version 1, and gives the auditor a signed checkpoint. At 10:00 the KEK's scheduled rotation makes
    version 2; shop-2's terminal enrolls as ``link-2`` at 11:00, shop-1's as ``link-1`` at 13:00, each by a
    signed exchange. Each day at 17:00 both shops send their figures; shop-1 gets the price list, and head
    office archives its figures in an envelope and sends shop-1 a copy. On 6 January the KEK rotates to
    version 3. On the evening of 7 January shop-1's terminal is stolen. Every key gets head office's key
    policy (:data:`POLICY`) when it is made, and the responder and the security officer their credentials.
    """
    clock = _Clock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    hq = KeyCustodian(clock=clock)
    responder, officer = (hq.as_principal(hq.issue_credential(name)) for name in (RESPONDER, OFFICER))
    hq.establish_aes_key(ARCHIVE)
    hq.generate_signing_key(HQ_ID)
    hq.generate_signing_key(AUDITOR, algorithm="ecdsa-p256-sha256")
    hq.generate_signing_key(HQ_ROOT, algorithm="ecdsa-p256-sha256")
    for key_id in (ARCHIVE, HQ_ID, AUDITOR, HQ_ROOT):
        hq.set_key_policy(key_id, POLICY)
    authority = CertificateAuthority.create_root(hq, HQ_ROOT, subject="CN=Head Office Root CA,O=Example", days=3650)
    auditor_certificate = authority.issue(AUDITOR, subject="CN=auditor,O=Example", days=365)
    hq_pem, auditor_pem = hq.export_public_key(HQ_ID), hq.export_public_key(AUDITOR)  # terminals', the auditor's
    records = {"2025/annual-report": b"revenue 14.2M", "2025/payroll": b"total 3.1M"}
    archive = {name: bytes(hq.encrypt_envelope(ARCHIVE, data, associated_data=name)) for name, data in records.items()}
    earlier = hq.sign_audit_checkpoint(AUDITOR)
    clock.at(datetime(2026, 1, 5, 10, 0, tzinfo=UTC))
    hq.rotate_key(ARCHIVE)
    shop1, shop2 = KeyCustodian(), KeyCustodian()
    clock.at(datetime(2026, 1, 5, 11, 0, tzinfo=UTC))
    _enroll(hq, hq_pem, shop2, "shop-2", OTHER_LINK)
    clock.at(datetime(2026, 1, 5, 13, 0, tzinfo=UTC))
    _enroll(hq, hq_pem, shop1, "shop-1", STOLEN_LINK)
    on_the_terminal: dict[str, bytes] = {}
    for number, day in enumerate(_DAYS):
        if number == 1:
            clock.at(datetime(2026, 1, 6, 8, 0, tzinfo=UTC))
            hq.rotate_key(ARCHIVE)
        clock.at(datetime.fromisoformat(day).replace(hour=17, tzinfo=UTC))
        for link, shop, sales in ((STOLEN_LINK, shop1, 1840 + 310 * number), (OTHER_LINK, shop2, 990 + 45 * number)):
            figures = shop.encrypt_data_aes(link, f"sales={sales}", associated_data=day)
            received = hq.decrypt_data_aes(link, figures, associated_data=day)
            if link == STOLEN_LINK:
                name = f"shop-1/{day}"
                records[name] = received.encode()
                archive[name] = bytes(hq.encrypt_envelope(ARCHIVE, records[name], associated_data=name))
                on_the_terminal[name] = bytes(archive[name])
        hq.encrypt_data_aes(STOLEN_LINK, "prices: coffee 2.40, tea 2.10", associated_data=day)
    clock.at(REPORTED)
    genuine, impostor = Terminal(hq_pem), Terminal(hq_pem, custodian=shop1)  # the thief holds shop-1's
    facts = _facts(hq, records=records, archive=archive, pems=(hq_pem, auditor_pem), earlier=earlier)
    facts.genuine, facts.impostor = genuine, impostor
    facts.authority, facts.auditor_certificate = authority, auditor_certificate
    _FACTS[hq] = facts
    arrivals = (impostor, genuine)  # the thief is quicker
    return Incident(
        hq,
        dict(archive),
        dict(on_the_terminal),
        earlier,
        auditor_pem,
        arrivals,
        genuine.identity,
        responder,
        officer,
        auditor_certificate,
        authority,
    )


def _facts(
    hq: KeyCustodian,
    *,
    records: Mapping[str, bytes],
    archive: Mapping[str, bytes],
    pems: tuple[str, str],
    earlier: str,
) -> _Facts:
    """The answers, read from the log as the student is asked to (a test reads them independently)."""
    log = list(hq.audit_log)
    link = [e for e in log if e.key_id == STOLEN_LINK and e.outcome == "ok"]
    since = link[0].time
    tokens = [e for e in link if e.operation in {"encrypt_data_aes", "decrypt_data_aes"}]
    versions = {
        e.version
        for e in log
        if e.key_id == ARCHIVE and e.operation == "encrypt_envelope" and e.outcome == "ok" and e.time >= since
    }
    bodies = {}
    for name, envelope in archive.items():
        parts = split(memoryview(envelope))
        assert parts is not None
        bodies[name] = bytes(parts[1])
    return _Facts(
        reported=len(log),
        since=since,
        first_use=tokens[0].time,
        tokens=len(tokens),
        versions=frozenset(v for v in versions if v is not None),
        plaintexts={name: hashlib.sha256(data).digest() for name, data in records.items()},
        bodies=bodies,
        auditor_pem=pems[1],
        hq_pem=pems[0],
        earlier=earlier,
    )


def _facts_of(kms: object) -> tuple[KeyCustodian, _Facts]:
    """The incident's custodian and its facts; a ``TypeError`` (the checker's plain words) for anything else."""
    if isinstance(kms, PrincipalView):
        raise TypeError(
            f"pass hq, head office's custodian (case.hq), not the view acting as {kms.principal!r}: the checker "
            "reads hq's keys and its audit log, which names who did what"
        )
    custodian = student_custodian(kms)
    facts = _FACTS.get(custodian)
    if facts is None:
        raise TypeError("pass hq, head office's custodian from capstone.incident() (case.hq), not another one")
    return custodian, facts


# ---------------------------------------------------------------- q1: what was exposed


def _versions(value: object) -> set[int] | None:
    """A collection of version numbers (any collection: a set, a list, a range) as a set, or ``None``."""
    return indices(value)


def _moment(value: datetime) -> datetime | None:
    """A timezone-aware time as a plain UTC datetime (a subclass's own comparisons judge nothing), or ``None``."""
    try:
        if value.utcoffset() is None:
            return None
        return datetime.fromtimestamp(datetime.timestamp(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):  # a tzinfo that answers nonsense, a year out of range
        return None


def _check_q1(kms: object, since: object, tokens: object, versions: object) -> str | None:  # noqa: PLR0911
    _, facts = _facts_of(kms)
    if not isinstance(since, datetime):
        return f"since should be a time read from the log (an entry's .time, a datetime), not {kind(since)}."
    moment = _moment(since)
    if moment is None:
        return "since should be timezone-aware, as the log's entry.time is: read it from the entry."
    since = moment
    if since > REPORTED - timedelta(hours=3):
        return (
            "the thief holds the key itself, and whoever recorded the network holds every token sent under it: "
            "the exposure does not start with the theft. Since when could a token on link-1 be read?"
        )
    if since > facts.first_use:
        return "link-1 carried tokens before that time: look for the first entry of link-1 in the log."
    if since < facts.since - timedelta(minutes=10):
        return "link-1 did not exist yet at that time: nothing under it could be exposed before it was agreed."
    count = whole(tokens)
    if count is None:
        return f"tokens should be a number (how many tokens crossed the network under link-1), not {kind(tokens)}."
    if count != facts.tokens:
        return (
            "count the tokens that crossed the network under link-1: every successful encrypt_data_aes (head "
            "office's to the shop) and decrypt_data_aes (the shop's to head office) entry of link-1. The exchange "
            "that made the key is not a token."
        )
    chosen = _versions(versions)
    if chosen is None:
        return f"versions should be a set of version numbers, such as {{1, 2}}, not {kind(versions)}."
    if any(version < min(facts.versions) for version in chosen):
        return (
            "an envelope is on the terminal only if head office made it after link-1 existed: the versions used "
            "before then wrapped head office's own records, never sent to the shop."
        )
    if chosen != facts.versions:
        return (
            "the copies on the terminal are the envelopes head office made for shop-1 since link-1 was agreed: "
            f"read the version of every successful encrypt_envelope with {ARCHIVE!r} since then (the KEK rotated)."
        )
    return None


q1 = Exercise(
    1,
    "apply",
    "Forensics, from `hq.audit_log` alone: since when is the stolen link's traffic exposed (`since`, an entry's "
    "time), how many tokens crossed the network under `link-1` (`tokens`), and which versions of "
    f"{ARCHIVE!r} wrapped the envelope copies on the terminal (`versions`, a set)?",
    _check_q1,
    "Each entry has .time, .operation, .key_id, .version and .outcome. The exposure starts when the key was made, "
    "not when it was stolen; tokens are successful encryptions and decryptions; the terminal got a copy of each "
    "envelope made for it, so only envelopes made since link-1 existed.",
    "log = list(hq.audit_log)\n"
    'link = [e for e in log if e.key_id == "link-1" and e.outcome == "ok"]\n'
    "since = link[0].time  # the exchange that made it\n"
    'tokens = len([e for e in link if e.operation in ("encrypt_data_aes", "decrypt_data_aes")])\n'
    'versions = {e.version for e in log if e.key_id == "archive" and e.operation == "encrypt_envelope"\n'
    '            and e.outcome == "ok" and e.time >= since}\n'
    "q1.check(hq, since, tokens, versions)",
    praise=lambda _kms, since, tokens, versions: (
        f"Every one of the {tokens} tokens since {since:%d %B %H:%M} is readable by whoever holds the key and "
        f"recorded the network; the copies are under versions {sorted(versions)}."
    ),
)


# ---------------------------------------------------------------- q2: revoke, rotate, or leave alone


def _check_untouched(custodian: KeyCustodian) -> str | None:
    """What is wrong with the keys that were never on the terminal, if anything."""
    for key_id, why in (
        (OTHER_LINK, "shop-2's terminal was not stolen, and nothing of link-2 was on shop-1's"),
        (HQ_ID, "only hq-id's public key was on the terminal, and a public key is public anyway"),
        (AUDITOR, "the auditor key never left head office, and the auditor holds its certificate"),
        (HQ_ROOT, "head office's root CA key never left head office, and the auditor trusts what it certified"),
    ):
        info = custodian.key_info(key_id)
        if info.state == "suspended":
            return f"{key_id!r} is suspended, but {why}: resume it (resume_key), and leave it alone."
        changed = [(v, s) for v, s in info.version_states if s != "active"]
        if info.state == "revoked" or (info.active and info.revoked_versions):
            return f"{key_id!r} was revoked, but {why}: revoke only what was exposed ({_RESTART})."
        if not info.active:
            return f"{key_id!r} is {info.state}, but {why}: change only what was exposed ({_RESTART})."
        if changed:
            return (
                f"version {changed[0][0]} of {key_id!r} is {changed[0][1]}, but {why}: change only what was exposed "
                f"({_RESTART})."
            )
        if info.version != 1:
            return (
                f"{key_id!r} was rotated, but {why}; and whoever relies on it holds version 1 (shop-2 cannot "
                f"follow a rotation of a shared key; a terminal or the auditor trusts the public key it was given). "
                f"Leave it alone ({_RESTART})."
            )
    return None


def _archive_stopped(state: str) -> str:
    """What is wrong with the whole archive KEK in ``state`` (not active)."""
    if state == "suspended":
        return (
            f"{ARCHIVE!r} is suspended, so head office can neither read nor rewrap its own envelopes: resume it "
            "(resume_key). Its material never left head office; only copies of envelopes did."
        )
    if state == "revoked":
        return (
            f"the whole of {ARCHIVE!r} was revoked: head office's own archive is lost with it. Its material never "
            f"left head office; only copies of envelopes did ({_RESTART})."
        )
    return (
        f"{ARCHIVE!r} is {state}, so it wraps nothing new for head office, and no move leads back to active. "
        f"Its material never left head office; only copies of envelopes did ({_RESTART})."
    )


def _archive_revocations(custodian: KeyCustodian, facts: _Facts) -> str | None:
    """What is wrong with the log's record of the exposed versions' revocations, if anything."""
    revoke = {"invalidate_key"}
    unlogged = sorted(v for v in facts.versions if not _revoked_in_log(custodian, ARCHIVE, v, by=revoke))
    alone = sorted(v for v in facts.versions if not _dual(custodian, ARCHIVE, v, by=revoke))
    if not unlogged and alone:
        return _not_dual(custodian, ARCHIVE, alone[0], by=revoke)
    if unlogged:
        return (
            f"the audit log shows no invalidate_key({ARCHIVE!r}, version={unlogged[0]}): revoke each exposed version "
            "with that call, which records it; a key record changed by hand revokes nothing."
        )
    return None


def _check_archive(custodian: KeyCustodian, facts: _Facts, archive: object) -> str | None:  # noqa: PLR0911
    """What is wrong with the archive KEK and head office's envelopes, if anything."""
    info = custodian.key_info(ARCHIVE)
    if not info.active:
        return _archive_stopped(info.state)
    exposed = sorted(facts.versions - set(info.revoked_versions))
    if exposed:
        return (
            f"version {exposed[0]} of {ARCHIVE!r} still opens the copies on the terminal through head office: "
            "rotate the KEK, rewrap head office's envelopes, then revoke each version that wrapped a copy."
        )
    revocations = _archive_revocations(custodian, facts)
    if revocations:
        return revocations
    if not all(_says_something(reason) for version, reason in info.version_reasons if version in facts.versions):
        return f"give each version's revocation a reason that says something: {_REASON_RULE}"
    if not isinstance(archive, Mapping):
        return f"archive should be head office's envelopes by name (case.archive, rewrapped), not {kind(archive)}."
    if set(archive) != set(facts.plaintexts):
        return "archive should hold every one of head office's envelopes, by the names case.archive gave them."
    for name, envelope in archive.items():
        if not isinstance(envelope, (bytes, bytearray)) or split(memoryview(envelope)) is None:
            return f"archive[{name!r}] should be an envelope (bytes, as rewrap_envelope returns it)."
        with as_checker(custodian):
            try:
                data = custodian.decrypt_envelope(ARCHIVE, envelope, associated_data=name)
            except KeyRevokedError:
                version = parse_token(split(memoryview(envelope))[0])[0]  # type: ignore[index]
                return (
                    f"archive[{name!r}] is wrapped by version {version}, which is revoked: head office can no longer "
                    "read it. Rewrap before you revoke (and if it is lost already, "
                    f"{_RESTART})."
                )
            except KMSError:
                return f"archive[{name!r}] does not open with {ARCHIVE!r} and its name as associated data."
        if hashlib.sha256(data).digest() != facts.plaintexts[name]:
            return f"archive[{name!r}] holds other data than head office's record."
        if bytes(split(memoryview(envelope))[1]) != facts.bodies[name]:  # type: ignore[index]
            return (
                f"archive[{name!r}] was encrypted again (its nonce, ciphertext and tag changed): rewrap_envelope "
                "re-wraps only the data key, and the record never leaves the custodian."
            )
    return None


def _check_q2(kms: object, archive: object) -> str | None:
    custodian, facts = _facts_of(kms)
    link = custodian.key_info(STOLEN_LINK)
    if link.active:
        return (
            "link-1 still works: the thief holds it, so anything sent under it would be read, and head office would "
            "accept the thief's tokens. A rotation does not help: the other side cannot follow it, and the stolen "
            "version would still decrypt. Revoke the whole key."
        )
    if link.state == "suspended":
        return (
            "link-1 is suspended, but suspension is a pause that resume_key lifts, and this key is known to be in the "
            "thief's hands: revoke it, or mark it compromised (which keeps its material for the investigation)."
        )
    if link.state not in ("revoked", "compromised"):
        return (
            f"link-1 is {link.state}, and a deactivated key still decrypts: head office would still accept the "
            "thief's tokens. Revoke it, or mark it compromised."
        )
    if not _says_something(link.reason):
        change = "revocation" if link.state == "revoked" else "compromise"
        return f"give link-1's {change} a reason that says something: {_REASON_RULE}"
    return _link_revoked(custodian) or _check_untouched(custodian) or _check_archive(custodian, facts, archive)


def _revoked_in_log(
    custodian: KeyCustodian,
    key_id: str,
    version: int | None = None,
    by: Collection[str] = ("invalidate_key", "mark_compromised"),
) -> bool:
    """Whether the log shows ``key_id`` (or one version) revoked or marked compromised, by the call that records it.

    A key record changed by hand is not; nor is a suspended key (resume_key brings it back) or a deactivated one
    (it still decrypts). ``by``: the calls that count (the archive's versions must be revoked: ``invalidate_key``).
    """
    return any(
        e.key_id == key_id and e.version == version and e.outcome == "ok"
        for e in student_entries(custodian)
        if e.operation in by
    )


_REVOKING = ("invalidate_key", "mark_compromised")


def _approved(custodian: KeyCustodian, key_id: str) -> list[AuditEntry]:
    """``key_id``'s revocations and marks of compromise made by the responder, each after an approval of its own.

    Read from the log, as an auditor would: each approval by the security officer of a request on ``key_id``
    lets one revocation by the responder count (the custodian lets an approved call through once).
    """
    approvals, counted = 0, []
    for entry in student_entries(custodian):
        if entry.key_id != key_id or entry.outcome != "ok":
            continue
        if entry.operation == "approve" and entry.principal == OFFICER:
            approvals += 1
        elif entry.operation in _REVOKING and entry.principal == RESPONDER and approvals:
            approvals -= 1
            counted.append(entry)
    return counted


def _dual(custodian: KeyCustodian, key_id: str, version: int | None = None, by: Collection[str] = _REVOKING) -> bool:
    """Whether the log shows ``key_id`` (or one version) revoked by the responder with the officer's approval."""
    return any(e.version == version and e.operation in by for e in _approved(custodian, key_id))


def _not_dual(custodian: KeyCustodian, key_id: str, version: int | None = None, by: Collection[str] = _REVOKING) -> str:
    """What is wrong with a revocation the log records, but not as the responder's with the officer's approval."""
    what = repr(key_id) if version is None else f"version {version} of {key_id!r}"
    who = [e.principal for e in student_entries(custodian) if e.key_id == key_id and e.version == version
           and e.outcome == "ok" and e.operation in by]  # fmt: skip
    if who and who[0] != RESPONDER:
        return (
            f"the audit log shows {what} revoked by {who[0]!r}, not by you as {RESPONDER!r}: that bypasses head "
            f"office's key policy and its second approver. Do the response as case.responder, and have the "
            f"security officer approve each revocation (case.second_approver.approve(request_id)) ({_RESTART})."
        )
    return (
        f"the audit log shows {what} revoked by {RESPONDER!r} with no approval by {OFFICER!r} before it: a "
        "revocation needs the second approver, as head office's key policy says (put its condition back, and "
        f"{_RESTART})."
    )


def _link_revoked(custodian: KeyCustodian) -> str | None:
    """What is wrong with link-1's revocation, when the key is no longer active: ``None`` if the log records it."""
    if _dual(custodian, STOLEN_LINK):
        return None
    if _revoked_in_log(custodian, STOLEN_LINK):
        return _not_dual(custodian, STOLEN_LINK)
    return (
        "link-1 looks revoked, but the audit log shows no invalidate_key('link-1') or mark_compromised('link-1'): "
        "a key record changed by hand is not revoked. Revoke the whole key with invalidate_key, or mark it "
        "compromised."
    )


q2 = Exercise(
    2,
    "build",
    "Decide, for each of head office's keys, whether to revoke it, rotate it, or leave it alone, and do it as "
    "the responder (`responder = case.responder`), with the security officer's approval where the policy asks for "
    "it: nothing still usable by the thief, nothing lost that was never exposed. Pass `hq` and head office's "
    "envelopes (`archive`, rewrapped where needed).",
    _check_q2,
    "link-1 is in the thief's hands: revoke the whole key (or mark it compromised, which refuses every use and "
    "keeps its material for the investigation). The archive KEK never left head office, but envelopes "
    "under some of its versions did: rotate, rewrap your envelopes (rewrap_envelope, the name as associated_data), "
    "then revoke those versions (invalidate_key(..., version=..., reason=...)). The rest was never exposed. "
    "Each revocation raises ApprovalRequiredError first: case.second_approver.approve(its .request_id), then make "
    "the same call again.",
    "responder = case.responder  # you, an administrator under head office's key policy\n"
    "try:\n"
    '    responder.invalidate_key("link-1", reason="shop-1 terminal stolen")\n'
    "except ApprovalRequiredError as request:  # dual control: the policy asks for a second approver\n"
    "    print(request)\n"
    "    case.second_approver.approve(request.request_id)  # the security officer approves this exact call\n"
    '    responder.invalidate_key("link-1", reason="shop-1 terminal stolen")  # the same call, now approved: once\n'
    'responder.rotate_key("archive")\n'
    'archive = {name: responder.rewrap_envelope("archive", envelope, associated_data=name)\n'
    "           for name, envelope in archive.items()}\n"
    'reason = "copies were on the stolen terminal"\n'
    "for version in versions:  # exercise 1's answer; each revocation needs its own approval\n"
    "    try:\n"
    '        responder.invalidate_key("archive", version=version, reason=reason)\n'
    "    except ApprovalRequiredError as request:\n"
    "        case.second_approver.approve(request.request_id)\n"
    '        responder.invalidate_key("archive", version=version, reason=reason)\n'
    "q2.check(hq, archive)",
)


# ---------------------------------------------------------------- q3: the replacement enrolls, authenticated


def _made_after(custodian: KeyCustodian, facts: _Facts, key_id: str) -> AuditEntry | None:
    """The entry that made ``key_id``, if it was made after the theft was reported."""
    for entry in student_entries(custodian):
        if entry.key_id == key_id and entry.outcome == "ok":
            return entry if entry.seq >= facts.reported else None
    return None


def _impostors_live_keys(custodian: KeyCustodian, facts: _Facts) -> list[str]:
    """Head office's live keys, made after the theft, that the thief's terminal holds too."""
    assert facts.impostor is not None
    shared = set(facts.impostor.fingerprints)
    return [
        info.key_id
        for info in custodian.list_keys()
        if info.fingerprint in shared
        and _made_after(custodian, facts, info.key_id) is not None
        and not _revoked_in_log(custodian, info.key_id)
    ]


def _check_q3(kms: object, link_id: object) -> str | None:  # noqa: PLR0911
    custodian, facts = _facts_of(kms)
    assert facts.genuine is not None
    if not isinstance(link_id, str):
        return f"link_id should be the id (a str) of head office's new key, not {kind(link_id)}."
    if link_id not in custodian:
        return f"head office has no key {link_id!r}: derive it with derive_shared_key once a confirmation checked out."
    made = _made_after(custodian, facts, link_id)
    if made is None or made.operation != "derive_shared_key":
        return f"{link_id!r} was not made by derive_shared_key after the theft: it is not the new link."
    impostors = _impostors_live_keys(custodian, facts)
    if impostors:
        return (
            f"head office shares {impostors[0]!r} with the thief's terminal: its confirmation was signed with the "
            "stolen terminal's identity key, which is not the one on the installer's sheet. Check each confirmation "
            f"with case.installer_sheet before you derive, and revoke {impostors[0]!r}."
        )
    if not facts.genuine.fingerprints:
        return (
            "the replacement never accepted head office's side: sign each transcript with hq-id as responder "
            "(sign_transcript) and give the terminal your public key and that signature (terminal.answer)."
        )
    if custodian.key_info(link_id).fingerprint not in facts.genuine.fingerprints:
        return (
            f"{link_id!r} is not the key the replacement derived: derive it from its public key and your private key "
            "of the exchange it accepted, with transcript= the transcript you signed (it names both parties); "
            "without it the key is not bound to who took part."
        )
    if not custodian.key_info(link_id).active:
        return f"{link_id!r} is {custodian.key_info(link_id).state}: the replacement needs a live link."
    return None


q3 = Exercise(
    3,
    "build",
    "Two terminals say they are shop-1's replacement (`case.arrivals`). For each, make head office's X25519 key "
    f"pair, build the transcript (initiator `terminal.name`, responder {HQ!r}), sign it with {HQ_ID!r} as responder, "
    "and get its confirmation with `terminal.answer(...)`; check the confirmation with the identity key on the "
    "installer's sheet (`case.installer_sheet`), and derive the new link in `hq` only for the terminal whose "
    "confirmation checks out. Pass (hq, link_id).",
    _check_q3,
    "kmslib.kex has Transcript.of(initiator_public, responder_public, initiator=..., responder=...), "
    "sign_transcript(kms, key_id, transcript, role=...) and verify_transcript(pem, transcript, signature, role=...), "
    "which raises SignatureError; derive_shared_key takes transcript=. A terminal's own .identity is only a claim.",
    "for terminal in case.arrivals:\n"
    '    hq_private, hq_public = hq.generate_diffie_hellman_params_and_key(group="x25519")\n'
    '    transcript = Transcript.of(terminal.public, hq_public, initiator=terminal.name, responder="head-office")\n'
    '    signature = sign_transcript(hq, "hq-id", transcript, role="responder")\n'
    "    confirmation = terminal.answer(hq_public, signature)  # the terminal checks head office, then confirms\n"
    "    try:\n"
    '        verify_transcript(case.installer_sheet, transcript, confirmation, role="initiator")\n'
    "    except SignatureError:\n"
    '        print("refused:", terminal, "- its confirmation is not signed by the key on the installer\'s sheet")\n'
    "        continue\n"
    '    hq.derive_shared_key("link-3", hq_private, terminal.public, transcript=transcript)\n'
    'q3.check(hq, "link-3")',
)


# ---------------------------------------------------------------- q4: what the auditor can prove


_RESPONSE = {"invalidate_key", "rotate_key", "rewrap_envelope", "derive_shared_key", "accept_key_exchange"}


def _checkpoint_count(checkpoint: str) -> int | None:
    """The entry count a checkpoint's text claims, or ``None`` if it does not have the shape of one."""
    parts = checkpoint.split(":")
    if len(parts) < 6 or parts[1] != "v1" or not (parts[2].isascii() and parts[2].isdigit() and len(parts[2]) < 19):
        return None
    return int(parts[2])


def _auditor_distrusts(custodian: KeyCustodian, facts: _Facts) -> str | None:
    """Why the auditor no longer trusts the auditor key's certificate, or ``None``: its chain and a fresh CRL."""
    authority = facts.authority
    if authority is None:  # pragma: no cover - every incident has its CA
        return None
    try:
        with as_checker(custodian):  # the CRL's signing is the checker's, not the student's
            crl = authority.crl()
    except KMSError:
        return (
            "head office's root CA can no longer publish a CRL (its key 'hq-root' was rotated, revoked or marked "
            f"compromised), so the auditor cannot learn whether the auditor key is still good; hq-root was never "
            f"exposed ({_RESTART})."
        )
    try:
        certified_key(facts.auditor_certificate, trust_anchor=authority.certificate, crl=crl, at=authority.now())
    except KMSError as error:
        return (
            f"the auditor refuses: {error}. Revoking or marking the auditor key changed its certificate's status, "
            f"and the auditor key was never exposed ({_RESTART})."
        )
    return None


def _check_q4(kms: object, checkpoint: object) -> str | None:  # noqa: PLR0911
    custodian, facts = _facts_of(kms)
    if not isinstance(checkpoint, str) or not checkpoint.startswith("kmslib-checkpoint:"):
        return f"checkpoint should be the text that sign_audit_checkpoint returned, not {kind(checkpoint)}."
    checkpoint = str.__str__(checkpoint)  # plain text: a subclass's own split() or startswith() proves nothing
    count = _checkpoint_count(checkpoint)
    if count is None:
        return "that checkpoint is cut short or altered: pass the whole text sign_audit_checkpoint returned."
    distrust = _auditor_distrusts(custodian, facts)
    if distrust is not None:
        return distrust
    export = custodian.audit_log.to_jsonl()
    if not AuditLog.verify_jsonl(export, checkpoint=checkpoint, public_key=facts.auditor_pem):
        if AuditLog.verify_jsonl(export, checkpoint=checkpoint, public_key=facts.hq_pem):
            return "that checkpoint is signed with hq-id: checkpoints get a key of their own, 'auditor'."
        return (
            "the log does not extend that checkpoint with the auditor's public key: sign it with 'auditor' "
            "(the auditor holds its public half), in hq, whole."
        )
    if not AuditLog.verify_jsonl(export, checkpoint=facts.earlier, public_key=facts.auditor_pem):  # pragma: no cover
        return "the log no longer extends the auditor's checkpoint of 5 January."
    link = custodian.key_info(STOLEN_LINK)
    archive = custodian.key_info(ARCHIVE)
    made = [e for e in student_entries(custodian) if e.seq >= facts.reported and e.outcome == "ok"]
    assert facts.genuine is not None
    genuine = set(facts.genuine.fingerprints)
    new_link = any(info.active and info.fingerprint in genuine for info in custodian.list_keys())
    response = (
        not link.active and _dual(custodian, STOLEN_LINK),
        facts.versions <= set(archive.revoked_versions)
        and all(_dual(custodian, ARCHIVE, v, by={"invalidate_key"}) for v in facts.versions),
        new_link,
    )
    if not all(response) or _impostors_live_keys(custodian, facts):
        return "finish the response first (exercises 2 and 3): the checkpoint should cover all of it."
    last = max(e.seq for e in made if e.operation in _RESPONSE)
    if count <= last:
        what = "the one of 5 January, before the incident" if checkpoint == facts.earlier else "signed too early"
        return (
            f"that checkpoint is {what}: it covers {count} entries, and your response goes on to entry {last}. "
            "Sign a new one after the response, so that it covers the whole story."
        )
    return None


q4 = Exercise(
    4,
    "apply",
    "Give the auditor a checkpoint that covers the whole story, the response included: sign it with "
    f"{AUDITOR!r} in `hq` after exercises 2 and 3. Pass (hq, checkpoint).",
    _check_q4,
    "sign_audit_checkpoint(key_id) signs the log's current count and head; the auditor checks an export with "
    "AuditLog.verify_jsonl(text, checkpoint=..., public_key=...).",
    'checkpoint = hq.sign_audit_checkpoint("auditor")\nq4.check(hq, checkpoint)',
    praise=lambda _kms, checkpoint: (
        f"It proves that the holder of the auditor key saw the log's first {checkpoint.split(':')[2]} entries "
        "with this head, at this time; with the checkpoint of 5 January, that nothing before that one was "
        "rewritten since."
    ),
)

#: The exercises in order.
EXERCISES = (q1, q2, q3, q4)


quiz = Quiz(
    Question(
        "The terminal went missing on the evening of 7 January; link-1 was agreed on 5 January at 13:00. Which "
        "traffic under link-1 can the thief read?",
        {
            "a": "Only what is sent after the theft, until link-1 is revoked",
            "b": "Every token sent under link-1 since 5 January 13:00 that anyone recorded, before and after the theft",
            "c": "Nothing: AES-256-GCM tokens cannot be read without breaking AES",
            "d": "Only the tokens still on the terminal's disk",
        },
        "b",
        "The thief holds the key itself, and recording a network is easy: every token ever sent under it is "
        "readable, back to the key's making. Revoking stops what comes after; it cannot undo what was taken "
        "(NIST SP 800-57 Part 1 Rev. 5, §5.5, compromise of keys).",
    ),
    Question(
        "Head office rotated the archive KEK, rewrapped its envelopes and revoked the versions that wrapped the "
        "stolen copies. What did that achieve?",
        {
            "a": "Crypto-shredding: the stolen copies' data is erased for good",
            "b": "Nothing: the thief can open the copies with the old KEK version",
            "c": "A migration: head office's envelopes moved to a new version, and the custodian no longer opens "
            "the copies; the data keys inside are unchanged, and older backups of the store still hold the "
            "revoked versions",
            "d": "The envelopes' data was encrypted again under a new data key",
        },
        "c",
        "Rewrapping changes only the wrapped data key (lesson 06), and revocation stops this custodian. Erasure by "
        "cryptography needs a dedicated key whose every copy is destroyed, backups included (NIST SP 800-88 "
        "Rev. 1 §2.6, cryptographic erase; SP 800-57 Part 1 Rev. 5 §8.3.4). The thief never held the KEK, so "
        "the copies were never his to open.",
    ),
    Question(
        "Why does head office sign a transcript with both identities and both public keys, rather than only its "
        "own ephemeral public key?",
        {
            "a": "A signature on its own public key is enough: it shows the key comes from head office",
            "b": "A signed key alone can be replayed in a later exchange or passed on under another name; the "
            "transcript ties the signature, and the derived key, to this exchange between these two parties",
            "c": "Because X25519 public keys cannot be sent unsigned",
            "d": "It is not needed: HKDF already makes the key secret",
        },
        "b",
        "Signing one's own key does not authenticate an exchange: replay and identity misbinding (H. Krawczyk, "
        "SIGMA, CRYPTO 2003). TLS 1.3's CertificateVerify signs the transcript hash for the same reason (RFC 8446 "
        "§4.4.3); kmslib.kex binds it into the key too. An unsigned exchange is open to a man in the middle "
        "(lesson 03), however the key is derived.",
    ),
    Question(
        "The auditor verifies your checkpoint, signed after the response, with the auditor key's public half. "
        "What does that prove?",
        {
            "a": "That head office recorded every operation it ever made, and omitted nothing",
            "b": "That the holder of the auditor key saw the log's first N entries with that head at that time, "
            "so an export cut, reordered or edited before entry N is detected",
            "c": "That the log is public and consistent for every auditor, as in Certificate Transparency",
            "d": "That the revoked keys can never be used by anyone again",
        },
        "b",
        "A checkpoint vouches for a count and a head at a time (kmslib's README, 'Signatures and signed audit "
        "checkpoints'). It cannot show what was never logged, nor a rewrite of the entries since the auditor's "
        "previous checkpoint made before this one was signed (what an earlier checkpoint covers stays protected); "
        "and it is not Certificate Transparency (RFC 9162): no Merkle proofs, no gossip, so a keeper showing "
        "different logs to different auditors is caught only when they compare.",
    ),
)
