"""``import kmslib`` loads cryptography and the standard library only."""

from __future__ import annotations

import subprocess
import sys

import kmslib

FORBIDDEN = ("ipywidgets", "matplotlib", "IPython", "jupyterlab", "jupyter_client", "ipykernel", "numpy", "traitlets")


def test_import_kmslib_loads_no_notebook_machinery() -> None:
    code = (
        "import sys, kmslib, kmslib.custodian, kmslib.dh, kmslib.audit, kmslib.tokens;"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(result.stdout.split())
    assert not loaded & set(FORBIDDEN)
    assert not loaded & {"sqlite3", "_sqlite3", "shamir_mnemonic"}  # a store's modules load when a store is used
    third_party = {m for m in loaded - set(sys.stdlib_module_names) if not m.startswith("_")}
    assert third_party <= {"kmslib", "cryptography", "cffi", "pycparser"}, third_party


def test_public_names_are_documented() -> None:
    for name in kmslib.__all__:
        obj = getattr(kmslib, name)
        if callable(obj) or isinstance(obj, type):
            assert obj.__doc__, name
    public_methods = [m for m in dir(kmslib.KeyCustodian) if not m.startswith("_")]
    for method in public_methods:
        doc = getattr(kmslib.KeyCustodian, method).__doc__ or ""
        assert doc.strip(), method
