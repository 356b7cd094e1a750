"""The capstone: the incident's decisions, judged from head office's state and audit log.

Each exercise: its published solution passes, other correct answers pass, and wrong answers a lazy or
confused student would give fail with words that say where to look. A wrong or refused try spoils
nothing, and checking again gives the same verdict.
"""

from __future__ import annotations

import contextlib
import io
import weakref
from datetime import UTC, datetime
from typing import Any

import pytest

from kmslib import AccessDeniedError, ApprovalRequiredError, KeyCustodian, KeyRevokedError, KMSError, SignatureError
from kmslib.course import capstone, exercises, pictures
from kmslib.course.capstone import Incident, q1, q2, q3, q4
from kmslib.kex import Transcript, sign_transcript, verify_transcript

INTERNALS = ("unhashable", "positional argument", "list indices", "has no attribute", "NoneType", "Traceback")


def verdict(exercise: exercises.Exercise, *answer: object) -> tuple[bool, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = exercise.check(*answer)
    said = out.getvalue()
    assert not any(words in said for words in INTERNALS), said
    return bool(result), said


def refused(exercise: exercises.Exercise, *answer: object, because: str) -> None:
    ok, said = verdict(exercise, *answer)
    assert not ok, said
    assert because in said, said
    assert (ok, said) == verdict(exercise, *answer)  # the same verdict again


def accepted(exercise: exercises.Exercise, *answer: object) -> None:
    ok, said = verdict(exercise, *answer)
    assert ok, said
    assert verdict(exercise, *answer)[0]  # and again


_CASES: weakref.WeakKeyDictionary[KeyCustodian, Incident] = weakref.WeakKeyDictionary()


def incident() -> Incident:
    """A new incident, remembered so that :func:`revoke` finds its responder and second approver from ``hq``."""
    case = capstone.incident()
    _CASES[case.hq] = case
    return case


def revoke(hq: KeyCustodian, key_id: str, *, how: str = "invalidate_key", **kwargs: Any) -> None:
    """A revocation as the capstone asks: by the responder, refused until the security officer approves it."""
    case = _CASES[hq]
    call = getattr(case.responder, how)
    try:
        call(key_id, **kwargs)
    except ApprovalRequiredError as request:
        case.second_approver.approve(request.request_id)
        call(key_id, **kwargs)


def namespace(case: Incident) -> dict[str, Any]:
    """What the notebook's cells have imported and named before the exercises."""
    return {
        "case": case,
        "hq": case.hq,
        "archive": dict(case.archive),
        "Transcript": Transcript,
        "sign_transcript": sign_transcript,
        "verify_transcript": verify_transcript,
        "SignatureError": SignatureError,
        "ApprovalRequiredError": ApprovalRequiredError,
        **{f"q{n}": exercise for n, exercise in enumerate(capstone.EXERCISES, 1)},
    }


def solve(case: Incident, upto: int) -> dict[str, Any]:
    """Run the published solutions of exercises 1..upto, in order, as the notebook would."""
    names = namespace(case)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for exercise in capstone.EXERCISES[:upto]:
            exec(exercise.solution_code, names)
    assert out.getvalue().count("correct!") == upto, out.getvalue()
    return names


# ---------------------------------------------------------------- the incident and its published solutions


def test_every_published_solution_passes_in_order() -> None:
    names = solve(incident(), 4)
    for exercise, answer in zip(
        capstone.EXERCISES,
        [
            (names["hq"], names["since"], names["tokens"], names["versions"]),
            (names["hq"], names["archive"]),
            (names["hq"], "link-3"),
            (names["hq"], names["checkpoint"]),
        ],
        strict=True,
    ):
        ok, said = verdict(exercise, *answer)
        assert ok, said  # every check, run again after all four, still passes


def test_the_log_tells_the_story_the_exercises_ask_about() -> None:
    """The forensic answers, read without the checker: link-1 made just after 13:00, six tokens, versions 2, 3."""
    case = incident()
    log = list(case.hq.audit_log)
    made = next(e for e in log if e.key_id == "link-1")
    assert made.operation == "derive_shared_key"
    assert datetime(2026, 1, 5, 13, tzinfo=UTC) <= made.time < datetime(2026, 1, 5, 13, 10, tzinfo=UTC)
    assert sum(e.key_id == "link-1" and e.operation.endswith("_data_aes") for e in log) == 6
    assert {e.version for e in log if e.operation == "encrypt_envelope" and e.time >= made.time} == {2, 3}
    assert {e.version for e in log if e.operation == "encrypt_envelope" and e.time < made.time} == {1}
    assert all(e.time < capstone.REPORTED for e in log)
    assert case.hq.key_info("archive").version == 3
    assert set(case.on_the_terminal) == {"shop-1/2026-01-05", "shop-1/2026-01-06", "shop-1/2026-01-07"}
    assert set(case.archive) == {*case.on_the_terminal, "2025/annual-report", "2025/payroll"}


def test_two_incidents_are_independent() -> None:
    first, second = incident(), incident()
    first.hq.invalidate_key("link-1", reason="shop-1 terminal stolen")
    assert second.hq.key_info("link-1").active
    names = solve(second, 1)
    refused(q1, first.hq, datetime(2026, 1, 7, 19, tzinfo=UTC), 6, {2, 3}, because="does not start with the theft")
    refused(q3, first.hq, "link-1", because="not made by derive_shared_key after the theft")
    assert names["tokens"] == 6


# ---------------------------------------------------------------- q1: what was exposed


def test_q1_other_correct_answers() -> None:
    case = incident()
    hq = case.hq
    made = next(e for e in hq.audit_log if e.key_id == "link-1")
    first_token = next(e for e in hq.audit_log if e.key_id == "link-1" and e.operation == "decrypt_data_aes")
    accepted(q1, hq, made.time, 6, [3, 2])  # a list, in any order
    accepted(q1, hq, first_token.time, 6, frozenset({2, 3}))  # since the first token: also true
    accepted(q1, hq, made.time.astimezone(UTC).replace(tzinfo=UTC), 6, (2, 3))


def test_q1_refuses_the_theft_time_wrong_counts_and_versions() -> None:
    case = incident()
    hq = case.hq
    made = next(e for e in hq.audit_log if e.key_id == "link-1").time
    refused(q1, hq, capstone.REPORTED, 6, {2, 3}, because="does not start with the theft")
    refused(q1, hq, datetime(2026, 1, 6, 12, tzinfo=UTC), 6, {2, 3}, because="carried tokens before")
    refused(q1, hq, datetime(2026, 1, 5, 8, tzinfo=UTC), 6, {2, 3}, because="did not exist yet")
    refused(q1, hq, made.replace(tzinfo=None), 6, {2, 3}, because="timezone-aware")
    refused(q1, hq, "2026-01-05", 6, {2, 3}, because="a time read from the log")
    refused(q1, hq, made, 3, {2, 3}, because="every successful encrypt_data_aes")  # the shop's side only
    refused(q1, hq, made, 7, {2, 3}, because="The exchange that made the key is not a token")  # counted it
    refused(q1, hq, made, "6", {2, 3}, because="should be a number")
    refused(q1, hq, made, 6, {1, 2, 3}, because="head office's own records")  # every version of the KEK
    refused(q1, hq, made, 6, {3}, because="the KEK rotated")  # only the newest
    refused(q1, hq, made, 6, 3, because="a set of version numbers")
    refused(q1, KeyCustodian(), made, 6, {2, 3}, because="capstone.incident()")


# ---------------------------------------------------------------- q2: revoke, rotate, or leave alone


def respond(hq: KeyCustodian, archive: dict[str, bytes], versions: tuple[int, ...] = (2, 3)) -> dict[str, bytes]:
    """The right decisions, done one way."""
    revoke(hq, "link-1", reason="shop-1 terminal stolen")
    hq.rotate_key("archive")
    archive = {name: bytes(hq.rewrap_envelope("archive", env, associated_data=name)) for name, env in archive.items()}
    for version in versions:
        revoke(hq, "archive", version=version, reason="copies were on the stolen terminal")
    return archive


def test_q2_other_correct_answers() -> None:
    case = incident()  # revoke version 1 too, after rewrapping all: harmless, and it is right
    accepted(q2, case.hq, respond(case.hq, case.archive, versions=(1, 2, 3)))
    case = incident()  # rotate twice, rewrap only the exposed envelopes, in another order
    hq = case.hq
    hq.rotate_key("archive")
    hq.rotate_key("archive")
    archive = dict(case.archive)
    for name in case.on_the_terminal:
        archive[name] = hq.rewrap_envelope("archive", archive[name], associated_data=name)
    revoke(hq, "archive", version=3, reason="a copy was on the stolen terminal")
    revoke(hq, "archive", version=2, reason="a copy was on the stolen terminal")
    revoke(hq, "link-1", reason="terminal stolen from shop-1")
    accepted(q2, hq, archive)
    stolen = case.on_the_terminal["shop-1/2026-01-06"]
    with pytest.raises(KeyRevokedError):
        hq.decrypt_envelope("archive", stolen, associated_data="shop-1/2026-01-06")


def respond_archive(hq: KeyCustodian, archive: dict[str, bytes], how: str = "invalidate_key") -> dict[str, bytes]:
    """The archive's part of the decisions: rotate, rewrap, then end the exposed versions ``how`` (right as revoked)."""
    hq.rotate_key("archive")
    archive = {name: bytes(hq.rewrap_envelope("archive", env, associated_data=name)) for name, env in archive.items()}
    for version in (2, 3):
        revoke(hq, "archive", how=how, version=version, reason="copies were on the stolen terminal")
    return archive


def test_q2_accepts_link_1_marked_compromised_as_well_as_revoked() -> None:
    """A stolen key may be marked compromised (material kept for forensics, every use refused), with a reason."""
    case = incident()
    hq = case.hq
    revoke(hq, "link-1", how="mark_compromised", reason="shop-1 terminal stolen; keep for the investigation")
    accepted(q2, hq, respond_archive(hq, case.archive))
    case = incident()  # compromised first, revoked once the investigation is done: also right
    hq = case.hq
    revoke(hq, "link-1", how="mark_compromised", reason="terminal stolen")
    revoke(hq, "link-1", reason="investigation closed")
    accepted(q2, hq, respond_archive(hq, case.archive))


@pytest.mark.parametrize(
    ("move", "says"),
    [
        ("suspend_key", "suspension is a pause"),
        ("deactivate_key", "a deactivated key still decrypts"),
    ],
)
def test_q2_refuses_a_stolen_link_suspended_or_deactivated(move: str, says: str) -> None:
    case = incident()
    hq = case.hq
    getattr(hq, move)("link-1", reason="shop-1 terminal stolen")
    refused(q2, hq, respond_archive(hq, case.archive), because=says)


def test_q2_a_compromised_link_still_needs_a_real_reason() -> None:
    case = incident()
    hq = case.hq
    revoke(hq, "link-1", how="mark_compromised", reason="x")
    refused(q2, hq, respond_archive(hq, case.archive), because="reason that says something")


def test_q2_judges_the_outcome_after_refused_and_wrong_tries() -> None:
    """Revoking the newest version too early is refused by kmslib, and a wrong check first: neither spoils it."""
    case = incident()
    hq = case.hq
    with pytest.raises(KMSError):
        hq.invalidate_key("archive", version=3, reason="too early: version 3 is the newest")
    refused(q2, hq, case.archive, because="link-1 still works")
    archive = respond(hq, case.archive)
    accepted(q2, hq, archive)


def test_q2_refuses_a_rotated_link_and_lazy_archives() -> None:
    case = incident()
    hq = case.hq
    hq.rotate_key("link-1")  # a rotation the other side cannot follow; version 1 still decrypts
    refused(q2, hq, case.archive, because="Revoke the whole key")
    case = incident()
    hq = case.hq
    revoke(hq, "link-1", reason="x")
    refused(q2, hq, case.archive, because="reason that says something")
    case = incident()
    hq = case.hq
    revoke(hq, "link-1", reason="shop-1 terminal stolen")
    refused(q2, hq, case.archive, because="rotate the KEK, rewrap")  # nothing done to the archive
    hq.rotate_key("archive")
    refused(q2, hq, case.archive, because="still opens the copies")  # rotated only: version 2 still opens
    revoke(hq, "archive", version=2, reason="copies were on the stolen terminal")
    revoke(hq, "archive", version=3, reason="copies were on the stolen terminal")
    refused(q2, hq, case.archive, because="Rewrap before you revoke")  # the old envelopes, passed unchanged
    refused(q2, hq, None, because="envelopes by name")
    refused(q2, hq, {}, because="every one of head office's envelopes")


def test_q2_refuses_decrypt_and_encrypt_again_and_a_foreign_envelope() -> None:
    case = incident()
    hq = case.hq
    revoke(hq, "link-1", reason="shop-1 terminal stolen")
    hq.rotate_key("archive")
    archive = {}
    for name, envelope in case.archive.items():
        data = hq.decrypt_envelope("archive", envelope, associated_data=name)
        archive[name] = bytes(hq.encrypt_envelope("archive", data, associated_data=name))
    revoke(hq, "archive", version=2, reason="copies were on the stolen terminal")
    revoke(hq, "archive", version=3, reason="copies were on the stolen terminal")
    refused(q2, hq, archive, because="encrypted again")
    case = incident()
    archive = respond(case.hq, case.archive)
    accepted(q2, case.hq, archive)
    hq, name = case.hq, "2025/payroll"
    forged = dict(archive, **{name: bytes(hq.encrypt_envelope("archive", b"other", associated_data=name))})
    refused(q2, hq, forged, because="other data")
    refused(q2, hq, dict(archive, **{name: "kms:v1:aes"}), because="should be an envelope")
    unbound = dict(archive, **{name: bytes(hq.encrypt_envelope("archive", b"total 3.1M"))})
    refused(q2, hq, unbound, because="its name as associated data")
    swapped = dict(archive, **{name: archive["2025/annual-report"]})  # the same envelope under two names
    refused(q2, hq, swapped, because="its name as associated data")
    accepted(q2, hq, archive)  # the wrong answers spoiled nothing


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (lambda hq: hq.invalidate_key("link-2", reason="to be safe, all links"), "'link-2' was revoked"),
        (lambda hq: hq.rotate_key("link-2"), "'link-2' was rotated"),
        (lambda hq: hq.invalidate_key("hq-id", reason="to be safe, all keys"), "'hq-id' was revoked"),
        (lambda hq: hq.rotate_key("auditor"), "'auditor' was rotated"),
        (lambda hq: hq.rotate_key("hq-root"), "'hq-root' was rotated"),
        (lambda hq: hq.invalidate_key("hq-root", reason="to be safe"), "'hq-root' was revoked"),
        (lambda hq: hq.invalidate_key("archive", reason="copies were on the terminal"), "archive is lost"),
    ],
)
def test_q2_refuses_revoking_or_rotating_what_was_never_exposed(wrong: Any, says: str) -> None:
    case = incident()
    hq = case.hq
    wrong(hq)
    revoke(hq, "link-1", reason="shop-1 terminal stolen")
    if hq.key_info("archive").active:
        hq.rotate_key("archive")
        archive = {n: bytes(hq.rewrap_envelope("archive", e, associated_data=n)) for n, e in case.archive.items()}
        for version in (2, 3):
            revoke(hq, "archive", version=version, reason="copies were on the stolen terminal")
    else:
        archive = case.archive
    refused(q2, hq, archive, because=says)


