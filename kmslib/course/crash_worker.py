"""A process that makes key changes in a sealed store until it is killed (lesson 08's crash).

``python -m kmslib.course.crash_worker PATH PASSPHRASE`` opens the store, then creates and rotates
keys in a loop, printing each change's name only after its call has returned. Lesson 08 kills it
with SIGKILL in the middle of that loop and shows that every printed change survived.
"""

from __future__ import annotations

import sys

from kmslib.custodian import KeyCustodian


def _say(line: str) -> None:
    """One line in one write: print writes the text and the newline apart, and a kill may fall between them."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    """Open the store named on the command line and change keys until killed."""
    path, passphrase = (argv or sys.argv[1:])[:2]
    kms = KeyCustodian.open(path, passphrase=passphrase)
    _say("open")
    n = len(kms.list_keys())
    while True:
        kms.establish_aes_key(f"key-{n}")
        _say(f"created key-{n}")
        kms.rotate_key(f"key-{n}")
        _say(f"rotated key-{n}")
        n += 1


if __name__ == "__main__":
    main()
