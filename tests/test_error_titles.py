"""Every error of the kmslib tree shows in a form under a title of its own, not the generic "Error"."""

from __future__ import annotations

import inspect

import pytest

from kmslib import errors
from kmslib.widgets._common import error_title

CLASSES = sorted(
    (
        c
        for _, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, errors.KMSError) and c is not errors.KMSError
    ),
    key=lambda c: c.__name__,
)


@pytest.mark.parametrize("error", CLASSES, ids=[c.__name__ for c in CLASSES])
def test_each_error_has_a_title(error: type[errors.KMSError]) -> None:
    exc = error.__new__(error)
    assert error_title(exc) != "Error"
