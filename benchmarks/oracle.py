"""Does a principal's denial take the same time whether or not the key exists? (contract section 11)

A principal with no permission on a key gets the same ``AccessDeniedError``, with the same message, whether or
not the key exists (tested in ``tests/test_principals.py``). This measures the other half of "no existence
oracle": the time. Three denied calls take turns in every round, so a machine whose speed drifts meets each
alike: a key that does not exist, a key that exists under a policy that names the principal for nothing it asks,
a key that exists without a policy (the owner's alone), and a key whose policy names only other principals.
Only the last two are "no permission at all"; the second shows what a principal that may describe the key can
see anyway. Each ratio is the median of per-round ratios against
the missing key; 1.00 means no difference to see. Not part of ``make test``: timings belong here, never in tests.

Usage: ``python benchmarks/oracle.py [--rounds N] [--calls N]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from kmslib import KeyCustodian
from kmslib.errors import AccessDeniedError


def _denied(call: Callable[[], object]) -> None:
    try:
        call()
    except AccessDeniedError:
        return
    raise AssertionError("the call was not denied")  # the measurement would be of something else


def _batch(call: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        _denied(call)
    return (time.perf_counter() - start) / calls


def main(argv: list[str] | None = None) -> int:
    """Print each denial's median time and its ratio to the missing key's."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args(argv)
    kms = KeyCustodian()
    kms.establish_aes_key("guarded")
    kms.establish_aes_key("private")
    kms.establish_aes_key("others")
    kms.set_key_policy("others", {"Statement": [{"Effect": "Allow", "Principal": "alice", "Action": "kms:Decrypt"}]})
    kms.set_key_policy(
        "guarded",
        {"Statement": [{"Effect": "Allow", "Principal": "mallory", "Action": "kms:DescribeKey"}]},
    )
    token = kms.encrypt_data_aes("guarded", "a secret")
    mallory = kms.as_principal(kms.issue_credential("mallory"))
    cases: dict[str, Callable[[], object]] = {
        "no such key": lambda: mallory.decrypt_data_aes("missing", token),
        "key exists, policy allows something else": lambda: mallory.decrypt_data_aes("guarded", token),
        "key exists, no policy": lambda: mallory.decrypt_data_aes("private", token),
        "key exists, policy names only others": lambda: mallory.decrypt_data_aes("others", token),
    }
    for call in cases.values():  # warm up
        _batch(call, args.calls // 10 or 1)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, call in cases.items():
            times[name].append(_batch(call, args.calls))
    base = times["no such key"]
    print(f"{'denied decrypt_data_aes by a principal':45} {'median':>10} {'vs no such key':>15}")
    for name, measured in times.items():
        ratio = statistics.median(m / b for m, b in zip(measured, base, strict=True))
        print(f"{name:45} {statistics.median(measured) * 1e6:8.2f} µs {ratio:14.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