def test_the_responder_administers_and_revoking_needs_the_second_approver() -> None:
    """Separation of duties and dual control: the responder uses no key, and revokes once the officer approves."""
    case = incident()
    with pytest.raises(AccessDeniedError):
        case.responder.encrypt_data_aes("link-1", "prices")  # an administrator, not a user of keys
    case.responder.rotate_key("archive")  # administering needs no approval
    with pytest.raises(ApprovalRequiredError):
        case.second_approver.invalidate_key("link-1", reason="shop-1 terminal stolen")  # nor does the officer alone
    with pytest.raises(ApprovalRequiredError) as asked:
        case.responder.invalidate_key("link-1", reason="shop-1 terminal stolen")
    assert case.hq.key_info("link-1").active
    with pytest.raises(AccessDeniedError, match="own request"):
        case.responder.approve(asked.value.request_id)
    case.second_approver.approve(asked.value.request_id)
    case.responder.invalidate_key("link-1", reason="shop-1 terminal stolen")  # the same call, once
    assert case.hq.key_info("link-1").state == "revoked"
    who = [(e.operation, e.principal, e.outcome) for e in case.hq.audit_log if e.key_id == "link-1"][-4:]
    assert who == [
        ("invalidate_key", "responder", "ApprovalRequiredError"),
        ("approve", "responder", "AccessDeniedError"),  # a refused try is recorded too
        ("approve", "security-officer", "ok"),
        ("invalidate_key", "responder", "ok"),
    ]


