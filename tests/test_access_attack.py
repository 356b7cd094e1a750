"""Attacks on access control (contract section 11) by a principal holding a credential, not the owner.

Defects found by these attacks, each fixed (the tests below failed before):

- A dual-control approval was bound to the call by ``repr`` of its arguments: a ``str`` subclass with a
  forged ``__repr__`` made another call look like the approved one, and a ``bytearray`` changed after the
  binding was computed ran other bytes than were approved. (The first fix recognised plain types with
  ``type(value) in {str, ...}``, which a metaclass's ``__hash__`` and ``__eq__`` can pass; it now uses
  identity.)
- Binding a dual-controlled call to its arguments walked them without limit: a self-referencing argument
  raised ``RecursionError``, and one sharing its lists took exponential time (under the access lock, for a
  change such as ``set_key_policy``). Arguments are now walked to a bounded size and depth; beyond it the
  call is an ``InvalidInputError``.
- ``getattr(view, name)`` with a ``str`` subclass as the name: the view looked the name up in its table of
  actions and then on the custodian with the subclass itself, whose ``__hash__`` and ``__eq__`` can answer
  differently each time, so a principal allowed only ``kms:DescribeKey`` got ``invalidate_key`` authorized
  as ``kms:DescribeKey`` and destroyed the key. The view now looks up the plain name.
- Keyword names given as ``str`` subclasses (``**{Hidden("associated_data"): "hr"}``): the view read the
  associated data and ``allow_compromised`` with ``kwargs.get(...)``, which such a key escapes by its
  ``__hash__``, while Python still bound it to the parameter by its ``__eq__``; so a Deny on associated data
  was bypassed and a principal read under a compromised key (the owner's alone). Keyword names are now
  made plain first, and a call whose names collide once plain is denied.
- Timing oracle: a denied call on a key with a policy (one that does not name the principal) evaluated the
  policy again, uncached, to count the approvals it would need, while a call on a missing key did no
  policy work at all: about 6.5 against 4.2 microseconds here with a 10-statement policy, told apart in a
  few thousand tries. Both now ask a cached decision of a policy (a key without one, or a missing key,
  asks an empty policy): 4.4 against 4.4 microseconds. The test counts the policy work; it measures no time.
  Likewise a key with grants for other principals: the call looked at each of them (4.9 microseconds with
  one, 5.2 with five, against 4.4 for a missing key); grants are now found by key and grantee at once.
  And with associated data never used before (so that no decision is remembered), the policy's
  statements were each matched (7.9 against 7.2 microseconds); a policy now answers at once a principal
  that none of its statements names.
- A grant's operations were checked with ``in GRANT_OPERATIONS`` on the caller's ``str`` subclass (whose
  ``__eq__`` and ``__hash__`` can lie) and stored as its plain value: a grant could give administration
  (``kms:RevokeKey``, ``kms:PutKeyPolicy``), which grants never give. (The list was also iterated twice,
  once to check and once to keep: a list subclass could answer differently the second time.)
- An approval kept counting after its approver's credential was revoked, or after the key's policy stopped
  allowing the approver the action: it was checked only when given, not when used.
- A policy document that shares its lists or objects (``[[...] * 40] * 40``, a few kilobytes of Python) was
  walked in full before its size was checked: exponential time, while a principal's ``set_key_policy``
  holds the access lock that every principal's call needs. The walk now stops at the size limit.
- An object whose ``__class__`` claims ``str``, ``int`` or ``dict`` (``isinstance`` believes it) in a policy, or
  given as a credential, raised a ``TypeError`` or ``AttributeError`` instead of kmslib's typed error.
- ``list_grants`` handed out the custodian's own ``Grant`` records: a principal allowed only
  ``kms:ListGrants`` rewrote one with ``object.__setattr__`` (a frozen dataclass only refuses plain
  assignment) into a grant of ``kms:RevokeKey`` to itself, and revoked the key. It now hands out copies,
  as the audit log does with its entries.
- A principal's call checked the key's grants by iterating the live dict without the lock, so a grant
  created or revoked at that moment by another thread made the call fail with ``RuntimeError: dictionary
  changed size during iteration`` instead of being decided. (A call's grants are now kept in tuples that a
  change replaces, never changes.)
- An approval's row was saved before ``approve`` returned, but not its audit entry: after a crash the
  approval survived and let the call through, and the log no longer said who approved it. ``approve`` is
  now among the changes whose entry is saved before they return (``kmslib.audit.KEY_CHANGES``).
- ``issue_credential`` that failed to save (a store error) left the new credential's secret in its
  traceback's frame locals: in ``AccessControl.issue`` when its row could not be saved, and in
  ``KeyCustodian.issue_credential`` when its audit entry could not be saved after the credential was made.

Attacks that held (no defect), with a test for the most important:

- Not a defect, documented (README, ``kmslib/principals.py``): code holding a view reaches the owner's
  custodian through Python's introspection (``view._kms``, a method's ``__closure__``, a traceback's
  frames, ``gc.get_referents``); a view restrains callers that use its methods, not hostile code in the
  same process. The attacks here use only a view's methods, with crafted arguments.
- Decrypting or rewrapping another key's token or envelope under a key the principal may use: refused by
  the cryptography (the token's key is checked), not only by the policy.
- A Deny conditioned on the associated data cannot be dodged by leaving the associated data out (the
  condition then does not match, as in AWS): tokens and envelopes do not carry their associated data, so
  they do not decrypt without it.
- Principal names are compared exactly: a credential for a look-alike name (Cyrillic U+0430 for Latin "a",
  a trailing space) gets nothing from a policy naming the real one, and the audit log names it as it is.
  (kmslib does not refuse look-alike names: the owner chooses every name, and a principal cannot choose
  its own.)
- Approvals: one for a call on one key does not let the same call through on another key, nor another
  principal's same call; the requester cannot approve its own request (tested in test_dual_control.py),
  and a request id is 64 random bits (an unknown id and a known one give different errors, so ids must
  not be guessable).
- Existence oracle: for every method that names a key, a principal without permission gets the same error
  type, message (but for the id), exception chain (none) and audit entry for a key that exists and one that
  does not, and the owner's policy on another key changes nothing.
- A view made with a credential that was revoked, then reissued to the same principal, stays refused; the
  new credential works.
- Not a defect, documented (README): the whole store file replaced by an older copy of itself opens, and
  brings back a credential revoked since (a rollback, which the sealed store does not detect).
- Putting back, in a sealed store's file, an access row from an older copy of the same file (a looser
  policy, a revoked credential) or from another store: the whole store is refused on open (each row's HMAC
  is in the manifest, keyed by the store).
- Also held, tested elsewhere or by the methods' own checks: ``str``/``dict`` subclasses, ``True``, floats and
  over-deep documents in a policy (test_policy.py); a view cannot be pickled or copied; a forged, foreign,
  revoked or replaced credential gets one message, compared with ``hmac.compare_digest``; relabelling an
  audit entry's principal (even as the owner) breaks the chain (test_principals.py); ``allow_compromised``
  whose ``__bool__`` changes answer (the method wants a real ``bool``); associated data passed
  positionally (it is keyword-only); a revoked key's id is never reused, so its policy cannot move to a
  new key; a ``bytearray`` of associated data changed after the check (test_principals.py); the
  ``kms:CreateGrant``-only escalation and grants for any data from a conditioned Allow (test_grants.py).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import kmslib
from helpers import StepClock, allow, approvals, deny, leaks, policy, view
from kmslib import (
    AccessDeniedError,
    ApprovalRequiredError,
    ArgumentTypeError,
    DecryptionError,
    InvalidInputError,
    KeyCustodian,
    StoreError,
    principals,
)
from kmslib.policy import GRANT_OPERATIONS, MAX_POLICY_BYTES, METHOD_ACTIONS, KeyPolicy, Request, _Statement
from kmslib.principals import Grant


class HookClock(StepClock):
    """A step clock that runs ``hook`` once, at its next reading: another thread acting at that moment."""

    def __init__(self) -> None:
        super().__init__()
        self.hook: object = None

    def __call__(self) -> datetime:
        hook, self.hook = self.hook, None
        if callable(hook):
            hook()
        return super().__call__()


@pytest.fixture
def dual() -> tuple[KeyCustodian, HookClock]:
    """Key ``prod``: alice, bob and carol may decrypt, envelope-decrypt and revoke it with one approval."""
    clock = HookClock()
    kms = KeyCustodian(clock=clock)
    kms.establish_aes_key("prod")
    kms.set_key_policy(
        "prod",
        policy(allow(["alice", "bob", "carol"], ["kms:Decrypt", "kms:RevokeKey"], Condition=approvals(1))),
    )
    return kms, clock


def request(call: object) -> str:
    with pytest.raises(ApprovalRequiredError) as caught:
        call()  # type: ignore[operator]
    return caught.value.request_id


# ---------------------------------------------------------------------------------------------- defects


class PassesForStr(type):
    """A metaclass whose classes hash as ``str`` and say they equal any class (so ``cls in {str}`` is true)."""

    def __hash__(cls) -> int:
        return hash(str)

    def __eq__(cls, other: object) -> bool:
        return True


@pytest.mark.parametrize("metaclass", [type, PassesForStr])
def test_an_approval_cannot_be_reused_by_a_str_whose_repr_lies(
    dual: tuple[KeyCustodian, HookClock], metaclass: type
) -> None:
    kms, _ = dual
    harmless = kms.encrypt_data_aes("prod", "harmless")
    payroll = kms.encrypt_data_aes("prod", "PAYROLL")
    alice, bob = view(kms, "alice"), view(kms, "bob")

    class Masked(str, metaclass=metaclass):  # type: ignore[misc]
        def __repr__(self) -> str:
            return repr(harmless)

    bob.approve(request(lambda: alice.decrypt_data_aes("prod", harmless)))
    with pytest.raises(ApprovalRequiredError):  # another token: another request, whatever its repr says
        alice.decrypt_data_aes("prod", Masked(payroll))
    assert alice.decrypt_data_aes("prod", harmless) == "harmless"  # the approved call still goes through once


def test_an_approved_bytearray_changed_after_the_check_is_not_what_runs(dual: tuple[KeyCustodian, HookClock]) -> None:
    kms, clock = dual
    harmless = bytes(kms.encrypt_envelope("prod", b"harmless"))
    payroll = bytes(kms.encrypt_envelope("prod", b"PAYROLL"))
    alice, bob = view(kms, "alice"), view(kms, "bob")
    bob.approve(request(lambda: alice.decrypt_envelope("prod", harmless)))
    sealed = bytearray(harmless)

    def swap() -> None:  # alice's other thread, once the approval was checked against the harmless bytes
        sealed[:] = payroll

    clock.hook = swap
    assert alice.decrypt_envelope("prod", sealed) == b"harmless"


def shared_lists(width: int, depth: int) -> list[object]:
    """A list of ``width ** depth`` leaves made of ``depth`` lists of ``width`` items (they share each other)."""
    shared: list[object] = ["x"]
    for _ in range(depth):
        shared = [shared] * width
    return shared


def test_an_argument_too_big_or_deep_to_bind_to_an_approval_is_refused(dual: tuple[KeyCustodian, HookClock]) -> None:
    kms, _ = dual
    kms.set_key_policy(
        "prod", policy(allow(["alice", "bob"], ["kms:PutKeyPolicy", "kms:Decrypt"], Condition=approvals(1)))
    )
    alice = view(kms, "alice")
    looped: dict[str, object] = {"Statement": [allow("alice", "kms:Decrypt")]}
    looped["Id"] = looped
    shared = {"Statement": [allow("alice", "kms:Decrypt")], "Id": shared_lists(16, 5)}
    for document in (looped, shared):
        with pytest.raises(InvalidInputError, match="too large"):
            alice.set_key_policy("prod", document)
    with pytest.raises(InvalidInputError, match="too large") as caught:
        alice.decrypt_data_aes("prod", "SECRET-TOKEN", extra=looped)
    assert leaks(caught.value, [b"SECRET-TOKEN"]) == []
    assert kms._access._pending == {}


@pytest.mark.parametrize("lie_at", range(1, 10))
def test_a_method_name_that_hashes_as_another_gets_no_other_method(kms: KeyCustodian, lie_at: int) -> None:
    kms.establish_aes_key("prod")
    kms.set_key_policy("prod", policy(allow("alice", "kms:DescribeKey")))
    alice = view(kms, "alice")

    class Shapeshifter(str):
        """Hashes as "key_info" the ``lie_at``-th time it is hashed, else as itself; equals nearly any name."""

        hashed = 0

        def __hash__(self) -> int:
            Shapeshifter.hashed += 1
            return hash("key_info" if Shapeshifter.hashed == lie_at else str.__str__(self))

        def __eq__(self, other: object) -> bool:
            return other not in ("approve", "list_keys", "revoke_grant")

        def __ne__(self, other: object) -> bool:
            return not self.__eq__(other)

    with pytest.raises(AccessDeniedError):
        getattr(alice, Shapeshifter("invalidate_key"))("prod")
    assert kms.key_info("prod").state == "active"


class Hidden(str):
    """A keyword name that equals its plain value but hashes as another name: ``kwargs.get`` misses it."""

    def __hash__(self) -> int:
        return hash("something else")

    def __eq__(self, other: object) -> bool:
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)


def test_a_keyword_name_that_hides_from_the_check_is_seen(kms: KeyCustodian) -> None:
    kms.establish_aes_key("prod")
    token = kms.encrypt_data_aes("prod", "salaries", associated_data="hr")
    old = kms.encrypt_data_aes("prod", "old data")
    hr = {"StringEquals": {"kmslib:AssociatedData": "hr"}}
    kms.set_key_policy("prod", policy(allow("bob", "kms:*"), deny("bob", "kms:*", Condition=hr)))
    bob = view(kms, "bob")
    with pytest.raises(AccessDeniedError):
        bob.decrypt_data_aes("prod", token, **{Hidden("associated_data"): "hr"})
    with pytest.raises(AccessDeniedError):  # two names that are one once plain
        bob.decrypt_data_aes("prod", token, associated_data="x", **{Hidden("associated_data"): "hr"})
    kms.mark_compromised("prod", reason="leaked")
    with pytest.raises(AccessDeniedError):
        bob.decrypt_data_aes("prod", old, **{Hidden("allow_compromised"): True})
    assert kms.decrypt_data_aes("prod", old, allow_compromised=True) == "old data"


class Liar(str):
    """A str that says it equals anything, with the hash of a harmless grant operation."""

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return hash("kms:Decrypt")


class Shifty(list[str]):
    """A list that shows its first items once, then the others."""

    def __init__(self, first: list[str], then: list[str]) -> None:
        super().__init__(first)
        self.then = then
        self.shown = False

    def __iter__(self) -> Iterator[str]:
        items, self.shown = (self.then if self.shown else list.__iter__(self)), True
        return iter(items)


@pytest.mark.parametrize("creator", ["owner", "alice"])
def test_a_grant_never_gives_administration_whatever_its_operations_claim(creator: str) -> None:
    kms = KeyCustodian(clock=StepClock())
    kms.establish_aes_key("prod")
    kms.set_key_policy("prod", policy(allow("alice", ["kms:RevokeKey", "kms:PutKeyPolicy", "kms:CreateGrant"])))
    granter = kms if creator == "owner" else view(kms, "alice")
    bob = view(kms, "bob")
    for action in ("kms:RevokeKey", "kms:PutKeyPolicy"):
        with pytest.raises(InvalidInputError, match="a grant cannot give"):
            granter.create_grant("prod", "bob", [Liar(action)])
        with contextlib.suppress(AccessDeniedError):  # alice holds no kms:Decrypt to give
            granter.create_grant("prod", "bob", Shifty(["kms:Decrypt"], [action]))
    assert all(set(grant.operations) <= GRANT_OPERATIONS for grant in kms.list_grants("prod"))
    with pytest.raises(AccessDeniedError):
        bob.invalidate_key("prod")
    assert kms.key_info("prod").state == "active"


def test_an_approval_counts_only_while_its_approver_may_still_give_it(dual: tuple[KeyCustodian, HookClock]) -> None:
    kms, _ = dual
    alice, bob, carol = view(kms, "alice"), view(kms, "bob"), view(kms, "carol")
    request_id = request(lambda: alice.invalidate_key("prod", reason="retire"))
    bob.approve(request_id)
    kms.revoke_credential("bob")  # bob leaves before alice acts
    assert request(lambda: alice.invalidate_key("prod", reason="retire")) == request_id
    carol.approve(request_id)
    document = kms.get_key_policy("prod")
    assert document is not None
    document["Statement"].append(deny("carol", "kms:RevokeKey"))  # carol may no longer revoke, nor approve it
    kms.set_key_policy("prod", document)
    assert request(lambda: alice.invalidate_key("prod", reason="retire")) == request_id
    assert kms.key_info("prod").state == "active"
    kms.approve(request_id)  # the owner's approval counts
    alice.invalidate_key("prod", reason="retire")
    assert kms.key_info("prod").state == "revoked"


def test_an_approval_given_as_its_approver_is_revoked_does_not_count(dual: tuple[KeyCustodian, HookClock]) -> None:
    kms, clock = dual
    alice, bob = view(kms, "alice"), view(kms, "bob")
    request_id = request(lambda: alice.invalidate_key("prod", reason="retire"))
    clock.hook = lambda: kms.revoke_credential("bob")  # the owner revokes bob while bob's approve runs
    with pytest.raises(AccessDeniedError):
        bob.approve(request_id)
    assert request(lambda: alice.invalidate_key("prod", reason="retire")) == request_id
    assert kms.key_info("prod").state == "active"


class Counting(dict[str, object]):
    """A dict that counts how often its values are read."""

    reads = 0

    def __getitem__(self, key: str) -> object:
        Counting.reads += 1
        return super().__getitem__(key)


def test_a_policy_sharing_its_parts_is_refused_without_walking_them_all(kms: KeyCustodian) -> None:
    kms.establish_aes_key("prod")
    shared: object = "x"
    for _ in range(5):  # 12 ** 5 = 248,832 leaves, from 60 dict entries
        shared = Counting({f"k{i}": shared for i in range(12)})
    document = policy(allow("alice", "kms:Decrypt"))
    document["Id"] = shared
    Counting.reads = 0
    with pytest.raises(InvalidInputError, match="limit is 32768"):
        kms.set_key_policy("prod", document)
    assert Counting.reads <= MAX_POLICY_BYTES
    assert kms.get_key_policy("prod") is None


def test_a_grant_revoked_while_a_call_checks_the_grants_does_not_break_the_check(
    kms: KeyCustodian, monkeypatch: pytest.MonkeyPatch
) -> None:
    kms.establish_aes_key("prod")
    grant_ids = [kms.create_grant("prod", name, ["kms:Encrypt"]) for name in ("bob", "carol")]
    alice = view(kms, "alice")
    covers = Grant.covers
    pending = list(grant_ids)

    def revoking_meanwhile(grant: Grant, principal: str, action: str, associated_data: bytes | None) -> bool:
        if pending:  # another thread revokes a grant while alice's call is being checked
            kms.revoke_grant(pending.pop())
        return covers(grant, principal, action, associated_data)

    monkeypatch.setattr(Grant, "covers", revoking_meanwhile)
    with pytest.raises(AccessDeniedError):
        alice.encrypt_data_aes("prod", "x")


def test_a_credential_that_could_not_be_saved_leaves_no_secret_in_the_traceback(
    kms: KeyCustodian, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "S3CRET-never-shown-Qx7rT0k9wZp2mNv8bLc4dFg6hJ1kL5a"

    def disk_full(name: str, value: str | None) -> None:
        raise StoreError("the store could not be written")

    monkeypatch.setattr(principals.secrets, "token_urlsafe", lambda nbytes: secret)
    monkeypatch.setattr(kms._access, "_save", disk_full)
    with pytest.raises(StoreError) as caught:
        kms.issue_credential("dave")
    assert leaks(caught.value, [secret.encode()]) == []


def posing_as(kind: type) -> object:
    """An object whose ``__class__`` says ``kind``: ``isinstance`` believes it, ``kind``'s own methods do not."""

    class Impostor:
        __class__ = property(lambda self: kind)  # type: ignore[assignment]

    return Impostor()


