"""Key states and cryptoperiods (contract section 13; NIST SP 800-57 Pt 1 Rev 5, sections 5.3 and 7)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from helpers import leaks
from kmslib import (
    REVOCATION_SUCCESSFUL,
    ArgumentTypeError,
    InvalidInputError,
    KeyCustodian,
    KeyNotFoundError,
    KeyRevokedError,
    KeyStateError,
    SignatureError,
    classroom_clock,
    inspect_token,
)
from kmslib.clock import ClassroomClock
from kmslib.states import KEY_TRANSITIONS, STATES, VERSION_TRANSITIONS

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
KEY = bytes(range(100, 132))


@pytest.fixture
def clock() -> ClassroomClock:  # type: ignore[override]
    return classroom_clock(START)


@pytest.fixture
def kms(clock: ClassroomClock) -> KeyCustodian:
    return KeyCustodian(clock=clock)


def key_in(kms: KeyCustodian, clock: ClassroomClock, state: str, key_id: str = "k") -> None:
    """Make an AES-GCM key ``key_id`` in ``state`` by legal transitions."""
    if state == "pre-activation":
        kms.establish_aes_key(key_id, activate_at=clock() + HOUR)
        return
    kms.establish_aes_key(key_id)
    if state == "suspended":
        kms.suspend_key(key_id, reason="investigating")
    elif state == "deactivated":
        kms.deactivate_key(key_id, reason="end of its cryptoperiod")
    elif state == "compromised":
        kms.mark_compromised(key_id, reason="found on a paste site")
    elif state == "revoked":
        kms.invalidate_key(key_id)
    assert kms.key_info(key_id).state == state


# ---------------------------------------------------------------- the state machine

TRANSITION_CALLS: dict[str, Callable[[KeyCustodian, str], object]] = {
    "active": lambda kms, key_id: kms.resume_key(key_id),
    "suspended": lambda kms, key_id: kms.suspend_key(key_id),
    "deactivated": lambda kms, key_id: kms.deactivate_key(key_id),
    "compromised": lambda kms, key_id: kms.mark_compromised(key_id, reason="leaked"),
    "revoked": lambda kms, key_id: kms.invalidate_key(key_id),
}
LEGAL = {
    ("pre-activation", "compromised"),
    ("pre-activation", "revoked"),
    ("active", "suspended"),
    ("active", "deactivated"),
    ("active", "compromised"),
    ("active", "revoked"),
    ("suspended", "active"),
    ("suspended", "deactivated"),
    ("suspended", "compromised"),
    ("suspended", "revoked"),
    ("deactivated", "compromised"),
    ("deactivated", "revoked"),
    ("compromised", "revoked"),
}
ALL_PAIRS = [(a, b) for a in STATES for b in TRANSITION_CALLS]


def test_the_tables_are_sp_800_57s_diagram_with_revocation_from_every_state() -> None:
    assert {(a, b) for a, targets in KEY_TRANSITIONS.items() for b in targets} == LEGAL | {("pre-activation", "active")}
    assert set(STATES) == {"pre-activation", "active", "suspended", "deactivated", "compromised", "revoked"}
    assert VERSION_TRANSITIONS["active"] == {"deactivated", "compromised", "revoked"}


@pytest.mark.parametrize(("start", "target"), sorted(LEGAL))
def test_every_legal_transition_is_made_audited_and_shown(
    kms: KeyCustodian, clock: ClassroomClock, start: str, target: str
) -> None:
    key_in(kms, clock, start)
    result = TRANSITION_CALLS[target](kms, "k")
    assert kms.key_info("k").state == target
    if target == "revoked":
        assert result == REVOCATION_SUCCESSFUL
    else:
        assert result == kms.key_info("k")
    last = kms.audit_log[-1]
    assert (last.key_id, last.outcome) == ("k", "ok")
    assert [info.state for info in kms.list_keys()] == [target]


@pytest.mark.parametrize(("start", "target"), [pair for pair in ALL_PAIRS if pair not in LEGAL])
def test_every_illegal_transition_is_refused_naming_the_state(
    kms: KeyCustodian, clock: ClassroomClock, start: str, target: str
) -> None:
    key_in(kms, clock, start)
    before = kms.key_info("k")
    expected = KeyRevokedError if start == "revoked" else KeyStateError
    with pytest.raises(expected, match=start) as caught:
        TRANSITION_CALLS[target](kms, "k")
    assert kms.key_info("k") == before
    assert kms.audit_log[-1].outcome == expected.__name__
    assert leaks(caught.value, []) == []


def test_a_key_made_for_later_activates_by_the_clock_and_not_before(kms: KeyCustodian, clock: ClassroomClock) -> None:
    info = kms.establish_aes_key("k", activate_at=clock() + HOUR)
    assert (info.state, info.activate_at) == ("pre-activation", START + HOUR)
    for use in (lambda: kms.encrypt_data_aes("k", "x"), lambda: kms.rotate_key("k")):
        with pytest.raises(KeyStateError, match="pre-activation"):
            use()
    clock.advance(HOUR)
    assert kms.key_info("k").state == "active"
    token = kms.encrypt_data_aes("k", "now")
    assert kms.decrypt_data_aes("k", token) == "now"
    assert ("activate_key", "k", "ok") in [(e.operation, e.key_id, e.outcome) for e in kms.audit_log]
    assert kms.key_info("k").activate_at == START + HOUR  # when it became active stays on record


def test_activate_at_in_the_past_or_now_makes_an_active_key_and_bad_values_are_refused(
    kms: KeyCustodian, clock: ClassroomClock
) -> None:
    assert kms.establish_aes_key("now", activate_at=clock()).state == "active"
    with pytest.raises(ArgumentTypeError, match="activate_at"):
        kms.establish_aes_key("bad", activate_at="tomorrow")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="timezone"):
        kms.establish_aes_key("naive", activate_at=datetime(2030, 1, 1))
    assert "bad" not in kms
    assert "naive" not in kms


def test_a_suspended_key_does_nothing_until_resumed(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    token = kms.encrypt_data_aes("k", "before")
    kms.suspend_key("k", reason="investigating")
    assert kms.key_info("k").reason == "investigating"
    for use in (
        lambda: kms.encrypt_data_aes("k", "x"),
        lambda: kms.decrypt_data_aes("k", token),
        lambda: kms.rewrap("k", token),
        lambda: kms.generate_data_key("k"),
        lambda: kms.rotate_key("k"),
    ):
        with pytest.raises(KeyStateError, match="suspended"):
            use()
    kms.resume_key("k")
    assert kms.decrypt_data_aes("k", token) == "before"
    assert kms.decrypt_data_aes("k", kms.encrypt_data_aes("k", "after")) == "after"


def test_a_deactivated_key_decrypts_and_unwraps_but_never_encrypts_or_wraps(kms: KeyCustodian) -> None:
    kms.establish_aes_key("kek")
    token = kms.encrypt_data_aes("kek", "old")
    envelope = kms.encrypt_envelope("kek", b"data")
    data_key = kms.generate_data_key("kek")
    kms.deactivate_key("kek", reason="end of its cryptoperiod")
    assert kms.decrypt_data_aes("kek", token) == "old"
    assert kms.decrypt_envelope("kek", envelope) == b"data"
    assert kms.decrypt_data_aes("kek", data_key.wrapped, encoding=None) == data_key.plaintext
    for use in (
        lambda: kms.encrypt_data_aes("kek", "new"),
        lambda: kms.encrypt_envelope("kek", b"new"),
        lambda: kms.generate_data_key("kek"),
        lambda: kms.generate_data_key_without_plaintext("kek"),
        lambda: kms.rewrap("kek", token),
        lambda: kms.rewrap_envelope("kek", envelope),
        lambda: kms.rotate_key("kek"),
    ):
        with pytest.raises(KeyStateError, match="deactivated"):
            use()


def test_a_deactivated_rsa_key_decrypts_but_never_encrypts(kms: KeyCustodian, rsa_pems: Callable[[int], str]) -> None:
    kms.import_rsa_key("rsa", rsa_pems(0))
    token = kms.encrypt_data_rsa("rsa", "old")
    kms.deactivate_key("rsa")
    assert kms.decrypt_data_rsa("rsa", token) == "old"
    with pytest.raises(KeyStateError, match="deactivated"):
        kms.encrypt_data_rsa("rsa", "new")


def test_a_deactivated_signing_key_verifies_but_never_signs(kms: KeyCustodian) -> None:
    kms.generate_signing_key("s")
    signature = kms.sign("s", "release 1.0")
    kms.deactivate_key("s")
    kms.verify("s", "release 1.0", signature)
    with pytest.raises(SignatureError):
        kms.verify("s", "release 2.0", signature)
    for use in (lambda: kms.sign("s", "release 2.0"), lambda: kms.sign_audit_checkpoint("s")):
        with pytest.raises(KeyStateError, match="deactivated"):
            use()


def test_a_compromised_key_refuses_every_use_unless_the_owner_reads_old_data(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    kms.generate_signing_key("s")
    token = kms.encrypt_data_aes("k", "old")
    envelope = kms.encrypt_envelope("k", b"old data")
    signature = kms.sign("s", "old")
    kms.mark_compromised("k", reason="found on a paste site")
    kms.mark_compromised("s", reason="the HSM was stolen")
    assert kms.key_info("k").reason == "found on a paste site"
    for use in (
        lambda: kms.encrypt_data_aes("k", "x"),
        lambda: kms.decrypt_data_aes("k", token),
        lambda: kms.decrypt_envelope("k", envelope),
        lambda: kms.generate_data_key("k"),
        lambda: kms.sign("s", "x"),
        lambda: kms.verify("s", "old", signature),
        lambda: kms.encrypt_data_aes("k", "x", allow_compromised=True),  # type: ignore[call-arg]
    ):
        with pytest.raises((KeyStateError, TypeError), match="compromised"):
            use()
    assert kms.decrypt_data_aes("k", token, allow_compromised=True) == "old"
    assert kms.decrypt_envelope("k", envelope, allow_compromised=True) == b"old data"
    kms.verify("s", "old", signature, allow_compromised=True)
    reads = [(e.operation, e.key_id, e.version) for e in kms.audit_log if e.operation == "allow_compromised"]
    assert reads == [("allow_compromised", "k", 1), ("allow_compromised", "k", 1), ("allow_compromised", "s", 1)]


def test_public_keys_are_exported_only_by_keys_whose_state_allows_verifying(
    kms: KeyCustodian, clock: ClassroomClock
) -> None:
    kms.generate_signing_key("later", activate_at=clock() + HOUR)
    for key_id, change in (
        ("suspended", lambda: kms.suspend_key("suspended")),
        ("compromised", lambda: kms.mark_compromised("compromised", reason="leaked")),
        ("deactivated", lambda: kms.deactivate_key("deactivated")),
    ):
        kms.generate_signing_key(key_id)
        change()
    for key_id in ("later", "suspended", "compromised"):
        with pytest.raises(KeyStateError):
            kms.export_public_key(key_id)
    assert kms.export_public_key("deactivated").startswith("-----BEGIN PUBLIC KEY-----")


def test_mark_compromised_needs_a_reason(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    with pytest.raises(TypeError):
        kms.mark_compromised("k")  # type: ignore[call-arg]
    for bad in ("", "   "):
        with pytest.raises(InvalidInputError, match="reason"):
            kms.mark_compromised("k", reason=bad)
    with pytest.raises(ArgumentTypeError, match="reason"):
        kms.mark_compromised("k", reason=7)  # type: ignore[arg-type]
    assert kms.key_info("k").state == "active"


# ---------------------------------------------------------------- version states


def test_a_compromised_version_is_refused_while_the_others_work(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    old = kms.encrypt_data_aes("k", "v1")
    kms.rotate_key("k")
    new = kms.encrypt_data_aes("k", "v2")
    info = kms.mark_compromised("k", version=1, reason="a backup tape of v1 was lost")
    assert info.state == "active"
    assert info.version_states == ((1, "compromised"), (2, "active"))
    with pytest.raises(KeyStateError, match=r"version 1 .*compromised"):
        kms.decrypt_data_aes("k", old)
    with pytest.raises(KeyStateError, match=r"version 1 .*compromised"):
        kms.rewrap("k", old)
    assert kms.decrypt_data_aes("k", old, allow_compromised=True) == "v1"
    assert kms.decrypt_data_aes("k", new) == "v2"
    assert kms.decrypt_data_aes("k", kms.encrypt_data_aes("k", "v2 again")) == "v2 again"


def test_compromising_the_newest_version_stops_encryption_until_a_rotation(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    kms.mark_compromised("k", version=1, reason="leaked")
    with pytest.raises(KeyStateError, match="compromised"):
        kms.encrypt_data_aes("k", "x")
    kms.rotate_key("k")
    assert kms.encrypt_data_aes("k", "x").startswith("kms:v2:")


def test_version_transitions_legal_and_illegal(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    kms.rotate_key("k")
    kms.rotate_key("k")
    assert kms.deactivate_key("k", version=1).version_states[0] == (1, "deactivated")
    with pytest.raises(KeyStateError, match="deactivated"):
        kms.deactivate_key("k", version=1)
    kms.mark_compromised("k", version=1, reason="leaked")
    for call in (lambda: kms.deactivate_key("k", version=1), lambda: kms.mark_compromised("k", version=1, reason="r")):
        with pytest.raises(KeyStateError, match="compromised"):
            call()
    kms.invalidate_key("k", version=1)
    with pytest.raises(KeyRevokedError, match="revoked"):
        kms.deactivate_key("k", version=1)
    kms.mark_compromised("k", version=2, reason="leaked too")
    assert kms.key_info("k").version_states == ((1, "revoked"), (2, "compromised"), (3, "active"))
    with pytest.raises(InvalidInputError, match="newest"):
        kms.deactivate_key("k", version=3)
    for missing in (0, 4):
        with pytest.raises(KeyNotFoundError):
            kms.deactivate_key("k", version=missing)


def test_transitions_are_audited_with_their_version(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    kms.rotate_key("k")
    kms.deactivate_key("k", version=1)
    kms.suspend_key("k")
    kms.resume_key("k")
    kms.mark_compromised("k", reason="leaked")
    ops = [(e.operation, e.version, e.outcome) for e in kms.audit_log][-4:]
    assert ops == [
        ("deactivate_key", 1, "ok"),
        ("suspend_key", None, "ok"),
        ("resume_key", None, "ok"),
        ("mark_compromised", None, "ok"),
    ]


def test_unknown_keys_and_bad_arguments(kms: KeyCustodian) -> None:
    for call in (
        lambda: kms.suspend_key("nope"),
        lambda: kms.resume_key("nope"),
        lambda: kms.deactivate_key("nope"),
        lambda: kms.mark_compromised("nope", reason="r"),
        lambda: kms.set_rotation_policy("nope", rotate_every=HOUR),
    ):
        with pytest.raises(KeyNotFoundError):
            call()
    kms.establish_aes_key("k")
    with pytest.raises(ArgumentTypeError, match="version"):
        kms.deactivate_key("k", version="1")  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match="reason"):
        kms.suspend_key("k", reason=b"bytes")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="500"):
        kms.suspend_key("k", reason="x" * 501)


# ---------------------------------------------------------------- cryptoperiods


def test_a_key_rotates_on_its_first_use_after_the_period(kms: KeyCustodian, clock: ClassroomClock) -> None:
    kms.establish_aes_key("k")
    info = kms.set_rotation_policy("k", rotate_every=timedelta(days=90))
    assert info.policy is not None
    assert info.policy.rotate_every == timedelta(days=90)
    old = kms.encrypt_data_aes("k", "v1")
    clock.advance(timedelta(days=89))
    assert inspect_token(kms.encrypt_data_aes("k", "still v1")).version == 1
    clock.advance(timedelta(days=1))
    token = kms.encrypt_data_aes("k", "v2")
    assert inspect_token(token).version == 2
    assert kms.decrypt_data_aes("k", old) == "v1"
    ops = [(e.operation, e.version) for e in kms.audit_log][-3:]
    assert ops == [("rotate_key_by_policy", 2), ("encrypt_data_aes", 2), ("decrypt_data_aes", 1)]
    assert kms.key_info("k").version_states == ((1, "active"), (2, "active"))


def test_rewrap_after_the_period_rotates_first_and_rewraps_under_the_new_version(
    kms: KeyCustodian, clock: ClassroomClock
) -> None:
    kms.establish_aes_key("k")
    kms.set_rotation_policy("k", rotate_every=timedelta(days=30))
    token = kms.encrypt_data_aes("k", "old")
    clock.advance(timedelta(days=30))
    assert inspect_token(kms.rewrap("k", token)).version == 2


def test_several_periods_passed_rotate_once(kms: KeyCustodian, clock: ClassroomClock) -> None:
    kms.establish_aes_key("k")
    kms.set_rotation_policy("k", rotate_every=timedelta(days=30))
    clock.advance(timedelta(days=100))
    assert kms.key_info("k").version == 2  # looking counts as a use: the notebook sees the rotation
    assert [e.operation for e in kms.audit_log].count("rotate_key_by_policy") == 1


def test_old_versions_are_deactivated_not_destroyed_after_deactivate_after(
    kms: KeyCustodian, clock: ClassroomClock
) -> None:
    kms.generate_signing_key("s")
    kms.set_rotation_policy("s", rotate_every=timedelta(days=30), deactivate_after=timedelta(days=7))
    first = kms.sign("s", "v1")
    clock.advance(timedelta(days=30))
    assert inspect_token(kms.sign("s", "v2")).version == 2
    clock.advance(timedelta(days=6))
    assert kms.key_info("s").version_states == ((1, "active"), (2, "active"))
    clock.advance(timedelta(days=1))
    info = kms.key_info("s")
    assert info.version_states == ((1, "deactivated"), (2, "active"))
    assert info.state == "active"
    assert info.revoked_versions == ()
    kms.verify("s", "v1", first)  # deactivated: still verifies
    assert [e.operation for e in kms.audit_log].count("deactivate_key_by_policy") == 1


def test_a_suspended_or_deactivated_key_does_not_rotate_by_policy(kms: KeyCustodian, clock: ClassroomClock) -> None:
    kms.establish_aes_key("k")
    kms.set_rotation_policy("k", rotate_every=HOUR)
    kms.suspend_key("k")
    clock.advance(2 * HOUR)
    assert kms.key_info("k").version == 1
    kms.resume_key("k")
    assert inspect_token(kms.encrypt_data_aes("k", "x")).version == 2


def test_max_uses_at_the_limit_without_rotate_every_is_a_key_state_error(kms: KeyCustodian) -> None:
    kms.import_aes_key("k", KEY)
    kms.set_rotation_policy("k", max_uses=3)
    token = kms.encrypt_data_aes("k", "1")
    kms.generate_data_key("k")
    kms.encrypt_envelope("k", b"3")
    for _ in range(3):
        assert kms.decrypt_data_aes("k", token) == "1"  # decryptions are not counted
    with pytest.raises(KeyStateError, match="max_uses") as caught:
        kms.encrypt_data_aes("k", "fourth secret")
    # The public method's frame keeps the arguments the caller passed (the caller's frame holds them too).
    found = leaks(caught.value, [b"fourth secret", KEY])
    assert [f for f in found if "encrypt_data_aes local 'plaintext'" not in f] == []
    kms.rotate_key("k")
    assert kms.encrypt_data_aes("k", "fresh count").startswith("kms:v2:")


@pytest.mark.parametrize("kind", ["aes-cbc", "rsa", "signing"])
def test_max_uses_counts_every_kind_of_key(kms: KeyCustodian, kind: str, rsa_pems: Callable[[int], str]) -> None:
    use: Callable[[], str]
    if kind == "aes-cbc":
        kms.establish_aes_key("k", mode="cbc")
        use = lambda: kms.encrypt_data_aes("k", "x")  # noqa: E731
    elif kind == "rsa":
        kms.import_rsa_key("k", rsa_pems(0))
        use = lambda: kms.encrypt_data_rsa("k", "x")  # noqa: E731
    else:
        kms.generate_signing_key("k")
        use = lambda: kms.sign("k", "x")  # noqa: E731
    kms.set_rotation_policy("k", max_uses=2)
    use()
    use()
    with pytest.raises(KeyStateError, match="max_uses"):
        use()


def test_max_uses_at_the_limit_rotates_when_the_policy_has_rotate_every(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    kms.set_rotation_policy("k", rotate_every=timedelta(days=365), max_uses=2)
    versions = [inspect_token(kms.encrypt_data_aes("k", str(i))).version for i in range(5)]
    assert versions == [1, 1, 2, 2, 3]
    assert [e.operation for e in kms.audit_log].count("rotate_key_by_policy") == 2


def test_max_uses_is_capped_by_the_gcm_invocation_limit(clock: ClassroomClock) -> None:
    kms = KeyCustodian(clock=clock, gcm_invocation_limit=2)
    kms.establish_aes_key("k")
    kms.set_rotation_policy("k", max_uses=10)
    kms.encrypt_data_aes("k", "1")
    kms.encrypt_data_aes("k", "2")
    with pytest.raises(KeyStateError, match="SP 800-38D"):
        kms.encrypt_data_aes("k", "3")


def test_set_rotation_policy_checks_its_arguments_and_none_clears_it(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    for kwargs, error in (
        ({"rotate_every": 3600}, ArgumentTypeError),
        ({"rotate_every": timedelta(0)}, InvalidInputError),
        ({"deactivate_after": timedelta(seconds=-1)}, InvalidInputError),
        ({"max_uses": 0}, InvalidInputError),
        ({"max_uses": True}, ArgumentTypeError),
        ({"max_uses": 2**40}, InvalidInputError),
        ({"max_uses": 2**32 + 1}, InvalidInputError),  # never above AES-GCM's 2**32 (SP 800-38D section 8.3)
    ):
        with pytest.raises(error):
            kms.set_rotation_policy("k", **kwargs)  # type: ignore[arg-type]
    assert kms.key_info("k").policy is None
    assert kms.set_rotation_policy("k", max_uses=2**32).policy.max_uses == 2**32  # type: ignore[union-attr]
    kms.set_rotation_policy("k", rotate_every=HOUR)
    assert kms.set_rotation_policy("k").policy is None
    assert kms.audit_log[-1].operation == "set_rotation_policy"


def test_key_info_and_its_repr_show_state_and_policy_and_no_secret(kms: KeyCustodian) -> None:
    kms.import_aes_key("k", bytes(range(32)))
    kms.set_rotation_policy("k", rotate_every=timedelta(days=90), max_uses=1000)
    kms.suspend_key("k", reason="audit")
    text = repr(kms.key_info("k")) + str(kms.list_keys())
    assert "state='suspended'" in text
    assert "rotate_every=90 days" in text
    assert "max_uses=1000" in text
    assert bytes(range(32)).hex() not in text


# ---------------------------------------------------------------- the classroom clock


def test_the_classroom_clock_stands_still_until_advanced() -> None:
    clock = classroom_clock()
    first = clock()
    assert clock() == first
    assert first.tzinfo is UTC
    clock.advance(timedelta(minutes=5))
    assert clock() - first == timedelta(minutes=5)
    with pytest.raises(InvalidInputError):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(ArgumentTypeError):
        clock.advance(5)  # type: ignore[arg-type]
    assert "2026" in repr(clock)


def test_state_refusals_hold_no_secret_in_their_traceback(kms: KeyCustodian) -> None:
    kms.import_aes_key("k", KEY)
    token = kms.encrypt_data_aes("k", "the secret plaintext")
    envelope = kms.encrypt_envelope("k", b"the secret envelope data")
    kms.generate_signing_key("s")
    signature = kms.sign("s", "the signed secret")
    kms.suspend_key("k")
    kms.mark_compromised("s", reason="leaked")
    calls: list[Callable[[], object]] = [
        lambda: kms.decrypt_data_aes("k", token),
        lambda: kms.decrypt_envelope("k", envelope),
        lambda: kms.rewrap("k", token),
        lambda: kms.generate_data_key("k"),
        lambda: kms.verify("s", "the signed secret", signature),
        lambda: kms.sign("s", "another secret"),
    ]
    for call in calls:
        with pytest.raises(KeyStateError) as caught:
            call()
        found = leaks(caught.value, [b"the secret plaintext", b"the secret envelope data", KEY])
        assert found == [], call
        assert "secret" not in str(caught.value)