@pytest.mark.parametrize("key_id", ["link-1", "archive"])
def test_q2_refuses_a_revocation_by_the_owner_bypassing_the_policy(key_id: str) -> None:
    case = incident()
    hq = case.hq
    archive = respond(hq, case.archive)
    accepted(q2, hq, archive)
    case = incident()  # the same decisions, one of them as the owner
    hq = case.hq
    hq.invalidate_key("link-1", reason="shop-1 terminal stolen") if key_id == "link-1" else revoke(
        hq, "link-1", reason="shop-1 terminal stolen"
    )
    hq.rotate_key("archive")
    archive = {n: bytes(hq.rewrap_envelope("archive", e, associated_data=n)) for n, e in case.archive.items()}
    for version in (2, 3):
        if key_id == "archive":
            hq.invalidate_key("archive", version=version, reason="copies were on the stolen terminal")
        else:
            revoke(hq, "archive", version=version, reason="copies were on the stolen terminal")
    refused(q2, hq, archive, because="revoked by 'owner', not by you as 'responder'")


def test_q2_refuses_a_revocation_approved_by_the_owner_and_names_hq_for_a_view() -> None:
    case = incident()
    hq = case.hq
    with pytest.raises(ApprovalRequiredError) as asked:
        case.responder.invalidate_key("link-1", reason="shop-1 terminal stolen")
    hq.approve(asked.value.request_id)  # the owner, not the second approver
    case.responder.invalidate_key("link-1", reason="shop-1 terminal stolen")
    archive = respond_archive(hq, case.archive)
    refused(q2, hq, archive, because="no approval by 'security-officer'")
    refused(q2, case.responder, archive, because="not the view acting as 'responder'")