@pytest.mark.parametrize(
    ("document", "error"),
    [
        (posing_as(dict), ArgumentTypeError),
        (policy(allow(posing_as(str), "kms:Decrypt")), InvalidInputError),
        (policy(allow("alice", posing_as(str))), InvalidInputError),
        (
            policy(
                allow(
                    "alice", "kms:Decrypt", Condition={"NumericGreaterThanEquals": {"kmslib:Approvals": posing_as(int)}}
                )
            ),
            InvalidInputError,
        ),
        ({"Statement": [allow("alice", "kms:Decrypt")], "Id": {posing_as(str): "x"}}, InvalidInputError),
        ({"Statement": [allow("alice", "kms:Decrypt")], "Id": posing_as(dict)}, InvalidInputError),
    ],
)
def test_an_impostor_in_a_policy_is_a_typed_error_and_the_old_policy_stays(
    kms: KeyCustodian, document: object, error: type[Exception]
) -> None:
    kms.establish_aes_key("prod")
    kms.set_key_policy("prod", policy(allow("bob", "kms:Encrypt")))
    with pytest.raises(error):
        kms.set_key_policy("prod", document)  # type: ignore[arg-type]
    assert kms.get_key_policy("prod") == policy(allow("bob", "kms:Encrypt"))


def test_an_impostor_credential_gets_the_one_credential_error(kms: KeyCustodian) -> None:
    kms.issue_credential("alice")
    with pytest.raises(AccessDeniedError, match="not valid here"):
        kms.as_principal(posing_as(str))  # type: ignore[arg-type]


