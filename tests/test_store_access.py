"""Key policies, grants and credentials' hashes persist in the sealed store, bound like key rows (section 11)."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kmslib
from kmslib import AccessDeniedError, KeyCustodian, StoreError

PASSPHRASE = "correct horse battery staple"


def allow(principal: object, action: object) -> dict[str, object]:
    return {"Effect": "Allow", "Principal": principal, "Action": action}


def policy(*statements: dict[str, object]) -> dict[str, object]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "keys.db"
    kmslib.init_store(path, passphrase=PASSPHRASE)
    return path


def reopen(path: Path) -> KeyCustodian:
    return KeyCustodian.open(path, passphrase=PASSPHRASE)


def populate(path: Path) -> tuple[str, str, str]:
    """A policy for alice, a grant for bob, and carol's credential revoked; returns alice's and bob's credentials."""
    with reopen(path) as kms:
        kms.establish_aes_key("aes")
        kms.set_key_policy("aes", policy(allow("alice", ["kms:Encrypt", "kms:Decrypt"])))
        alice, bob = kms.issue_credential("alice"), kms.issue_credential("bob")
        grant_id = kms.create_grant("aes", "bob", ["kms:Decrypt"], associated_data="payments")
        kms.issue_credential("carol")
        kms.revoke_credential("carol")
    return alice, bob, grant_id


def test_policies_grants_and_credentials_survive_a_reopen(store: Path) -> None:
    alice_credential, bob_credential, grant_id = populate(store)
    with reopen(store) as kms:
        assert kms.get_key_policy("aes") == policy(allow("alice", ["kms:Encrypt", "kms:Decrypt"]))
        alice, bob = kms.as_principal(alice_credential), kms.as_principal(bob_credential)
        token = alice.encrypt_data_aes("aes", "x", associated_data="payments")
        assert bob.decrypt_data_aes("aes", token, associated_data="payments") == "x"
        with pytest.raises(AccessDeniedError):
            bob.encrypt_data_aes("aes", "x")
        (grant,) = kms.list_grants("aes")
        assert (grant.grant_id, grant.grantee, grant.operations, grant.associated_data) == (
            grant_id,
            "bob",
            ("kms:Decrypt",),
            b"payments",
        )
        assert kms.audit_log[-1].principal == "bob"  # principals are named in a reopened store's new entries
        kms.revoke_grant(grant_id)
        kms.revoke_credential("alice")
    with reopen(store) as kms:
        assert kms.list_grants("aes") == ()
        with pytest.raises(AccessDeniedError):
            kms.as_principal(alice_credential)
        with pytest.raises(AccessDeniedError):
            kms.as_principal(bob_credential).decrypt_data_aes("aes", token, associated_data="payments")


def test_the_file_holds_credentials_only_as_hashes(store: Path) -> None:
    alice, bob, _ = populate(store)
    raw = b"".join(p.read_bytes() for p in store.parent.iterdir() if p.name.startswith(store.name))
    for credential in (alice, bob):
        assert credential.rsplit(":", 1)[1].encode() not in raw


def assert_tampering_refused(store: Path, tamper: str) -> None:
    """Run one SQL edit of exactly one row on the closed store; opening it must then refuse the whole store."""
    db = sqlite3.connect(store)
    try:
        assert db.execute(tamper).rowcount == 1
        db.commit()
    finally:
        db.close()
    with pytest.raises(StoreError, match=r"tampered|differ from its manifest"):
        reopen(store)


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE access SET value = replace(value, 'alice', 'mallo') WHERE name LIKE 'policy%'",
        "DELETE FROM access WHERE name LIKE 'grant%'",
        "DELETE FROM access WHERE name LIKE 'credential%' AND name LIKE '%alice'",
        "INSERT INTO access SELECT 'credential' || char(10) || 'mallory', value, mac FROM access "
        "WHERE name LIKE 'credential%' AND name LIKE '%alice'",
        "UPDATE access SET value = replace(value, 'kms:Decrypt', 'kms:Encrypt') WHERE name LIKE 'grant%'",
    ],
    ids=["edited-policy", "deleted-grant", "deleted-credential", "copied-credential", "edited-grant"],
)
def test_an_edited_access_row_refuses_the_whole_store(store: Path, tamper: str) -> None:
    populate(store)
    assert_tampering_refused(store, tamper)


