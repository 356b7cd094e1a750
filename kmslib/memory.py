"""The in-memory store: what a custodian without a file writes to (nothing), beside :mod:`kmslib.store`.

Memory and the sealed SQLite store offer the custodian the same methods, so that every path above the
store is the same code.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kmslib.errors import InvalidInputError

if TYPE_CHECKING:
    from kmslib.keyinfo import KeyInfo
    from kmslib.states import Material

__all__ = ["IN_MEMORY", "InMemory"]


class InMemory:
    """The default store: nothing is written, and keys live only as long as the process.

    It offers what :class:`kmslib.store.SealedStore` offers the custodian, so that both run the
    same code above the store.
    """

    __slots__ = ()
    #: An in-memory custodian has no file.
    path: Path | None = None

    def save_key(self, info: KeyInfo, new_versions: dict[int, Material]) -> None:
        """Nothing to write: the custodian's memory is the store."""

    def reserver(self, key_id: str, version: int) -> None:
        """Nothing keeps usage counts: they live as long as the process (see :mod:`kmslib.usage`)."""

    def rekey(
        self, current: object, passphrase: object, shares: object, threshold: object, share_recipients: object = None
    ) -> list[str]:
        """An in-memory custodian has no unseal secret."""
        raise InvalidInputError("an in-memory custodian has no unseal secret: rekey a store opened with open()")

    def close(self) -> None:
        """Nothing to release."""


#: The one in-memory store every custodian without a file shares (it holds nothing).
IN_MEMORY = InMemory()
