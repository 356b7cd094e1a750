"""A process that works on a sealed store until it is killed (test_store_faults.py runs it).

Usage: python store_worker.py MODE PATH SECRET (a passphrase, or "shares=" and a JSON list of shares)

Modes:
    lifecycle   key changes in a loop; prints each change after its call returned
    hold        opens the store, prints "open", and waits
    data        one key, then COUNT encryptions; prints "encrypted COUNT", waits PAUSE seconds, prints "waited"
    no-checkpoint
                key changes with SQLite's checkpoints suppressed (so the WAL keeps them), then kills itself
    gcm         GCM encryptions under key "data" (made if missing), reserving BLOCK at a time (argument 4);
                prints "encrypted N" after each one returned
    access      key policies, credentials and grants changed in a loop; prints each change after its call returned
    revoke      tries to open the store and revoke key KEY: prints "refused ERROR" (the open's error) or "revoked"
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any

from kmslib import KeyCustodian, KMSError


def say(*words: object) -> None:
    """One line in one write, so that a kill never leaves half a line (print writes its parts one by one)."""
    sys.stdout.write(" ".join(map(str, words)) + "\n")
    sys.stdout.flush()


class _NoCheckpoint:
    """A connection that ignores checkpoints: the WAL keeps every transaction, as after a crash."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def execute(self, sql: str, *args: Any) -> Any:
        if "wal_checkpoint" in sql:
            return None
        return self._connection.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


def lifecycle(kms: KeyCustodian) -> None:
    n = len(kms.list_keys())
    while True:
        key_id = f"k{n}"
        kms.establish_aes_key(key_id)
        say("create", key_id)
        kms.rotate_key(key_id)
        say("rotate", key_id)
        kms.invalidate_key(key_id, version=1, reason="rotated")
        say("revoke-version", key_id)
        if n % 3 == 0:
            kms.invalidate_key(key_id, reason="retired")
            say("revoke", key_id)
        n += 1


def access(kms: KeyCustodian) -> None:
    if "a" not in kms:
        kms.establish_aes_key("a")
    n = len(kms.list_grants("a"))
    while True:
        name = f"p{n}"
        statement = {"Effect": "Allow", "Principal": name, "Action": "kms:Encrypt"}
        kms.set_key_policy("a", {"Statement": [statement]})
        say("policy", name)
        kms.issue_credential(name)
        say("credential", name)
        say("grant", name, kms.create_grant("a", name, ["kms:Decrypt"]))
        if n % 2 == 0:
            kms.revoke_credential(name)
            say("revoked", name)
        n += 1


def main() -> None:
    mode, path, passphrase = sys.argv[1:4]
    if mode == "revoke":
        shares = json.loads(passphrase.removeprefix("shares=")) if passphrase.startswith("shares=") else None
        try:
            if shares is not None:
                kms = KeyCustodian.open(path, shares=shares)
            else:
                kms = KeyCustodian.open(path, passphrase=passphrase)
        except KMSError as exc:
            say("refused", type(exc).__name__)
            return
        kms.invalidate_key(sys.argv[4], reason="revoked by the second process")
        kms.close()
        say("revoked")
        return
    kms = KeyCustodian.open(path, passphrase=passphrase)
    say("open")
    if mode == "lifecycle":
        lifecycle(kms)
    elif mode == "access":
        access(kms)
    elif mode == "hold":
        time.sleep(600)
    elif mode == "data":
        kms.establish_aes_key("data")
        count, pause = int(sys.argv[4]), float(sys.argv[5])
        for _ in range(count):
            kms.encrypt_data_aes("data", "x")
        say("encrypted", count)
        time.sleep(pause)
        say("waited")
        time.sleep(600)
    elif mode == "gcm":
        from kmslib import usage  # only this mode needs it

        usage.RESERVATION_BLOCK = int(sys.argv[4])
        if "data" not in kms:
            kms.establish_aes_key("data")
        n = 0
        while True:
            kms.encrypt_data_aes("data", "x")
            n += 1
            say("encrypted", n)
    elif mode == "no-checkpoint":
        kms._store._db = _NoCheckpoint(kms._store._db)  # type: ignore[union-attr,assignment]
        for n in range(int(sys.argv[4])):
            kms.establish_aes_key(f"k{n}")
            say("create", f"k{n}")
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main()