def test_a_rekey_keeps_access_rows_authentic(store: Path) -> None:
    alice, _, _ = populate(store)
    with reopen(store) as kms:
        kms.rekey(PASSPHRASE, passphrase="another long passphrase here")
    with KeyCustodian.open(store, passphrase="another long passphrase here") as kms:
        kms.as_principal(alice).encrypt_data_aes("aes", "x")


WORKER = Path(__file__).with_name("store_worker.py")


@pytest.mark.slow
def test_killed_at_random_moments_the_store_keeps_every_access_change_whose_call_returned(store: Path) -> None:
    rng = random.Random(20261204)
    reported: list[list[str]] = []
    for _ in range(6):
        worker = subprocess.Popen(
            [sys.executable, str(WORKER), "access", str(store), PASSPHRASE],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(kmslib.__file__).resolve().parent.parent)},
        )
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "open"
        time.sleep(rng.uniform(0.05, 0.3))
        worker.send_signal(signal.SIGKILL)
        out, _ = worker.communicate(timeout=30)
        reported += [line.split() for line in out.splitlines()]
        with reopen(store) as kms:
            grants = {g.grant_id: g.grantee for g in kms.list_grants("a")}
            last_policy = [words[1] for words in reported if words[0] == "policy"][-1:]
            if last_policy:  # the newest policy returned is there (or a later one whose call had not returned)
                named = kms.get_key_policy("a")
                assert named is not None
                assert int(named["Statement"][0]["Principal"][1:]) >= int(last_policy[0][1:])
            for words in reported:
                if words[0] == "grant":
                    assert grants[words[2]] == words[1]
                elif words[0] == "credential" and int(words[1][1:]) % 2:  # the worker revokes only even ones
                    assert words[1] in kms._access._by_principal
                elif words[0] == "revoked":
                    with pytest.raises(kmslib.InvalidInputError):
                        kms.revoke_credential(words[1])  # it holds none
    assert len([w for w in reported if w[0] == "grant"]) >= 6


def dual_control(path: Path) -> tuple[str, str, str]:
    """A key whose revocation needs one approval, alice's pending request for it; alice's and bob's credentials."""
    with reopen(path) as kms:
        kms.establish_aes_key("prod")
        two = {"NumericGreaterThanEquals": {"kmslib:Approvals": 1}}
        kms.set_key_policy("prod", policy({**allow(["alice", "bob"], "kms:RevokeKey"), "Condition": two}))
        alice, bob = kms.issue_credential("alice"), kms.issue_credential("bob")
        with pytest.raises(kmslib.ApprovalRequiredError) as caught:
            kms.as_principal(alice).invalidate_key("prod", reason="retire")
        binding_key = kms._access._binding_key
    raw = b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name))
    assert binding_key not in raw
    assert binding_key.hex().encode() not in raw
    return alice, bob, caught.value.request_id


def test_a_pending_request_and_its_approvals_survive_a_reopen(store: Path) -> None:
    alice, bob, request_id = dual_control(store)
    with reopen(store) as kms:
        kms.as_principal(bob).approve(request_id)  # type: ignore[attr-defined]
    with reopen(store) as kms:
        assert kms.as_principal(alice).invalidate_key("prod", reason="retire") == "Key Revocation Successful"
    with reopen(store) as kms, pytest.raises(kmslib.InvalidInputError, match="no pending request"):
        kms.approve(request_id)  # used up, and saved so


def test_a_pending_request_survives_a_rekey(store: Path) -> None:
    alice, bob, request_id = dual_control(store)
    with reopen(store) as kms:
        kms.rekey(PASSPHRASE, passphrase="another long passphrase here")
    with KeyCustodian.open(store, passphrase="another long passphrase here") as kms:
        kms.as_principal(bob).approve(request_id)  # type: ignore[attr-defined]
        kms.as_principal(alice).invalidate_key("prod", reason="retire")
        assert kms.key_info("prod").state == "revoked"


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE access SET value = replace(value, 'alice', 'mallo') WHERE name LIKE 'pending%'",
        "DELETE FROM access WHERE name LIKE 'pending%'",
        "UPDATE access SET value = '\"' || lower(hex(randomblob(60))) || '\"' WHERE name LIKE 'secret%'",
    ],
    ids=["edited-pending", "deleted-pending", "replaced-binding-key"],
)
def test_an_edited_pending_row_refuses_the_whole_store(store: Path, tamper: str) -> None:
    dual_control(store)
    assert_tampering_refused(store, tamper)
