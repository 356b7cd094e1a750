"""Argument checks shared by the custodian and the key-exchange helpers.

Each check raises a typed :mod:`kmslib.errors` error whose message names the argument
but never echoes a value that could be secret (plaintext, key bytes).
"""

from __future__ import annotations

import codecs
from collections.abc import Collection
from typing import cast

from kmslib.errors import ArgumentTypeError, InvalidInputError

MAX_KEY_ID_LENGTH = 128


def key_id(value: object, name: str = "key_id") -> str:
    """Return ``value`` as a valid key id: a plain ``str``.

    A key id is a non-empty ``str`` of at most 128 printable characters that is not only
    spaces. A ``str`` subclass (a ``StrEnum`` member, say) is taken as its plain value: it is
    converted with ``str.__str__`` and checked with ``str``'s own methods, so that a subclass
    cannot answer for itself, and kmslib stores, compares, hashes and logs the plain value.

    Raises:
        ArgumentTypeError: ``value`` is not a ``str``.
        InvalidInputError: ``value`` is empty, too long, not printable or only spaces.

    """
    if type(value) is not str:
        if not issubclass(type(value), str):  # not isinstance: it asks the object for its __class__
            raise ArgumentTypeError(f"{name} must be a str, not {type(value).__name__}")
        value = str.__str__(value)
    if not value.strip(" "):
        raise InvalidInputError(f"{name} must not be empty or only spaces")
    if len(value) > MAX_KEY_ID_LENGTH:
        raise InvalidInputError(f"{name} is {len(value)} characters long; the limit is {MAX_KEY_ID_LENGTH}")
    if not value.isprintable():
        raise InvalidInputError(f"{name} must contain printable characters only")
    return value


def plain_key_id(value: object) -> str | None:
    """What the audit log records for a key id it was given; never raises.

    The plain ``str`` value, cut to the longest valid id, or ``None`` for anything that is not a ``str``.
    """
    if type(value) is not str:
        if not issubclass(type(value), str):  # not isinstance, which runs the object's __class__
            return None
        value = str.__str__(value)
    return value if len(value) <= MAX_KEY_ID_LENGTH else value[:MAX_KEY_ID_LENGTH]


def data(value: object, name: str) -> bytes:
    """Return ``value`` as bytes: a ``str`` is encoded as UTF-8.

    Raises:
        ArgumentTypeError: ``value`` is neither ``str`` nor bytes-like.
        InvalidInputError: a ``str`` that cannot be encoded (a lone surrogate).

    """
    if type(value) is bytes:  # the common case, first
        return value
    kind = type(value)  # not isinstance, which asks the object for its __class__ (and believes a lie)
    if issubclass(kind, str):
        try:
            return str.encode(cast("str", value), "utf-8")  # str's own method, not a subclass's encode()
        except UnicodeEncodeError:
            pass
        raise InvalidInputError(f"{name} is a str that cannot be encoded as UTF-8")
    if issubclass(kind, (bytes, bytearray, memoryview)):
        return bytes(memoryview(cast("bytes", value)))  # the buffer itself: a subclass's __bytes__ is not called
    raise ArgumentTypeError(f"{name} must be str or bytes, not {type(value).__name__}")


def buffer(value: object, name: str) -> memoryview:
    """Return bytes-like ``value`` as a flat view of its bytes, without copying them.

    Raises:
        ArgumentTypeError: ``value`` is not bytes-like (a ``str`` must be encoded first).
        InvalidInputError: a view whose memory is not contiguous.

    """
    if not isinstance(value, (bytes, bytearray, memoryview)):
        hint = " (encode a str first, for example with .encode())" if isinstance(value, str) else ""
        raise ArgumentTypeError(f"{name} must be bytes, bytearray or memoryview, not {type(value).__name__}{hint}")
    view = memoryview(value)
    if not view.c_contiguous:
        raise InvalidInputError(f"{name} must be contiguous memory")
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


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
    """Return a text encoding's name, or ``None`` for bytes.

    Only text encodings are accepted (``codecs.lookup(name)`` is one that ``bytes.decode``
    takes): not ``"rot13"``, ``"hex"``, ``"zlib"`` and the other bytes-to-bytes or
    str-to-str codecs.

    Raises:
        ArgumentTypeError: ``value`` is neither ``str`` nor ``None``.
        InvalidInputError: Python knows no such encoding, or it is not a text encoding.

    """
    if value is None or (type(value) is str and value == "utf-8"):  # the defaults need no lookup
        return value
    if not isinstance(value, str):
        raise ArgumentTypeError(f"encoding must be a str or None, not {type(value).__name__}")
    value = str.__str__(value)
    try:
        info = codecs.lookup(value)
    except LookupError:
        info = None
    if info is None:
        raise InvalidInputError(f"encoding {value!r} is not a known text encoding")
    if not getattr(info, "_is_text_encoding", True):
        raise InvalidInputError(f"encoding {value!r} is not a text encoding (bytes.decode refuses it)")
    return value
