"""JSON read from an untrusted file, bounded before it is parsed: its type, its length and its nesting depth.

Python's ``json`` parses nested arrays and objects recursively, so a text of 100,000 nested
lists raises ``RecursionError``, which is no :class:`~kmslib.errors.KMSError`. :func:`loads`
first walks the text once, skipping its strings (each matched once, from its opening quote, by a
regular expression that cannot backtrack), counts the brackets outside them, and refuses a text
nested deeper than asked before ``json`` parses any of it. The walk and the parse take time
linear in the text's length.
"""

from __future__ import annotations

import json
import re
from typing import Any

from kmslib.errors import StoreError

__all__ = ["loads"]

_TOKEN = re.compile(r'["\[\]{}]')
#: A JSON string from its opening quote: characters other than a quote or backslash, and escapes.
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)


def loads(text: object, *, what: str, max_depth: int, max_chars: int | None = None) -> Any:
    """The JSON value ``text`` holds, if it is a ``str`` of at most ``max_chars`` nested at most ``max_depth`` deep.

    Args:
        text: the stored text (any type: a store's rows are untrusted).
        what: what the text is, for the error message (``"unseal row"``).
        max_depth: the deepest nesting of arrays and objects accepted (``1``: a flat object or array).
        max_chars: the longest text accepted, or ``None`` for no limit but the file's size.

    Raises:
        StoreError: anything else: not text, too long, nested too deep, or not JSON.
    """
    problem = None
    if not isinstance(text, str):
        problem = f"the store's {what} is not text"
    elif max_chars is not None and len(text) > max_chars:
        problem = f"the store's {what} is longer than the {max_chars:,} characters kmslib reads"
    else:
        reason = _nesting(text, max_depth)
        problem = None if reason is None else f"the store's {what} {reason}"
    if problem is None and isinstance(text, str):
        try:
            return json.loads(text)
        except (ValueError, RecursionError):  # JSONDecodeError, or an integer of too many digits
            problem = f"the store's {what} is not valid JSON"
    raise StoreError(f"{problem}: the file was damaged or tampered with")


def _nesting(text: str, max_depth: int) -> str | None:
    """What is wrong with ``text``'s nesting (deeper than ``max_depth``, unbalanced, a broken string), or ``None``."""
    depth, position = 0, 0
    search = _TOKEN.search
    while (found := search(text, position)) is not None:
        bracket, position = found.group(), found.end()
        if bracket == '"':
            string = _STRING.match(text, found.start())
            if string is None:
                return "holds an unterminated string"
            position = string.end()
        elif bracket in "[{":
            depth += 1
            if depth > max_depth:
                return f"is nested more than {max_depth} deep"
        else:
            depth -= 1
            if depth < 0:
                return "closes a bracket it never opened"
    return None
