"""Principals, credentials, key policies on the custodian, and the audit log naming who called (section 11)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import kmslib
from helpers import StepClock, allow, deny, leaks, policy
from kmslib import AccessDeniedError, AuditLog, InvalidInputError, KeyCustodian, KeyNotFoundError
from kmslib.policy import METHOD_ACTIONS
from kmslib.principals import CREDENTIAL_INVALID


class World:
    """A custodian with one key of each kind, things the owner made with them, and alice's view."""

    def __init__(self, pem: str) -> None:
        self.kms = KeyCustodian(clock=StepClock())
        self.kms.establish_aes_key("aes")
        self.kms.import_rsa_key("rsa", pem)
        self.kms.generate_signing_key("sig")
        self.token = self.kms.encrypt_data_aes("aes", "hello")
        self.rsa_token = self.kms.encrypt_data_rsa("rsa", "hello")
        self.sealed = self.kms.encrypt_envelope("aes", b"hello")
        self.signature = self.kms.sign("sig", "hello")
        self.grant_id = self.kms.create_grant("aes", "carol", ["kms:Decrypt"])
        self.credential = self.kms.issue_credential("alice")
        self.alice = self.kms.as_principal(self.credential)

    def everyone(self, document: dict[str, object]) -> None:
        for key_id in ("aes", "rsa", "sig"):
            self.kms.set_key_policy(key_id, document)


#: One call of every custodian method that acts on an existing key, as alice: (its key, the call).
CALLS: dict[str, tuple[str, Callable[[KeyCustodian, World], object]]] = {
    "encrypt_data_aes": ("aes", lambda v, w: v.encrypt_data_aes("aes", "x")),
    "decrypt_data_aes": ("aes", lambda v, w: v.decrypt_data_aes("aes", w.token)),
    "encrypt_data_rsa": ("rsa", lambda v, w: v.encrypt_data_rsa("rsa", "x")),
    "decrypt_data_rsa": ("rsa", lambda v, w: v.decrypt_data_rsa("rsa", w.rsa_token)),
    "decrypt_envelope": ("aes", lambda v, w: v.decrypt_envelope("aes", w.sealed)),
    "generate_data_key": ("aes", lambda v, w: v.generate_data_key("aes")),
    "encrypt_envelope": ("aes", lambda v, w: v.encrypt_envelope("aes", b"x")),
    "generate_data_key_without_plaintext": ("aes", lambda v, w: v.generate_data_key_without_plaintext("aes")),
    "rewrap": ("aes", lambda v, w: v.rewrap("aes", w.token)),
    "rewrap_envelope": ("aes", lambda v, w: v.rewrap_envelope("aes", w.sealed)),
    "sign": ("sig", lambda v, w: v.sign("sig", "x")),
    "verify": ("sig", lambda v, w: v.verify("sig", "hello", w.signature)),
    "sign_audit_checkpoint": ("sig", lambda v, w: v.sign_audit_checkpoint("sig")),
    "export_public_key": ("rsa", lambda v, w: v.export_public_key("rsa")),
    "key_info": ("aes", lambda v, w: v.key_info("aes")),
    "rotate_key": ("aes", lambda v, w: v.rotate_key("aes")),
    "set_rotation_policy": ("aes", lambda v, w: v.set_rotation_policy("aes", rotate_every=timedelta(days=90))),
    "invalidate_key": ("aes", lambda v, w: v.invalidate_key("aes")),
    "suspend_key": ("aes", lambda v, w: v.suspend_key("aes")),
    "resume_key": ("aes", lambda v, w: (w.kms.suspend_key("aes"), v.resume_key("aes"))),
    "deactivate_key": ("aes", lambda v, w: v.deactivate_key("aes")),
    "mark_compromised": ("aes", lambda v, w: v.mark_compromised("aes", reason="leaked")),
    "set_key_policy": ("aes", lambda v, w: v.set_key_policy("aes", policy(allow("bob", "kms:Encrypt")))),
    "get_key_policy": ("aes", lambda v, w: v.get_key_policy("aes")),
    "create_grant": ("aes", lambda v, w: v.create_grant("aes", "bob", ["kms:CreateGrant"])),
    "list_grants": ("aes", lambda v, w: v.list_grants("aes")),
    "revoke_grant": ("aes", lambda v, w: v.revoke_grant(w.grant_id)),
}


#: Reads of metadata, which the audit log does not record (kmslib.audit), whoever calls.
UNAUDITED = {"key_info", "get_key_policy", "list_grants"}