def test_a_listed_grant_is_a_copy_that_changes_no_permission(kms: KeyCustodian) -> None:
    kms.establish_aes_key("prod")
    kms.set_key_policy("prod", policy(allow("alice", "kms:ListGrants")))
    kms.create_grant("prod", "bob", ["kms:Encrypt"])
    alice = view(kms, "alice")
    (grant,) = alice.list_grants("prod")
    object.__setattr__(grant, "grantee", "alice")
    object.__setattr__(grant, "operations", ("kms:RevokeKey",))
    with pytest.raises(AccessDeniedError):
        alice.invalidate_key("prod")
    assert kms.key_info("prod").state == "active"
    assert [(g.grantee, g.operations) for g in kms.list_grants("prod")] == [("bob", ("kms:Encrypt",))]


def test_a_credential_whose_audit_entry_could_not_be_saved_leaves_no_secret_in_the_traceback(
    kms: KeyCustodian, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "S3CRET-never-shown-Qx7rT0k9wZp2mNv8bLc4dFg6hJ1kL5a"

    def disk_full(first: int, records: list[object]) -> None:
        raise StoreError("the store could not be written")

    monkeypatch.setattr(principals.secrets, "token_urlsafe", lambda nbytes: secret)
    monkeypatch.setattr(kms._audit, "_write", disk_full)
    with pytest.raises(StoreError) as caught:
        kms.issue_credential("dave")
    assert leaks(caught.value, [secret.encode()]) == []


# ---------------------------------------------------------------------------------------------- held


KEYED = sorted(set(METHOD_ACTIONS) - {"list_keys", "revoke_grant"})


@pytest.mark.parametrize("method", KEYED)
def test_no_permission_and_no_such_key_look_the_same_for_every_keyed_method(kms: KeyCustodian, method: str) -> None:
    kms.establish_aes_key("exists")
    kms.establish_aes_key("other")
    kms.set_key_policy("other", policy(allow("alice", "kms:*")))
    alice = view(kms, "alice")
    seen = []
    for key_id in ("exists", "absent"):
        with pytest.raises(AccessDeniedError) as caught:
            getattr(alice, method)(key_id)  # denied before the method runs: no other argument is needed
        error = caught.value
        last = kms.audit_log[-1]
        seen.append(
            (
                type(error),
                str(error).replace(repr(key_id), "K"),
                error.__cause__,
                error.__context__,
                (last.operation, last.key_id == key_id, last.version, last.outcome, last.principal),
            )
        )
    assert seen[0] == seen[1]
    assert seen[0][4] == (method, True, None, "AccessDeniedError", "alice")


@pytest.mark.parametrize("has_policy", [True, False])
def test_a_denial_does_the_same_policy_and_grant_work_whether_or_not_the_key_exists(
    kms: KeyCustodian, monkeypatch: pytest.MonkeyPatch, has_policy: bool
) -> None:
    kms.establish_aes_key("exists")
    if has_policy:
        kms.set_key_policy("exists", policy(*(allow(f"p{i}", "kms:Encrypt") for i in range(10))))
    alice = view(kms, "alice")
    work: list[str] = []
    for method in ("decide", "evaluate"):
        original = getattr(KeyPolicy, method)

        def spy(self: KeyPolicy, *args: object, _name: str = method, _original: Any = original) -> object:
            work.append(_name)
            return _original(self, *args)

        monkeypatch.setattr(KeyPolicy, method, spy)
    covers = Grant.covers

    def spy_covers(self: Grant, *args: Any) -> bool:
        work.append("covers")
        return covers(self, *args)

    monkeypatch.setattr(Grant, "covers", spy_covers)
    for grantee in ("bob", "carol"):  # grants for others on the key that exists
        kms.create_grant("exists", grantee, ["kms:Encrypt"])
    done = []
    for key_id in ("exists", "absent", "exists", "absent"):
        work.clear()
        with pytest.raises(AccessDeniedError):
            alice.encrypt_data_aes(key_id, "x")
        done.append(tuple(work))
    assert done[2] == done[3]  # once the decisions are remembered: the same work, key or no key
    assert "evaluate" not in done[2]
    matches = _Statement.matches_except_approvals

    def spy_matches(self: _Statement, request: Request) -> bool:
        work.append("matches")
        return matches(self, request)

    monkeypatch.setattr(_Statement, "matches_except_approvals", spy_matches)
    fresh = []
    for key_id in ("exists", "absent"):
        work.clear()
        with pytest.raises(AccessDeniedError):  # associated data never seen: no decision remembered
            alice.encrypt_data_aes(key_id, "x", associated_data=f"never seen {key_id} {uuid.uuid4()}")
        fresh.append(tuple(work))
    assert fresh[0] == fresh[1]


def test_a_revoked_then_reissued_credential_leaves_the_old_view_refused(kms: KeyCustodian) -> None:
    kms.establish_aes_key("prod")
    kms.set_key_policy("prod", policy(allow("alice", "kms:Encrypt")))
    old_credential = kms.issue_credential("alice")
    old = kms.as_principal(old_credential)
    old.encrypt_data_aes("prod", "x")
    kms.revoke_credential("alice")
    new = view(kms, "alice")
    with pytest.raises(AccessDeniedError):
        old.encrypt_data_aes("prod", "x")
    with pytest.raises(AccessDeniedError, match="not valid here"):
        kms.as_principal(old_credential)
    new.encrypt_data_aes("prod", "x")


def test_a_deny_on_associated_data_is_not_dodged_by_leaving_it_out(kms: KeyCustodian) -> None:
    kms.establish_aes_key("prod")
    token = kms.encrypt_data_aes("prod", "salaries", associated_data="hr")
    sealed = kms.encrypt_envelope("prod", b"salaries", associated_data="hr")
    hr = {"StringEquals": {"kmslib:AssociatedData": "hr"}}
    kms.set_key_policy("prod", policy(allow("bob", "kms:*"), deny("bob", "kms:*", Condition=hr)))
    bob = view(kms, "bob")
    for call in (
        lambda: bob.decrypt_data_aes("prod", token, associated_data="hr"),
        lambda: bob.decrypt_envelope("prod", sealed, associated_data=b"hr"),
        lambda: bob.rewrap("prod", token, associated_data=bytearray(b"hr")),
    ):
        with pytest.raises(AccessDeniedError):
            call()
    for call in (
        lambda: bob.decrypt_data_aes("prod", token),
        lambda: bob.decrypt_envelope("prod", sealed),
        lambda: bob.rewrap("prod", token),
        lambda: bob.decrypt_data_aes("prod", token, associated_data=""),
    ):
        with pytest.raises(DecryptionError):
            call()


@pytest.mark.parametrize("look_alike", ["\u0430lice", "alice ", "Alice"])
def test_a_look_alike_principal_name_gets_nothing(kms: KeyCustodian, look_alike: str) -> None:
    kms.establish_aes_key("prod")
    kms.set_key_policy("prod", policy(allow("alice", "kms:*")))
    kms.create_grant("prod", "alice", ["kms:Encrypt"])
    impostor = view(kms, look_alike)
    with pytest.raises(AccessDeniedError):
        impostor.encrypt_data_aes("prod", "x")
    assert kms.audit_log[-1].principal == look_alike
    view(kms, "alice").encrypt_data_aes("prod", "x")


def test_an_approval_for_one_key_does_not_serve_another(kms: KeyCustodian) -> None:
    for key_id in ("prod", "prod2"):
        kms.establish_aes_key(key_id)
        kms.set_key_policy(key_id, policy(allow(["alice", "bob"], "kms:RevokeKey", Condition=approvals(1))))
    alice, bob = view(kms, "alice"), view(kms, "bob")
    first = request(lambda: alice.invalidate_key("prod"))
    bob.approve(first)
    assert request(lambda: alice.invalidate_key("prod2")) != first
    with pytest.raises(ApprovalRequiredError):
        bob.invalidate_key("prod")  # the same call by another principal: its own request
    assert [kms.key_info(k).state for k in ("prod", "prod2")] == ["active", "active"]
    alice.invalidate_key("prod")
    assert [kms.key_info(k).state for k in ("prod", "prod2")] == ["revoked", "active"]


PASSPHRASE = "correct horse battery staple"


def access_rows(path: Path) -> dict[str, tuple[str, str]]:
    db = sqlite3.connect(path)
    try:
        return {name: (value, mac) for name, value, mac in db.execute("SELECT name, value, mac FROM access")}
    finally:
        db.close()


def put_back(path: Path, name: str, row: tuple[str, str]) -> None:
    db = sqlite3.connect(path)
    try:
        db.execute("INSERT OR REPLACE INTO access VALUES (?, ?, ?)", [name, *row])
        db.commit()
    finally:
        db.close()


@pytest.mark.parametrize("row", ["policy\nprod", "credential\nalice"])
def test_an_access_row_from_an_older_copy_of_the_store_refuses_it(tmp_path: Path, row: str) -> None:
    path = tmp_path / "keys.db"
    kmslib.init_store(path, passphrase=PASSPHRASE)
    with KeyCustodian.open(path, passphrase=PASSPHRASE) as kms:
        kms.establish_aes_key("prod")
        kms.set_key_policy("prod", policy(allow("alice", "kms:Decrypt")))
        kms.issue_credential("alice")
    backup = access_rows(path)
    with KeyCustodian.open(path, passphrase=PASSPHRASE) as kms:
        kms.set_key_policy("prod", policy(deny("alice", "kms:Decrypt")))
        kms.revoke_credential("alice")
    put_back(path, row, backup[row])
    with pytest.raises(StoreError, match=r"tampered|differ from its manifest"):
        KeyCustodian.open(path, passphrase=PASSPHRASE)


def test_a_whole_file_rollback_brings_back_a_revoked_credential_as_the_readme_says(tmp_path: Path) -> None:
    path, backup = tmp_path / "keys.db", tmp_path / "backup.db"
    kmslib.init_store(path, passphrase=PASSPHRASE)
    with KeyCustodian.open(path, passphrase=PASSPHRASE) as kms:
        kms.establish_aes_key("prod")
        kms.set_key_policy("prod", policy(allow("alice", "kms:Encrypt")))
        credential = kms.issue_credential("alice")
    backup.write_bytes(path.read_bytes())
    with KeyCustodian.open(path, passphrase=PASSPHRASE) as kms:
        kms.revoke_credential("alice")
    path.write_bytes(backup.read_bytes())
    with KeyCustodian.open(path, passphrase=PASSPHRASE) as kms:
        kms.as_principal(credential).encrypt_data_aes("prod", "x")
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "The whole file replaced by an older copy of itself is not detected" in " ".join(readme.split())


CRASH_AFTER_APPROVAL = """
import os, sys
import kmslib
from kmslib import ApprovalRequiredError, KeyCustodian
kms = KeyCustodian.open(sys.argv[1], passphrase=sys.argv[2])
kms.establish_aes_key("prod")
statement = {"Effect": "Allow", "Principal": ["alice", "bob"], "Action": "kms:RevokeKey",
             "Condition": {"NumericGreaterThanEquals": {"kmslib:Approvals": 1}}}
kms.set_key_policy("prod", {"Statement": [statement]})
alice = kms.as_principal(kms.issue_credential("alice"))
bob = kms.as_principal(kms.issue_credential("bob"))
try:
    alice.invalidate_key("prod")
except ApprovalRequiredError as error:
    bob.approve(error.request_id)
os._exit(0)  # killed the moment approve returned: no close, nothing flushed
"""


def test_an_approval_that_returned_is_in_the_audit_log_after_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    kmslib.init_store(path, passphrase=PASSPHRASE)
    root = str(Path(kmslib.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root}
    subprocess.run([sys.executable, "-c", CRASH_AFTER_APPROVAL, str(path), PASSPHRASE], check=True, env=env)
    with KeyCustodian.open(path, passphrase=PASSPHRASE) as kms:
        assert len(kms._access._pending) == 1  # the approval survived the crash
        assert ("approve", "prod", "bob", "ok") in [
            (e.operation, e.key_id, e.principal, e.outcome) for e in kms.audit_log
        ]


def test_a_request_that_was_raised_is_in_the_audit_log_after_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    kmslib.init_store(path, passphrase=PASSPHRASE)
    root = str(Path(kmslib.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root}
    script = CRASH_AFTER_APPROVAL.replace("    bob.approve(error.request_id)\n", "    pass\n")
    assert script != CRASH_AFTER_APPROVAL
    subprocess.run([sys.executable, "-c", script, str(path), PASSPHRASE], check=True, env=env)
    with KeyCustodian.open(path, passphrase=PASSPHRASE) as kms:
        assert len(kms._access._pending) == 1  # the request survived the crash, and so does its entry
        assert ("invalidate_key", "prod", "alice", "ApprovalRequiredError") in [
            (e.operation, e.key_id, e.principal, e.outcome) for e in kms.audit_log
        ]


def test_a_pending_row_from_another_store_refuses_it(tmp_path: Path) -> None:
    paths = [tmp_path / "a.db", tmp_path / "b.db"]
    for path in paths:
        kmslib.init_store(path, passphrase=PASSPHRASE)
        with KeyCustodian.open(path, passphrase=PASSPHRASE) as kms:
            kms.establish_aes_key("prod")
            kms.set_key_policy("prod", policy(allow(["alice", "bob"], "kms:RevokeKey", Condition=approvals(1))))
            with pytest.raises(ApprovalRequiredError):
                view(kms, "alice").invalidate_key("prod")
    (name, row), *_ = ((n, r) for n, r in access_rows(paths[0]).items() if n.startswith("pending"))
    put_back(paths[1], name, row)
    with pytest.raises(StoreError, match=r"tampered|differ from its manifest"):
        KeyCustodian.open(paths[1], passphrase=PASSPHRASE)


def test_a_view_is_no_sandbox_as_the_readme_says(kms: KeyCustodian) -> None:
    kms.establish_aes_key("prod")
    alice = view(kms, "alice")
    reached, frontier = False, [alice]
    for _ in range(4):  # the owner's object, a few references away from the view
        frontier = [r for obj in frontier for r in gc.get_referents(obj) if not isinstance(r, type)]
        reached = reached or any(r is kms for r in frontier)
    assert reached
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "code holding a view reaches that object through Python's introspection" in " ".join(readme.split())


def test_a_token_of_another_key_is_not_decrypted_under_a_key_the_principal_may_use() -> None:
    kms = KeyCustodian(clock=StepClock())
    kms.establish_aes_key("mine")
    kms.establish_aes_key("theirs")
    token = kms.encrypt_data_aes("theirs", "their secret")
    sealed = kms.encrypt_envelope("theirs", b"their secret")
    kms.set_key_policy("mine", policy(allow("alice", ["kms:Decrypt", "kms:ReEncrypt"])))
    alice = view(kms, "alice")
    for call in (
        lambda: alice.decrypt_data_aes("mine", token),
        lambda: alice.rewrap("mine", token),
        lambda: alice.decrypt_envelope("mine", sealed),
        lambda: alice.rewrap_envelope("mine", sealed),
    ):
        with pytest.raises(DecryptionError):
            call()
    with pytest.raises(AccessDeniedError):
        alice.decrypt_data_aes("theirs", token)


class _ClaimsToBeStr:
    """An object whose ``__class__`` says ``str``: ``isinstance`` believes it."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # the lie is the point
        return str


@pytest.mark.parametrize("method", ["encrypt", "decrypt"])
def test_associated_data_claiming_to_be_str_is_a_typed_error(method: str) -> None:
    kms = KeyCustodian()
    kms.establish_aes_key("k")
    token = kms.encrypt_data_aes("k", "x")
    alice = kms.as_principal(kms.issue_credential("alice"))
    kms.set_key_policy("k", {"Statement": [{"Effect": "Allow", "Principal": "alice", "Action": "kms:*"}]})
    impostor = _ClaimsToBeStr()
    assert isinstance(impostor, str)
    for custodian in (kms, alice):
        call = custodian.encrypt_data_aes if method == "encrypt" else custodian.decrypt_data_aes
        argument = "x" if method == "encrypt" else token
        with pytest.raises((ArgumentTypeError, AccessDeniedError)):
            call("k", argument, associated_data=impostor)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["*"])
def test_the_wildcard_is_no_principal_name(name: str) -> None:
    kms = KeyCustodian()
    kms.establish_aes_key("k")
    with pytest.raises(InvalidInputError, match="every principal"):
        kms.issue_credential(name)
    with pytest.raises(InvalidInputError, match="every principal"):
        kms.create_grant("k", name, ["kms:Decrypt"])
