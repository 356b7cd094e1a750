"""A process that changes key states in a sealed store until it is killed (test_store_states.py runs it).

Usage: python states_worker.py PATH PASSPHRASE

It walks each new key k0, k1, ... through active, suspended, active, deactivated, compromised and revoked,
and prints "STATE KEY" in one write after each call that made the change has returned.
"""

from __future__ import annotations

import sys

from kmslib import KeyCustodian

#: The states each key goes through, in order, and the call that makes each.
STEPS = ("active", "suspended", "resumed", "deactivated", "compromised", "revoked")


def say(*words: object) -> None:
    """One line in one write, so that a kill never leaves half a line."""
    sys.stdout.write(" ".join(map(str, words)) + "\n")
    sys.stdout.flush()


def main() -> None:
    path, passphrase = sys.argv[1:3]
    kms = KeyCustodian.open(path, passphrase=passphrase)
    n = len(kms.list_keys())
    while True:
        key_id = f"k{n}"
        kms.establish_aes_key(key_id)
        say("active", key_id)
        kms.suspend_key(key_id, reason="investigating")
        say("suspended", key_id)
        kms.resume_key(key_id)
        say("resumed", key_id)
        kms.deactivate_key(key_id)
        say("deactivated", key_id)
        kms.mark_compromised(key_id, reason="leaked")
        say("compromised", key_id)
        kms.invalidate_key(key_id)
        say("revoked", key_id)
        n += 1


if __name__ == "__main__":
    main()