@pytest.fixture
def world(rsa_pems: Callable[[int], str]) -> World:
    return World(rsa_pems(0))


def test_every_present_method_with_a_key_has_a_call_here() -> None:
    present = {name for name in METHOD_ACTIONS if hasattr(KeyCustodian, name)} - {"list_keys"}
    assert set(CALLS) == present


@pytest.mark.parametrize("method", sorted(CALLS))
def test_each_action_allowed_by_its_own_statement(world: World, method: str) -> None:
    _, call = CALLS[method]
    world.everyone(policy(allow("alice", METHOD_ACTIONS[method])))
    count = len(world.kms.audit_log)
    call(world.alice, world)
    if method in UNAUDITED:  # reading metadata is not recorded, for the owner either
        assert len(world.kms.audit_log) == count
        return
    last = world.kms.audit_log[-1]
    assert (last.operation, last.principal, last.outcome) == (method, "alice", "ok")


@pytest.mark.parametrize("method", sorted(CALLS))
def test_each_action_denied_when_only_the_others_are_allowed(world: World, method: str) -> None:
    key_id, call = CALLS[method]
    others = [a for a in dict.fromkeys(METHOD_ACTIONS.values()) if a != METHOD_ACTIONS[method]]
    world.everyone(policy(allow("alice", others)))
    before = world.kms.key_info(key_id)
    with pytest.raises(AccessDeniedError, match=f"principal 'alice' may not {METHOD_ACTIONS[method]} on (key|grant)"):
        call(world.alice, world)
    last = world.kms.audit_log[-1]
    assert (last.operation, last.key_id, last.principal, last.outcome) == (method, key_id, "alice", "AccessDeniedError")
    if method != "resume_key":  # its call suspends first, as the owner
        assert world.kms.key_info(key_id) == before


@pytest.mark.parametrize("method", sorted(CALLS))
def test_each_action_denied_by_a_deny_beside_an_allow(world: World, method: str) -> None:
    _, call = CALLS[method]
    world.everyone(policy(allow("alice", "kms:*"), deny("alice", METHOD_ACTIONS[method])))
    with pytest.raises(AccessDeniedError):
        call(world.alice, world)


@pytest.mark.parametrize("method", sorted(CALLS))
def test_each_action_denied_on_a_key_without_a_policy(world: World, method: str) -> None:
    _, call = CALLS[method]
    with pytest.raises(AccessDeniedError):
        call(world.alice, world)


def test_an_associated_data_condition_that_does_not_match_denies(world: World) -> None:
    condition = {"StringEquals": {"kmslib:AssociatedData": "payments"}}
    world.kms.set_key_policy("aes", policy(allow("alice", ["kms:Encrypt", "kms:Decrypt"], Condition=condition)))
    token = world.alice.encrypt_data_aes("aes", "x", associated_data="payments")
    assert world.alice.decrypt_data_aes("aes", token, associated_data=b"payments") == "x"
    for other in ("refunds", b"Payments", None):
        with pytest.raises(AccessDeniedError):
            world.alice.encrypt_data_aes("aes", "x", associated_data=other)
    with pytest.raises(AccessDeniedError):
        world.alice.decrypt_data_aes("aes", token)


def test_associated_data_is_checked_on_the_very_bytes_the_call_uses(world: World) -> None:
    condition = {"StringEquals": {"kmslib:AssociatedData": "payments"}}
    world.kms.set_key_policy("aes", policy(allow("alice", "kms:Encrypt", Condition=condition)))
    aad = bytearray(b"payments")
    token = world.alice.encrypt_data_aes("aes", "x", associated_data=aad)
    aad[:] = b"refunds!"
    assert world.kms.decrypt_data_aes("aes", token, associated_data="payments") == "x"


def test_list_keys_shows_only_the_keys_the_principal_may_describe(world: World) -> None:
    world.kms.set_key_policy("rsa", policy(allow("alice", "kms:DescribeKey")))
    world.kms.set_key_policy("aes", policy(allow("alice", "kms:Encrypt")))
    assert [info.key_id for info in world.alice.list_keys()] == ["rsa"]
    assert len(world.kms.list_keys()) == 3


def test_the_owner_s_own_methods_are_refused_to_a_principal(world: World) -> None:
    world.everyone(policy(allow("alice", "kms:*")))
    for call in (
        lambda: world.alice.establish_aes_key("new"),
        lambda: world.alice.issue_credential("mallory"),
        lambda: world.alice.revoke_credential("alice"),
        lambda: world.alice.as_principal(world.credential),
        lambda: world.alice.close(),  # noqa: PLW0108 - the attribute itself is refused, not only the call
        lambda: world.alice.audit_log,
    ):
        with pytest.raises(AccessDeniedError, match="only the owner may"):
            call()
    assert "new" not in world.kms
    assert world.alice.inspect_token(world.token).version == 1  # needs no key