def test_q2_refuses_a_revocation_whose_approval_the_owner_removed_from_the_policy() -> None:
    case = incident()
    hq = case.hq
    policy = hq.get_key_policy("link-1")
    assert policy is not None
    for statement in policy["Statement"]:
        statement.pop("Condition", None)  # no second approver any more
    hq.set_key_policy("link-1", policy)
    case.responder.invalidate_key("link-1", reason="shop-1 terminal stolen")  # goes through alone
    refused(q2, hq, respond_archive(hq, case.archive), because="security-officer")


# ---------------------------------------------------------------- q3: the replacement enrolls, authenticated


def genuine(case: Incident) -> capstone.Terminal:
    """The arrival the installer's sheet vouches for."""
    return next(t for t in case.arrivals if t.identity == case.installer_sheet)


def impostor(case: Incident) -> capstone.Terminal:
    return next(t for t in case.arrivals if t.identity != case.installer_sheet)


def exchange(
    hq: KeyCustodian, terminal: capstone.Terminal, *, signer: str = "hq-id"
) -> tuple[Any, Transcript, str | None]:
    """Head office's side of the signed exchange with one terminal, up to its confirmation."""
    private, public = hq.generate_diffie_hellman_params_and_key(group="x25519")
    transcript = Transcript.of(terminal.public, public, initiator=terminal.name, responder="head-office")
    signature = sign_transcript(hq, signer, transcript, role="responder")
    with contextlib.redirect_stdout(io.StringIO()):
        confirmation = terminal.answer(public, signature)
    return private, transcript, confirmation


