"""Argument checks shared by the custodian and the key-exchange helpers.

Each check raises a typed :mod:`kmslib.errors` error whose message names the argument
but never echoes a value that could be secret (plaintext, key bytes).
"""

from __future__ import annotations

import codecs
from collections.abc import Collection

from kmslib.errors import ArgumentTypeError, InvalidInputError

MAX_KEY_ID_LENGTH = 128


def key_id(value: object, name: str = "key_id") -> str:
    """Return ``value`` if it is a valid key id.

    A key id is a non-empty ``str`` of at most 128 printable characters that is not only spaces.

    Raises:
        ArgumentTypeError: ``value`` is not a ``str``.
        InvalidInputError: ``value`` is empty, too long, not printable or only spaces.

    """
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{name} must be a str, not {type(value).__name__}")
    if not value.strip(" "):
        raise InvalidInputError(f"{name} must not be empty or only spaces")
    if len(value) > MAX_KEY_ID_LENGTH:
        raise InvalidInputError(f"{name} is {len(value)} characters long; the limit is {MAX_KEY_ID_LENGTH}")
    if not value.isprintable():
        raise InvalidInputError(f"{name} must contain printable characters only")
    return value


def data(value: object, name: str) -> bytes:
    """Return ``value`` as bytes: a ``str`` is encoded as UTF-8.

    Raises:
        ArgumentTypeError: ``value`` is neither ``str`` nor bytes-like.
        InvalidInputError: a ``str`` that cannot be encoded (a lone surrogate).

    """
    if type(value) is bytes:  # the common case, first
        return value
    if isinstance(value, str):
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInputError(f"{name} is a str that cannot be encoded as UTF-8") from None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise ArgumentTypeError(f"{name} must be str or bytes, not {type(value).__name__}")


def optional_data(value: object, name: str) -> bytes | None:
    """Like :func:`data`, but ``None`` passes through."""
    return None if value is None else data(value, name)


def choice(value: object, name: str, allowed: Collection[str]) -> str:
    """Return ``value`` if it is one of ``allowed``.

    Raises:
        ArgumentTypeError: ``value`` is not a ``str``.
        InvalidInputError: ``value`` is not one of the allowed names.

    """
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{name} must be a str, not {type(value).__name__}")
    if value not in allowed:
        names = ", ".join(repr(a) for a in allowed)
        raise InvalidInputError(f"{name} must be one of {names}, not {value!r}")
    return value


def text_or_bytes_pem(value: object, name: str) -> bytes:
    """Return PEM text given as ``str`` or bytes, as bytes.

    Raises:
        ArgumentTypeError: ``value`` is neither ``str`` nor bytes-like.

    """
    if isinstance(value, str):
        return value.encode("ascii", errors="replace")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise ArgumentTypeError(f"{name} must be PEM text (str or bytes), not {type(value).__name__}")


def encoding(value: object) -> str | None:
    """Return a text encoding name, or ``None`` for bytes.

    Raises:
        ArgumentTypeError: ``value`` is neither ``str`` nor ``None``.
        InvalidInputError: Python knows no such encoding.

    """
    if value is None or (type(value) is str and value == "utf-8"):  # the defaults need no lookup
        return value
    if not isinstance(value, str):
        raise ArgumentTypeError(f"encoding must be a str or None, not {type(value).__name__}")
    try:
        codecs.lookup(value)
    except LookupError:
        raise InvalidInputError(f"encoding {value!r} is not a known text encoding") from None
    return value
