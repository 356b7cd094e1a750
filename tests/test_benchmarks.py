"""The benchmark compares like with like: every case really round-trips, and the timer takes turns.

No timing is asserted here (speed targets live in ``benchmarks/``, never in tests).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from helpers import ROOT
from kmslib import AccessDeniedError, KeyCustodian


@functools.cache
def load_benchmark(script: str = "run") -> ModuleType:
    """A script of ``benchmarks/`` as a module (they are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"kmslib_benchmark_{script}", ROOT / "benchmarks" / f"{script}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("size", [0, 64, 70_000], ids=["empty", "small", "in-place"])
def test_every_round_trip_case_returns_its_input(size: int) -> None:
    data = os.urandom(size)
    cases = load_benchmark().round_trips(data)
    assert {"raw pyca AESGCM", "AESGCM + text token (floor)", "kmslib aes-256-gcm", "pyca Fernet"} <= set(cases)
    for name, round_trip in cases.items():
        assert bytes(round_trip()) == data, name  # type: ignore[call-overload]


def test_interleaved_timing_gives_every_case_one_sample_a_round() -> None:
    calls: list[str] = []
    samples = load_benchmark().measure_interleaved(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=4, min_time=0.0, max_number=1
    )
    assert {name: len(times) for name, times in samples.items()} == {"a": 4, "b": 4}
    assert all(t >= 0 for times in samples.values() for t in times)
    # calibration calls each once, then the rounds take turns in a rotating order
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b", "b", "a"]


def test_tink_is_built_only_when_asked() -> None:
    assert "Tink AEAD AES256_GCM" not in load_benchmark().round_trips(b"", tink=False)


def test_instruction_counts_cancel_the_start_up_work() -> None:
    if shutil.which("valgrind") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have valgrind (apt-get install valgrind)")
        pytest.skip("valgrind is not installed")
    instructions = load_benchmark("instructions")
    few, more = (instructions.count("raw pyca AESGCM", 64, calls) for calls in (10, 20))
    per_call = (more - few) / 10
    assert few > 1_000_000  # the interpreter's start-up is counted in both runs...
    assert 1_000 < per_call < 100_000  # ...and cancels: one small AES-GCM round trip is left


def test_the_envelope_case_and_its_memory_measure() -> None:
    run = load_benchmark()
    data = os.urandom(70_000)
    assert bytes(run.round_trips(data)["kmslib envelope"]()) == data  # type: ignore[call-overload]
    assert set(run.ENVELOPE_CASES) - {"Tink AEAD AES256_GCM"} <= set(run.round_trips(b"", tink=False))
    peak = run.envelope_peak_memory(1 << 20)
    assert 1.9 < peak < 2.2  # the input and the output, and a little more: no copy of the data


def test_the_exchange_and_signing_cases_run() -> None:
    run = load_benchmark()
    exchanges, wire = run.exchange_cases()
    for name, case in exchanges.items():
        assert case() is not None, name
    assert wire["x25519mlkem768"] == (1216, 1120)
    signatures, sizes = run.signing_cases()
    for case in signatures.values():
        case()  # a verification that fails would raise SignatureError
    assert sizes["ed25519"] == 64
    assert sizes["ml-dsa-65"] == 3309


def test_the_store_cases_run_and_round_trip(tmp_path: Path) -> None:
    slow, hot, close = load_benchmark().store_cases(tmp_path)
    assert {"store: durable key change", "in memory: the same key change"} <= set(slow)
    for case in slow.values():
        case()
    for case in hot.values():
        assert len(case()) == 1024  # type: ignore[arg-type]
    close()


def test_the_cell_profile_rewrites_only_the_readmes_table(tmp_path: Path) -> None:
    cells = load_benchmark("cells")
    readme = tmp_path / "README.md"
    head = "| notebook | code cells | median CPU | slowest cell (CPU) | why it costs that |\n|---|---|---|---|---|\n"
    readme.write_text(f"before\n<!-- cells-profile -->\n{head}| old | row |\n<!-- /cells-profile -->\nafter\n")
    costly = cells.Cell(3, "# Key generation is the lesson: about 2 s of CPU.", 2.0, 2.1)
    cheap = cells.Cell(5, "print(1)", 0.01, 0.01)
    cells.write_readme({"02_rsa.ipynb": [costly, cheap], "00_start_here.ipynb": [cheap]}, readme)
    assert readme.read_text() == (
        f"before\n<!-- cells-profile -->\n{head}"
        "| `02_rsa` | 2 | 1.005 s | 2.00 s (cell 3) | Key generation is the lesson: about 2 s of CPU. |\n"
        "| `00_start_here` | 1 | 0.010 s | 0.01 s (cell 5) | - |\n"
        "<!-- /cells-profile -->\nafter\n"
    )
    assert costly.says_so
    assert not cheap.says_so


def test_the_principal_cases_round_trip_as_a_principal_under_ten_statements() -> None:
    run = load_benchmark()
    assert len(run.TEN_STATEMENTS["Statement"]) == 10
    data = os.urandom(1024)
    cases, kms = run.principal_cases(data)
    assert set(run.PRINCIPAL_CASES) <= set(cases)
    for name, round_trip in cases.items():
        assert round_trip() == data, name
    cases[run.PRINCIPAL_CASES[1]]()
    assert [entry.principal for entry in kms.audit_log][-2:] == ["app", "app"]  # the principal's own calls
    kms.revoke_credential("app")
    with pytest.raises(AccessDeniedError):
        cases[run.PRINCIPAL_CASES[1]]()


def test_the_hardware_cases_round_trip_in_a_token(tmp_path: Path, softhsm: object) -> None:
    made = load_benchmark().hardware_cases(tmp_path)
    assert not isinstance(made, str), made
    slow, hot, cleanup = made
    try:
        for name, case in hot.items():
            assert len(case()) == 1024, name  # type: ignore[arg-type]
        for case in slow.values():
            case()
    finally:
        cleanup()


def test_the_wrapped_import_case_imports_a_key() -> None:
    kms = KeyCustodian()
    info = load_benchmark().wrapped_import(kms, "w")
    assert kms.key_info("w") == info


def test_the_certificate_cases_make_what_they_name() -> None:
    """Each pair makes the same kind of structure: a certificate, a CRL of the entries asked, an OCSP response."""
    from cryptography import x509
    from cryptography.x509 import ocsp

    cases = load_benchmark().certificate_cases(entries=5)
    assert len(cases) == 8
    for name, case in cases.items():
        made = case()
        if "status" in name or "verify_signature" in name:
            assert made  # it returns only once the chain, its status and the signature all check
            continue
        assert isinstance(made, (str, bytes)), name
        data = made.encode() if isinstance(made, str) else made
        if "OCSP" in name or "ocsp" in name:
            assert ocsp.load_der_ocsp_response(data).response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
        elif "CRL" in name or "crl()" in name:
            assert len(x509.load_pem_x509_crl(data)) == 5, name
        else:
            assert x509.load_pem_x509_certificate(data).subject.rfc4514_string() == "CN=Leaf"