def test_the_arrivals_the_thief_first_and_the_sheet() -> None:
    case = incident()
    thief, replacement = case.arrivals
    assert thief is impostor(case)
    assert replacement is genuine(case)
    assert thief.name == replacement.name  # both say they are the replacement
    assert repr(thief) == repr(replacement)
    assert thief.identity != replacement.identity


def test_q3_other_correct_answers() -> None:
    names = solve(incident(), 2)
    hq, case = names["hq"], names["case"]
    terminal = genuine(case)  # only the genuine one, told apart by its confirmation: the thief never talked
    private, transcript, confirmation = exchange(hq, terminal)
    verify_transcript(case.installer_sheet, transcript, confirmation, role="initiator")
    hq.derive_shared_key("shop-1-new", private, terminal.public.pem, transcript=transcript)  # as PEM, any id
    accepted(q3, hq, "shop-1-new")
    names = solve(incident(), 2)  # the thief enrolled by mistake, then revoked: the outcome is right
    hq, case = names["hq"], names["case"]
    private, transcript, _ = exchange(hq, impostor(case))
    hq.derive_shared_key("link-3", private, impostor(case).public, transcript=transcript)
    refused(q3, hq, "link-3", because="with the thief's terminal")
    hq.invalidate_key("link-3", reason="the thief's terminal, enrolled by mistake")
    private, transcript, confirmation = exchange(hq, genuine(case))
    verify_transcript(case.installer_sheet, transcript, confirmation, role="initiator")
    hq.derive_shared_key("link-4", private, genuine(case).public, transcript=transcript)
    accepted(q3, hq, "link-4")
    names = solve(incident(), 3)  # the published solution, then a second enrollment: both keys are the terminal's
    hq, case = names["hq"], names["case"]
    private, transcript, _ = exchange(hq, genuine(case))
    hq.derive_shared_key("link-4", private, genuine(case).public, transcript=transcript)
    accepted(q3, hq, "link-4")
    accepted(q3, hq, "link-3")


