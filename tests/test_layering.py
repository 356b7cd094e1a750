"""``import kmslib`` loads cryptography and the standard library only; the custodian stays a facade."""

from __future__ import annotations

import ast
import io
import subprocess
import sys
import tokenize
from pathlib import Path

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
    assert not loaded & {
        "sqlite3",
        "_sqlite3",
        "shamir_mnemonic",
        "pkcs11",
        "asn1crypto",
    }  # a store's modules load when a store is used
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


def code_lines(path: Path) -> int:
    """Lines of code in a Python file: not blank, not only a comment, not part of a docstring."""
    source = path.read_text(encoding="utf-8")
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            value = first.value if isinstance(first, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    skipped = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skipped:
            lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines - docstrings)


def test_the_code_line_counter_skips_docstrings_comments_and_blank_lines(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Module docstring,\n\nthree lines."""\n\n# a comment\nimport os  # counted\n\n\n'
        'class A:\n    """One line."""\n\n    def f(self) -> str:\n        """Two\n        lines."""\n'
        '        return """not a docstring,\n        two lines"""\n'
    )
    assert code_lines(sample) == 5  # import, class, def, and the return's two lines


def test_the_custodian_stays_a_facade_of_about_900_lines_of_code() -> None:
    assert code_lines(Path(kmslib.__file__).parent / "custodian.py") <= 900


def test_import_kmslib_leaves_x509_until_certificates_are_used() -> None:
    """pyca's x509 (some 20 ms to import) loads with the first certificate, not with ``import kmslib``."""
    code = (
        "import sys, kmslib; before = 'cryptography.x509' in sys.modules;"
        "from kmslib import CertificateAuthority; after = 'cryptography.x509' in sys.modules;"
        "print(before, after, CertificateAuthority.__module__)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "True", "kmslib.pki"]