def test_only_the_owner_may_read_under_a_compromised_key(world: World) -> None:
    world.everyone(policy(allow("alice", "kms:*")))
    world.kms.mark_compromised("aes", reason="leaked")
    with pytest.raises(AccessDeniedError):
        world.alice.decrypt_data_aes("aes", world.token, allow_compromised=True)
    assert world.kms.decrypt_data_aes("aes", world.token, allow_compromised=True) == "hello"


# ------------------------------------------------------------------ no existence oracle


def test_no_permission_and_no_such_key_give_the_same_error_and_audit_entry(world: World) -> None:
    errors = []
    for key_id in ("aes", "no-such-key"):
        with pytest.raises(AccessDeniedError) as caught:
            world.alice.encrypt_data_aes(key_id, "x")
        errors.append(caught.value)
        last = world.kms.audit_log[-1]
        assert (last.version, last.outcome, last.principal) == (None, "AccessDeniedError", "alice")
    assert str(errors[0]).replace("'aes'", "'K'") == str(errors[1]).replace("'no-such-key'", "'K'")
    assert type(errors[0]) is type(errors[1])
    with pytest.raises(KeyNotFoundError):  # the owner is told
        world.kms.encrypt_data_aes("no-such-key", "x")


def test_a_policy_on_another_key_does_not_open_a_missing_one(world: World) -> None:
    world.kms.set_key_policy("aes", policy(allow("alice", "kms:*")))
    with pytest.raises(AccessDeniedError):
        world.alice.key_info("aes2")
    with pytest.raises(AccessDeniedError):
        world.alice.key_info(5)  # type: ignore[arg-type]


# ------------------------------------------------------------------ credentials


def test_a_credential_is_printable_and_only_its_hash_is_kept(world: World) -> None:
    assert world.credential.isprintable()
    assert world.credential.startswith("kmslib-credential:")
    secret = world.credential.rsplit(":", 1)[1]
    state = repr(vars(world.kms._access)) + repr(world.alice) + repr(world.kms)
    assert secret not in state
    assert world.credential not in state
    assert hashlib.sha256(secret.encode()).digest() in [r.digest for r in world.kms._access._by_id.values()]
    assert repr(world.alice) == "<KeyCustodian view as principal 'alice'>"
    assert not any(secret in json.dumps(entry.to_dict()) for entry in world.kms.audit_log)


def test_two_credentials_are_different() -> None:
    kms = KeyCustodian()
    assert kms.issue_credential("alice") != kms.issue_credential("bob")


@pytest.mark.parametrize(
    "forge",
    [
        lambda w: w.credential[:-1] + ("A" if w.credential[-1] != "A" else "B"),
        lambda w: w.credential.rsplit(":", 1)[0] + ":",
        lambda w: "kmslib-credential:0000000000000000:" + w.credential.rsplit(":", 1)[1],
        lambda w: "",
        lambda w: None,
        lambda w: 12,
        lambda w: KeyCustodian().issue_credential("alice"),
    ],
    ids=["flipped", "no-secret", "other-id", "empty", "none", "int", "other-custodian"],
)
def test_a_forged_or_foreign_credential_is_refused_with_one_message(
    world: World, forge: Callable[[World], Any]
) -> None:
    with pytest.raises(AccessDeniedError) as caught:
        world.kms.as_principal(forge(world))
    assert str(caught.value) == CREDENTIAL_INVALID


def test_a_revoked_or_replaced_credential_is_refused_and_leaks_nothing(world: World) -> None:
    world.kms.revoke_credential("alice")
    with pytest.raises(AccessDeniedError) as caught:
        world.kms.as_principal(world.credential)
    assert str(caught.value) == CREDENTIAL_INVALID
    assert leaks(caught.value, [world.credential.encode(), world.credential.rsplit(":", 1)[1].encode()]) == []
    new = world.kms.issue_credential("alice")
    newer = world.kms.issue_credential("alice")
    with pytest.raises(AccessDeniedError, match="not valid here"):
        world.kms.as_principal(new)
    assert world.kms.as_principal(newer).principal == "alice"  # type: ignore[attr-defined]