def test_q3_refuses_the_thief_enrolled_by_a_lazy_loop() -> None:
    """No check of the confirmation, or a check against the terminal's own claimed identity: the thief gets in."""
    for trusted in (None, "claimed"):
        names = solve(incident(), 2)
        hq, case = names["hq"], names["case"]
        for n, terminal in enumerate(case.arrivals):
            private, transcript, confirmation = exchange(hq, terminal)
            if trusted == "claimed":
                verify_transcript(terminal.identity, transcript, confirmation, role="initiator")  # it holds
            hq.derive_shared_key(f"link-{3 + n}", private, terminal.public, transcript=transcript)
        refused(q3, hq, "link-3", because="with the thief's terminal")
        refused(q3, hq, "link-4", because="revoke 'link-3'")  # the genuine link, but the thief's is still live
        hq.invalidate_key("link-3", reason="the thief's terminal, enrolled by mistake")
        accepted(q3, hq, "link-4")  # the outcome is right now


def test_q3_refuses_an_unauthenticated_exchange_and_a_wrong_try_spoils_nothing() -> None:
    names = solve(incident(), 2)
    hq, case = names["hq"], names["case"]
    terminal = genuine(case)
    # Lazy: plain Diffie-Hellman, no signature, no transcript (what the old capstone taught).
    private, _ = hq.generate_diffie_hellman_params_and_key(group="x25519")
    hq.derive_shared_key("link-3", private, terminal.public)
    refused(q3, hq, "link-3", because="never accepted head office's side")
    # Signed, but head office's key is derived without the transcript: not the terminal's key.
    private, _, _ = exchange(hq, terminal)
    hq.derive_shared_key("link-4", private, terminal.public)
    refused(q3, hq, "link-4", because="transcript=")
    # The right exchange, under a new id: the wrong tries took neither the terminal nor the exercise.
    private, transcript, confirmation = exchange(hq, terminal)
    verify_transcript(case.installer_sheet, transcript, confirmation, role="initiator")
    hq.derive_shared_key("link-5", private, terminal.public, transcript=transcript)
    accepted(q3, hq, "link-5")
    refused(q3, hq, "link-3", because="is not the key the replacement derived")  # now it has accepted one


def test_q3_refuses_a_signature_by_another_key_old_ids_and_odd_ids() -> None:
    names = solve(incident(), 2)
    hq, case = names["hq"], names["case"]
    hq.generate_signing_key("hq-id-2")
    private, transcript, confirmation = exchange(hq, genuine(case), signer="hq-id-2")
    assert confirmation is None  # the terminal trusts hq-id's public key alone
    hq.derive_shared_key("link-3", private, genuine(case).public, transcript=transcript)
    refused(q3, hq, "link-3", because="never accepted")
    refused(q3, hq, "link-1", because="not made by derive_shared_key after the theft")
    refused(q3, hq, "link-9", because="no key 'link-9'")
    refused(q3, hq, 3, because="the id (a str)")
    refused(q3, incident().hq, "link-3", because="no key 'link-3'")


