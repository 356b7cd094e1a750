"""Shamir unseal: SLIP-0039's published test vectors through kmslib.unsealing, and share progress for a form."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from kmslib import UnsealError, unsealing

VECTORS = json.loads((Path(__file__).parent / "vectors" / "slip39" / "vectors.json").read_text())


@pytest.mark.parametrize(
    ("description", "mnemonics", "secret_hex"), [v[:3] for v in VECTORS], ids=[v[0] for v in VECTORS]
)
def test_slip39_published_vectors(description: str, mnemonics: list[str], secret_hex: str) -> None:
    # the vectors use iteration exponents 0 to 3; kmslib's own shares use 1, the most it combines by default
    if secret_hex:
        combined = unsealing.combine_shares(mnemonics, _slip39_passphrase=b"TREZOR", _max_iteration_exponent=3)
        assert combined == bytes.fromhex(secret_hex)
    else:
        with pytest.raises(UnsealError):
            unsealing.combine_shares(mnemonics, _slip39_passphrase=b"TREZOR", _max_iteration_exponent=3)


def test_every_vector_was_applied() -> None:
    assert len(VECTORS) == 45
    assert sum(1 for v in VECTORS if v[2]) == 15  # valid sets; the other 30 must be refused


def test_split_and_combine_round_trip_for_every_threshold() -> None:
    for shares, threshold in ((2, 2), (3, 2), (5, 3), (16, 16)):
        secret = secrets.token_bytes(32)
        printable = unsealing.split_unseal_key(secret, shares, threshold)
        assert len(printable) == shares
        assert unsealing.combine_shares(printable[-threshold:]) == secret
        if threshold > 2:
            with pytest.raises(UnsealError, match="more needed"):
                unsealing.combine_shares(printable[: threshold - 1])


def test_share_progress_counts_distinct_shares_and_names_a_mistyped_one() -> None:
    printable = unsealing.split_unseal_key(secrets.token_bytes(32), 5, 3)
    assert unsealing.share_progress([]) == (0, 0)
    assert unsealing.share_progress(printable[:1]) == (1, 3)
    assert unsealing.share_progress([printable[0], printable[0]]) == (1, 3)
    assert unsealing.share_progress(printable[:3]) == (3, 3)
    words = printable[1].split()
    words[-1], words[-2] = words[-2], words[-1]  # two words swapped: the checksum catches it
    with pytest.raises(UnsealError, match="share 2 is not a valid share"):
        unsealing.share_progress([printable[0], " ".join(words)])
    with pytest.raises(UnsealError, match="share 1 is not a valid share"):
        unsealing.share_progress([" ".join(printable[0].split()[:-1])])  # a word left out


def test_combined_shares_never_give_a_wrong_secret_for_a_mix_of_two_sets() -> None:
    one = unsealing.split_unseal_key(secrets.token_bytes(32), 3, 2)
    two = unsealing.split_unseal_key(secrets.token_bytes(32), 3, 2)
    with pytest.raises(UnsealError, match="another set"):
        unsealing.combine_shares([one[0], two[1]])