def test_a_view_used_after_its_credential_was_revoked_is_refused(world: World) -> None:
    world.everyone(policy(allow("alice", "kms:*")))
    world.alice.encrypt_data_aes("aes", "x")
    world.kms.revoke_credential("alice")
    with pytest.raises(AccessDeniedError):
        world.alice.encrypt_data_aes("aes", "x")
    with pytest.raises(AccessDeniedError):
        world.alice.rotate_key("aes")
    with pytest.raises(AccessDeniedError):
        world.alice.list_keys()
    world.kms.issue_credential("alice")  # a new credential does not revive the old view
    with pytest.raises(AccessDeniedError):
        world.alice.decrypt_data_aes("aes", world.token)


@pytest.mark.parametrize("name", ["owner", "", " ", "a\nb", "x" * 129, 3])
def test_bad_principal_names_are_refused(name: object) -> None:
    with pytest.raises(InvalidInputError):
        KeyCustodian().issue_credential(name)  # type: ignore[arg-type]


def test_revoking_a_principal_without_a_credential_is_an_error() -> None:
    with pytest.raises(InvalidInputError, match="holds no credential"):
        KeyCustodian().revoke_credential("nobody")


def test_a_view_cannot_be_pickled(world: World) -> None:
    import pickle

    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(world.alice)


def test_revoking_a_credential_while_a_principal_works_lets_nothing_succeed_after(world: World) -> None:
    world.everyone(policy(allow("alice", "kms:*")))
    revoked = threading.Event()
    late_successes: list[str] = []
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            try:
                was_revoked = revoked.is_set()  # read before the call: a success after this was revoked before it
                world.alice.encrypt_data_aes("aes", "x")
                if was_revoked:
                    late_successes.append("encrypt")
            except AccessDeniedError:
                if revoked.is_set():
                    return

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    while sum(1 for e in world.kms.audit_log if e.principal == "alice") < 50:
        pass
    world.kms.revoke_credential("alice")
    revoked.set()
    for thread in threads:
        thread.join(timeout=30)
    stop.set()
    assert late_successes == []


# ------------------------------------------------------------------ key policies on the custodian


def test_set_and_get_key_policy(world: World) -> None:
    assert world.kms.get_key_policy("aes") is None
    document = policy(allow("alice", "kms:Encrypt", Sid="Users"))
    world.kms.set_key_policy("aes", document)
    assert world.kms.get_key_policy("aes") == document
    copy = world.kms.get_key_policy("aes")
    assert copy is not None
    copy["Statement"].append(allow("alice", "kms:*"))
    assert world.kms.get_key_policy("aes") == document
    with pytest.raises(KeyNotFoundError):
        world.kms.set_key_policy("nope", document)


def test_a_refused_policy_leaves_the_old_one(world: World) -> None:
    document = policy(allow("alice", "kms:Encrypt"))
    world.kms.set_key_policy("aes", document)
    with pytest.raises(InvalidInputError, match="unknown action 'kms:Everything'"):
        world.kms.set_key_policy("aes", policy(allow("alice", "kms:Everything")))
    assert world.kms.get_key_policy("aes") == document
    assert world.alice.encrypt_data_aes("aes", "x")
    assert world.kms.audit_log[-2].operation == "set_key_policy"
    assert world.kms.audit_log[-2].outcome == "InvalidInputError"


def test_a_principal_may_put_a_policy_only_if_allowed_and_it_takes_effect(world: World) -> None:
    world.kms.set_key_policy("aes", policy(allow("alice", ["kms:PutKeyPolicy", "kms:GetKeyPolicy"])))
    with pytest.raises(AccessDeniedError):
        world.alice.encrypt_data_aes("aes", "x")
    world.alice.set_key_policy("aes", policy(allow("alice", ["kms:Encrypt", "kms:PutKeyPolicy"])))
    world.alice.encrypt_data_aes("aes", "x")
    with pytest.raises(AccessDeniedError):
        world.alice.get_key_policy("aes")


# ------------------------------------------------------------------ the audit log names the principal


def test_every_entry_names_its_principal_inside_the_chain(world: World) -> None:
    world.kms.set_key_policy("aes", policy(allow("alice", "kms:Encrypt")))
    world.alice.encrypt_data_aes("aes", "x")
    with pytest.raises(AccessDeniedError):
        world.alice.decrypt_data_aes("aes", world.token)
    log = world.kms.audit_log
    assert [e.principal for e in log[-3:]] == ["owner", "alice", "alice"]
    assert all(e.principal == "owner" for e in log[:-2])
    head = log.head
    assert log.verify(head=head)
    text = log.to_jsonl()
    assert AuditLog.verify_jsonl(text, head=head)
    lines = text.splitlines()
    for index, forged in ((-2, "owner"), (-3, "alice"), (-1, "bob")):
        entry = json.loads(lines[index])
        entry["principal"] = forged
        edited = (
            [*lines[:index], json.dumps(entry), *lines[index + 1 :]]
            if index != -1
            else [*lines[:-1], json.dumps(entry)]
        )
        assert not AuditLog.verify_jsonl("\n".join(edited), head=head)