def test_the_terminal_refuses_blanks_and_bad_signatures_in_words() -> None:
    case = incident()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert genuine(case).answer(exercises.blank, exercises.blank) is None
        assert genuine(case).answer("not a key", "not a signature") is None
    assert "replace the blanks" in out.getvalue()
    assert "The terminal refused" in out.getvalue()
    assert genuine(case).fingerprints == ()  # a tuple: nothing to append a fingerprint to by hand


# ---------------------------------------------------------------- q4: what the auditor can prove


def test_q4_other_correct_answers() -> None:
    names = solve(incident(), 3)
    hq = names["hq"]
    hq.sign_audit_checkpoint("auditor")
    later = hq.sign_audit_checkpoint("auditor")  # the newest of two
    accepted(q4, hq, later)
    hq.encrypt_data_aes("link-3", "sales=1990", associated_data="2026-01-08")  # the log grows after it: growth
    accepted(q4, hq, later)


def test_q4_refuses_the_old_checkpoint_an_early_one_other_keys_and_truncation() -> None:
    case = incident()
    hq = case.hq
    early = hq.sign_audit_checkpoint("auditor")  # before the response
    names = solve(case, 3)
    refused(q4, hq, case.auditor_checkpoint, because="the one of 5 January")
    refused(q4, hq, early, because="signed too early")
    refused(q4, hq, hq.sign_audit_checkpoint("hq-id"), because="signed with hq-id")
    hq.generate_signing_key("auditor-2", algorithm="ml-dsa-65")
    refused(q4, hq, hq.sign_audit_checkpoint("auditor-2"), because="auditor's public key")
    right = hq.sign_audit_checkpoint("auditor")
    for cut in (right[:20], right[:30], ":".join(right.split(":")[:4])):
        refused(q4, hq, cut, because="cut short")
    refused(q4, hq, right[:-8], because="does not extend")
    refused(q4, hq, None, because="sign_audit_checkpoint returned")
    other = incident()
    refused(q4, other.hq, right, because="does not extend")
    accepted(q4, hq, right)
    assert "checkpoint" not in names  # exercise 4's own solution was not run: this was all the test's


def test_q4_wants_the_response_done_first() -> None:
    case = incident()
    names = solve(case, 2)
    refused(q4, names["hq"], names["hq"].sign_audit_checkpoint("auditor"), because="finish the response first")
    hq = names["hq"]  # a new link, but the thief's: the response is not finished
    private, transcript, _ = exchange(hq, impostor(case))
    hq.derive_shared_key("link-3", private, impostor(case).public, transcript=transcript)
    refused(q4, hq, hq.sign_audit_checkpoint("auditor"), because="finish the response first")


def test_q4_the_auditor_checks_with_the_public_key_and_the_earlier_checkpoint() -> None:
    from kmslib import AuditLog

    names = solve(incident(), 4)
    case, export = names["case"], names["hq"].audit_log.to_jsonl()
    for checkpoint in (case.auditor_checkpoint, names["checkpoint"]):
        assert AuditLog.verify_jsonl(export, checkpoint=checkpoint, public_key=case.auditor_public_key)
    lines = export.splitlines()
    cut = "\n".join(lines[:-3])  # the response's tail cut off before the new checkpoint's count
    assert not AuditLog.verify_jsonl(cut, checkpoint=names["checkpoint"], public_key=case.auditor_public_key)
    assert AuditLog.verify_jsonl(cut, checkpoint=case.auditor_checkpoint, public_key=case.auditor_public_key)


def test_q4_the_auditor_trusts_the_auditor_key_through_its_certificate_and_a_fresh_crl() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from kmslib.relying import certified_key

    case = incident()
    assert case.authority is not None
    certificate = x509.load_pem_x509_certificate(case.auditor_certificate.encode())
    assert certificate.issuer.rfc4514_string() == "CN=Head Office Root CA,O=Example"
    key = certified_key(
        case.auditor_certificate,
        trust_anchor=case.authority.certificate,
        crl=case.authority.crl(),
        at=case.authority.now(),
    )
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert pem == case.auditor_public_key  # the key the certificate names is the one that signs checkpoints