def test_a_log_exported_before_principals_still_verifies(world: World) -> None:
    owner_only = KeyCustodian(clock=StepClock())
    owner_only.establish_aes_key("k")
    owner_only.encrypt_data_aes("k", "x")
    text = owner_only.audit_log.to_jsonl()
    old = "".join(
        json.dumps({k: v for k, v in json.loads(line).items() if k != "principal"}) + "\n" for line in text.splitlines()
    )
    assert '"principal"' not in old
    assert AuditLog.verify_jsonl(old, head=owner_only.audit_log.head)
    assert all(entry.principal == "owner" for entry in owner_only.audit_log)


def test_a_signed_checkpoint_covers_principals_entries(world: World) -> None:
    world.kms.set_key_policy("aes", policy(allow("alice", "kms:Encrypt")))
    world.alice.encrypt_data_aes("aes", "x")
    checkpoint = world.kms.sign_audit_checkpoint("sig")
    public = world.kms.export_public_key("sig")
    text = world.kms.audit_log.to_jsonl()
    assert AuditLog.verify_jsonl(text, checkpoint=checkpoint, public_key=public)
    forged = text.replace('"principal": "alice"', '"principal": "owner"')
    assert forged != text
    assert not AuditLog.verify_jsonl(forged, checkpoint=checkpoint, public_key=public)


@pytest.mark.parametrize("injected_clock", [True, False], ids=["datetime-clock", "system-clock"])
def test_a_sealed_store_keeps_the_principal_of_each_entry(tmp_path: Path, injected_clock: bool) -> None:
    path = tmp_path / "keys.db"
    kmslib.init_store(path, passphrase="correct horse battery staple")
    clock = {"clock": StepClock()} if injected_clock else {}
    with KeyCustodian.open(path, passphrase="correct horse battery staple", **clock) as kms:
        kms.establish_aes_key("aes")
        kms.set_key_policy("aes", policy(allow("alice", "kms:Encrypt")))
        alice = kms.as_principal(kms.issue_credential("alice"))
        alice.encrypt_data_aes("aes", "x")
        with pytest.raises(AccessDeniedError):
            alice.decrypt_data_aes("aes", "kms:v1:aes-256-gcm:AAAA")
        before = [(e.operation, e.principal, e.outcome, e.hash) for e in kms.audit_log]
        head = kms.audit_log.head
    with KeyCustodian.open(path, passphrase="correct horse battery staple", **clock) as again:
        after = [(e.operation, e.principal, e.outcome, e.hash) for e in again.audit_log]
        assert after[: len(before)] == before
        assert again.audit_log.verify(head=head)
    assert ("encrypt_data_aes", "alice", "ok") in [a[:3] for a in after]
    assert ("decrypt_data_aes", "alice", "AccessDeniedError") in [a[:3] for a in after]


def test_the_readme_example_runs_as_it_says() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Who may use a key")[1].split("```python\n")[1].split("```")[0]
    *setup, last = [line for line in block.splitlines() if line.strip()]
    assert last.startswith('checkout.rotate_key("payments")')
    assert last.endswith("# AccessDeniedError")
    namespace: dict[str, Any] = {"kms": KeyCustodian()}
    exec("\n".join(setup), namespace)
    with pytest.raises(AccessDeniedError):
        exec(last, namespace)
    assert [e.principal for e in namespace["kms"].audit_log[-2:]] == ["checkout", "checkout"]


def test_a_denied_call_leaks_no_plaintext_through_its_traceback(world: World) -> None:
    world.kms.set_key_policy("aes", policy(allow("alice", "kms:Decrypt")))
    for call in (
        lambda: world.alice.encrypt_data_aes("aes", "TOP-SECRET-PLAINTEXT"),
        lambda: world.alice.encrypt_data_aes("no-such-key", "TOP-SECRET-PLAINTEXT"),
        lambda: world.alice.encrypt_envelope("aes", bytearray(b"TOP-SECRET-PLAINTEXT")),
    ):
        with pytest.raises(AccessDeniedError) as caught:
            call()
        assert leaks(caught.value, [b"TOP-SECRET-PLAINTEXT"]) == []
        assert "TOP-SECRET" not in str(caught.value)