def test_q4_a_compromised_auditor_key_revokes_its_certificate_and_the_auditor_refuses() -> None:
    names = solve(incident(), 3)
    hq = names["hq"]
    checkpoint = hq.sign_audit_checkpoint("auditor")  # signed after the response...
    accepted(q4, hq, checkpoint)
    hq.mark_compromised("auditor", reason="to be safe")  # ...then the wrong decision
    refused(q4, hq, checkpoint, because="revoked")
    refused(q4, hq, checkpoint, because="key_compromise")


def test_q4_a_rotated_root_ca_can_publish_no_crl_and_the_auditor_cannot_decide() -> None:
    names = solve(incident(), 3)
    hq = names["hq"]
    checkpoint = hq.sign_audit_checkpoint("auditor")
    hq.rotate_key("hq-root")
    refused(q4, hq, checkpoint, because="can no longer publish a CRL")


# ---------------------------------------------------------------- the picture


def test_the_timeline_draws_every_key_the_theft_and_the_response() -> None:
    case = incident()
    before = pictures.incident_timeline(case.hq.audit_log, reported=capstone.REPORTED, exposed=["link-1"])
    labels = {label.get_text() for ax in before.axes for label in ax.get_yticklabels()}
    assert {"archive", "link-1", "link-2", "hq-id", "auditor", "hq-root"} <= labels
    words = " ".join(t.get_text() for ax in before.axes for t in ax.texts)
    assert "theft reported" in words
    assert "exposed" in before.axes[0].get_legend_handles_labels()[1]
    names = solve(case, 4)
    after = pictures.incident_timeline(names["hq"].audit_log, reported=capstone.REPORTED)
    labels = {label.get_text() for ax in after.axes for label in ax.get_yticklabels()}
    assert "link-3" in labels
    marks = {m for ax in after.axes for m in (ax.get_legend_handles_labels()[1])}
    assert {"revoked", "checkpoint", "made", "rotated", "used"} <= marks
    assert "exposed" not in marks  # only the keys asked for


# ---------------------------------------------------------------- the quiz and the notebook


def test_the_quiz_explains_every_answer_with_a_source() -> None:
    quiz = capstone.quiz
    assert 3 <= len(quiz.questions) <= 5
    for number, question in enumerate(quiz.questions, 1):
        assert verdict_of_quiz(quiz, number, question.answer)
        assert not any(verdict_of_quiz(quiz, number, other) for other in question.choices if other != question.answer)
        assert any(source in question.why for source in ("NIST SP", "RFC", "README", "CRYPTO")), question.why
        assert len(question.choices) == 4
    shredding = quiz.questions[1]
    assert "backups" in shredding.choices[shredding.answer]
    assert "Crypto-shredding" in shredding.choices["a"]  # the tempting wrong name for a migration
    checkpoint = quiz.questions[3]
    assert "Certificate Transparency" in checkpoint.choices["c"]
    assert checkpoint.answer != "c"


def verdict_of_quiz(quiz: exercises.Quiz, number: int, letter: str) -> bool:
    with contextlib.redirect_stdout(io.StringIO()):
        return bool(quiz.answer(number, letter))


def test_the_notebook_asks_each_exercise_and_says_true_things() -> None:
    import json

    from helpers import ROOT

    cells = json.loads((ROOT / "notebooks" / "12_capstone.ipynb").read_text())["cells"]
    source = ["".join(c["source"]) for c in cells]
    code = "\n".join(s for s, c in zip(source, cells, strict=True) if c["cell_type"] == "code")
    markdown = "\n".join(s for s, c in zip(source, cells, strict=True) if c["cell_type"] == "markdown")
    for n in range(1, 5):
        assert f"q{n}.check(" in code
    assert all(f"quiz.answer({n}, " in code for n in range(1, 5))
    assert "every key leaves memory" not in markdown  # closing does not wipe memory (lesson 04)
    assert "shows the whole story" not in markdown
    assert "as CT's signed tree heads" not in markdown
    assert "migration, not an erasure" in markdown
    assert "SP 800-88" in markdown
    assert "accept_key_exchange(" not in code  # the replacement enrolls by a signed exchange, not a bare one
    assert "sign_transcript" in markdown + code
