"""The course's pictures, drawn with matplotlib inside the notebook (nothing is downloaded).

Each function returns a matplotlib ``Figure``; a notebook shows it as its cell's result.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from datetime import datetime

import matplotlib.pyplot as plt
import numpy as np
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle

from kmslib import dh, hybrid
from kmslib.audit import GENESIS, AuditEntry
from kmslib.custodian import KeyCustodian
from kmslib.hsm import TokenObject
from kmslib.pki import CertificateAuthority, CertificateStatus
from kmslib.policy import Decision, parse_policy
from kmslib.rsa import RSAKeyVersion
from kmslib.signing import SigningKeyVersion
from kmslib.states import COMPROMISED, KEY_TRANSITIONS, REVOKED
from kmslib.tokens import inspect_token, parse_token

__all__ = [
    "audit_chain",
    "barrier",
    "cbc_chain",
    "certificate_chain",
    "ecb_vs_cbc",
    "gcm_diagram",
    "key_lifecycle",
    "key_states",
    "key_exchange_sizes",
    "key_hierarchy",
    "keygen_samples",
    "keygen_times",
    "man_in_the_middle",
    "paint_mixing",
    "plot_keygen_times",
    "plot_signing_times",
    "policy_matrix",
    "sample_image",
    "signature_sizes",
    "signing_table",
    "signing_times",
    "trust_boundary",
]


def sample_image(size: int = 192) -> np.ndarray:
    """A greyscale picture with large flat areas (a key and a bar), made here, one byte per pixel."""
    y, x = np.mgrid[0:size, 0:size] / size
    image = np.full((size, size), 230, dtype=np.uint8)
    ring = (np.hypot(x - 0.3, y - 0.5) < 0.2) & (np.hypot(x - 0.3, y - 0.5) > 0.09)
    shaft = (x > 0.45) & (x < 0.88) & (np.abs(y - 0.5) < 0.05)
    teeth = ((np.abs(x - 0.72) < 0.04) | (np.abs(x - 0.84) < 0.04)) & (y > 0.5) & (y < 0.66)
    image[ring | shaft | teeth] = 40
    image[(x > 0.05) & (x < 0.95) & (y > 0.86) & (y < 0.93)] = 120
    return image


def ecb_vs_cbc(image: np.ndarray | None = None) -> Figure:
    """The original picture, its AES-256-ECB encryption, and its AES-256-CBC encryption side by side.

    ECB encrypts equal 16-byte blocks to equal ciphertext blocks, so the shapes survive
    encryption; CBC (through kmslib) chains the blocks from a random IV, and nothing survives.

    Args:
        image: a 2-D uint8 array whose width is a multiple of 16 (default :func:`sample_image`).
    """
    picture = sample_image() if image is None else image
    pixels = picture.tobytes()
    key = secrets.token_bytes(32)
    ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - the lesson is why ECB is unsafe
    ecb_bytes = ecb.update(pixels) + ecb.finalize()
    kms = KeyCustodian()
    kms.import_aes_key("picture", key, mode="cbc")
    cbc_bytes = inspect_token(kms.encrypt_data_aes("picture", pixels)).ciphertext[: len(pixels)]
    panels = [
        ("original", picture),
        ("AES-256-ECB: the key shows through", np.frombuffer(ecb_bytes, dtype=np.uint8).reshape(picture.shape)),
        ("AES-256-CBC (kmslib): noise", np.frombuffer(cbc_bytes, dtype=np.uint8).reshape(picture.shape)),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
    for ax, (title, data) in zip(axes, panels, strict=True):
        ax.imshow(data, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    plt.close(fig)
    return fig


def _mix(*colours: Sequence[float]) -> tuple[float, float, float]:
    r, g, b = (sum(c[i] for c in colours) / len(colours) for i in range(3))
    return (r, g, b)


def paint_mixing() -> Figure:
    """The paint-mixing picture of Diffie-Hellman: public paint, secret paints, the shared colour.

    Mixing is easy and un-mixing is hard, as g^a mod p is easy and recovering a is hard.
    """
    common = (0.95, 0.85, 0.2)
    alice_secret, bob_secret = (0.8, 0.1, 0.1), (0.1, 0.3, 0.85)
    alice_mix, bob_mix = _mix(common, alice_secret), _mix(common, bob_secret)
    shared = _mix(common, alice_secret, bob_secret)
    rows = [
        ("public paint (g, p)", common, common),
        ("secret paint (a, b)", alice_secret, bob_secret),
        ("mixture sent in public (A, B)", alice_mix, bob_mix),
        ("add own secret to the other's mixture", shared, shared),
    ]
    fig, ax = plt.subplots(figsize=(8, 5.2))
    for row, (label, left, right) in enumerate(rows):
        y = 3 - row
        ax.add_patch(Circle((1, y), 0.32, color=left, ec="black"))
        ax.add_patch(Circle((5, y), 0.32, color=right, ec="black"))
        ax.text(3, y, label, ha="center", va="center", fontsize=10)
    ax.add_patch(FancyArrowPatch((1.4, 0.62), (4.6, 0.62), arrowstyle="<->", mutation_scale=14, color="gray"))
    ax.text(3, 0.45, "the mixtures cross the network; the secrets never do", ha="center", fontsize=8, color="gray")
    ax.text(1, 3.55, "Alice", ha="center", fontsize=12, weight="bold")
    ax.text(5, 3.55, "Bob", ha="center", fontsize=12, weight="bold")
    ax.text(3, -0.55, "both end with the same colour: the shared secret", ha="center", fontsize=10, weight="bold")
    ax.set_xlim(0, 6)
    ax.set_ylim(-0.8, 3.8)
    ax.set_aspect("equal")
    ax.axis("off")
    plt.close(fig)
    return fig


def key_lifecycle() -> Figure:
    """The states of a kmslib key and the calls that move it between them."""
    states = [
        (1.2, 2.0, "active\nv1", "#d1fae5"),
        (4.6, 2.0, "active: v1, v2\n(encrypts with v2)", "#d1fae5"),
        (8.4, 2.0, "active: v2\nv1 revoked\n(v1 tokens raise\nKeyRevokedError)", "#fef3c7"),
        (8.4, -0.4, "revoked\n(tombstone:\nthe id is never reused)", "#fee2e2"),
    ]
    fig, ax = plt.subplots(figsize=(10, 4.4))
    for x, y, text, colour in states:
        box = FancyBboxPatch((x - 1.2, y - 0.6), 2.4, 1.2, boxstyle="round,pad=0.05", fc=colour, ec="black")
        ax.add_patch(box)
        ax.text(x, y, text, ha="center", va="center", fontsize=9)
    arrows = [  # (start, end, label, label position)
        ((-1.3, 2.0), (-0.1, 2.0), "establish_aes_key\ngenerate_rsa_pair", (-0.7, 2.9)),
        ((2.5, 2.0), (3.3, 2.0), "rotate_key", (2.9, 2.9)),
        ((5.9, 2.0), (7.1, 2.0), "rewrap old tokens, then\ninvalidate_key(version=1)", (6.5, 2.9)),
        ((8.4, 1.3), (8.4, 0.3), "invalidate_key", (9.3, 0.8)),
        ((4.6, 1.3), (7.1, -0.3), "invalidate_key", (5.3, 0.2)),
    ]
    for start, end, label, (lx, ly) in arrows:
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="->", mutation_scale=14))
        ax.text(lx, ly, label, ha="center", va="center", fontsize=8, color="#1e3a8a")
    ax.set_xlim(-1.5, 10.0)
    ax.set_ylim(-1.2, 3.4)
    ax.axis("off")
    ax.set_title("The key lifecycle in kmslib", fontsize=11)
    plt.close(fig)
    return fig


def keygen_samples(
    sizes: Sequence[int] = (2048, 3072, 4096), repeats: Sequence[int] = (7, 5, 3)
) -> dict[int, list[float]]:
    """Measure RSA key generation, live: the seconds each key took, for each size.

    Args:
        sizes: the key sizes in bits.
        repeats: how many keys to generate for each size (bigger keys take much longer).

    Returns:
        ``{bits: [seconds, ...]}``, one number per key.
    """
    samples: dict[int, list[float]] = {}
    for bits, count in zip(sizes, repeats, strict=True):
        samples[bits] = []
        for _ in range(count):
            start = time.perf_counter()
            RSAKeyVersion.generate(bits, "oaep")
            samples[bits].append(time.perf_counter() - start)
    return samples


def keygen_times(sizes: Sequence[int] = (2048, 3072, 4096), repeats: Sequence[int] = (7, 5, 3)) -> dict[int, float]:
    """The median seconds per key for each size (see :func:`keygen_samples`)."""
    return {bits: float(np.median(times)) for bits, times in keygen_samples(sizes, repeats).items()}


def plot_keygen_times(samples: Mapping[int, list[float]] | Mapping[int, float]) -> Figure:
    """Bars of the median time per key size, with whiskers from the fastest key to the slowest.

    Prime search is random, so keys of one size vary a lot; the whiskers show how much.

    Args:
        samples: :func:`keygen_samples` results (or :func:`keygen_times` medians, drawn without whiskers).
    """
    sizes = list(samples)
    runs = {bits: list(value) if isinstance(value, list) else [float(value)] for bits, value in samples.items()}
    medians = [float(np.median(runs[bits])) for bits in sizes]
    low = [medians[i] - min(runs[bits]) for i, bits in enumerate(sizes)]
    high = [max(runs[bits]) - medians[i] for i, bits in enumerate(sizes)]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.bar([str(s) for s in sizes], medians, color="#2563eb", yerr=[low, high], capsize=6, ecolor="black")
    ax.set_xlabel("RSA key size (bits); keys generated: " + ", ".join(str(len(runs[b])) for b in sizes))
    ax.set_ylabel("seconds per key")
    ax.set_title("Time to generate one RSA key (bar: median; whisker: fastest to slowest)", fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig


# ---------------------------------------------------------------- diagrams: boxes, arrows and words

_RED = "#b91c1c"
_BLUE = "#1e3a8a"


def _box(ax: Axes, x: float, y: float, text: str, colour: str = "#e5e7eb", *, width: float = 1.6) -> None:
    ax.add_patch(
        FancyBboxPatch((x - width / 2, y - 0.35), width, 0.7, boxstyle="round,pad=0.04", fc=colour, ec="black")
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], colour: str = "black") -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="->", mutation_scale=12, color=colour, lw=1.2))


def _xor(ax: Axes, x: float, y: float) -> None:
    ax.add_patch(Circle((x, y), 0.18, fc="white", ec="black"))
    ax.text(x, y, "⊕", ha="center", va="center", fontsize=12)


def _finish(fig: Figure, ax: Axes, title: str, xlim: tuple[float, float], ylim: tuple[float, float]) -> Figure:
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.axis("off")
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    plt.close(fig)
    return fig


def cbc_chain() -> Figure:
    """CBC decryption of two blocks, and the bit flip: a bit flipped in the IV flips the same bit of P1.

    The picture says in words what its red marks say: the flipped bit, and the one it flips.
    """
    fig, ax = plt.subplots(figsize=(10, 4.8))
    _box(ax, 1.0, 4.0, "IV (sent in the token)\nbit 3 flipped", "#fee2e2", width=2.0)
    _box(ax, 4.0, 4.0, "C1")
    _box(ax, 7.0, 4.0, "C2")
    for x in (4.0, 7.0):
        _box(ax, x, 2.8, "AES-256 decrypt\n(key K)", "#dbeafe")
        _arrow(ax, (x, 3.65), (x, 3.15))
        _xor(ax, x, 1.8)
        _arrow(ax, (x, 2.45), (x, 1.98))
    _arrow(ax, (1.0, 3.65), (3.82, 1.85), _RED)
    _arrow(ax, (4.6, 3.8), (6.82, 1.85))
    _box(ax, 4.0, 0.7, "P1: bit 3 flipped,\nthe rest intact", "#fee2e2")
    _box(ax, 7.0, 0.7, "P2: intact", "#d1fae5")
    for x in (4.0, 7.0):
        _arrow(ax, (x, 1.62), (x, 1.05))
    ax.text(
        8.4,
        2.6,
        "Decryption: P_i = AES⁻¹(C_i) ⊕ C_(i-1),\nwith C_0 = IV.\n\nFlipping a bit of the IV flips\nthe same "
        "bit of P1 and nothing\nelse: no error, no trace.\nFlipping a bit of C1 instead\nwould garble all of P1.",
        fontsize=9,
        va="center",
        color=_RED,
    )
    return _finish(fig, ax, "CBC decryption, and the bit flip it cannot detect", (0, 11.5), (0.1, 4.6))


def gcm_diagram() -> Figure:
    """AES-GCM: counter mode for the ciphertext, and a tag over the associated data and the ciphertext."""
    fig, ax = plt.subplots(figsize=(10.5, 5.0))
    for x, counter in ((1.2, "nonce ‖ 1"), (4.2, "nonce ‖ 2"), (7.2, "nonce ‖ 3")):
        _box(ax, x, 4.3, counter)
        _box(ax, x, 3.3, "AES-256 encrypt\n(key K)", "#dbeafe")
        _arrow(ax, (x, 3.95), (x, 3.65))
    for x, n in ((4.2, 1), (7.2, 2)):
        _xor(ax, x, 2.3)
        _arrow(ax, (x, 2.95), (x, 2.48))
        _box(ax, x - 1.3, 2.3, f"P{n}", "#d1fae5", width=0.7)
        _arrow(ax, (x - 0.95, 2.3), (x - 0.18, 2.3))
        _box(ax, x, 1.3, f"C{n}", width=1.0)
        _arrow(ax, (x, 2.12), (x, 1.65))
    _box(ax, 1.2, 1.3, "associated data\n(not encrypted)", "#fef3c7", width=1.9)
    _box(ax, 4.2, 0.1, "GHASH (key H = AES_K(0))\nover associated data and ciphertext", "#ede9fe", width=4.4)
    for x in (1.2, 4.2, 7.2):
        _arrow(ax, (x, 0.95), (min(max(x, 2.6), 5.8), 0.45))
    _xor(ax, 9.0, 0.1)
    _arrow(ax, (6.4, 0.1), (8.82, 0.1))
    _arrow(ax, (1.2, 2.95), (8.9, 0.25))
    _box(ax, 10.2, 0.1, "tag\n(16 bytes)", "#fee2e2", width=1.2)
    _arrow(ax, (9.18, 0.1), (9.6, 0.1))
    ax.text(
        8.2,
        3.0,
        "Counter mode: C = P ⊕ AES_K(nonce ‖ counter),\nbyte for byte, from counter 2 on;\ncounter 1's block "
        "masks the tag.\nThe tag covers the associated data\nand every ciphertext bit: change any\nof them and "
        "decryption fails.\nA nonce must never repeat under one key.",
        fontsize=9,
        va="center",
    )
    return _finish(fig, ax, "AES-GCM: encryption plus a tag (NIST SP 800-38D)", (0, 11.5), (-0.5, 4.9))


def man_in_the_middle() -> Figure:
    """Mallory replaces both public keys: she shares one key with Alice and another with Bob."""
    fig, ax = plt.subplots(figsize=(10, 4.4))
    _box(ax, 1.0, 2.5, "Alice\nprivate a", "#d1fae5", width=1.5)
    _box(ax, 5.0, 2.5, "Mallory\nprivate m1, m2", "#fee2e2", width=1.9)
    _box(ax, 9.0, 2.5, "Bob\nprivate b", "#dbeafe", width=1.5)
    legs = [
        ((1.75, 2.85), (4.05, 2.85), "A (Alice's public key)", 3.15),
        ((5.95, 2.85), (8.25, 2.85), "M2, posing as A", 3.15),
        ((8.25, 2.15), (5.95, 2.15), "B (Bob's public key)", 1.85),
        ((4.05, 2.15), (1.75, 2.15), "M1, posing as B", 1.85),
    ]
    for start, end, label, y in legs:
        _arrow(ax, start, end, _RED if "posing" in label else "black")
        ax.text((start[0] + end[0]) / 2, y, label, ha="center", va="center", fontsize=8)
    _box(ax, 3.0, 0.6, "key K1 = DH(a, M1)\nAlice ↔ Mallory", width=2.6)
    _box(ax, 7.0, 0.6, "key K2 = DH(b, M2)\nMallory ↔ Bob", width=2.6)
    ax.text(
        5.0,
        4.1,
        "Mallory decrypts with K1, reads, re-encrypts with K2. Alice and Bob see keys that work.\n"
        "Only comparing fingerprints over another channel (K1's ≠ K2's) or signed public keys show her.",
        ha="center",
        fontsize=9,
        color=_RED,
    )
    return _finish(fig, ax, "The man in the middle: two exchanges instead of one", (-0.2, 10.2), (0.0, 4.5))


def audit_chain(entries: Sequence[AuditEntry], *, saved_head: str | None = None, last: int = 5) -> Figure:
    """The last entries of an audit log as a hash chain; a link that does not hold is red and marked ✘.

    Args:
        entries: the log's entries, in order (``list(kms.audit_log)``, or entries read from an export).
        saved_head: a head saved earlier; the entry it names is marked, or the picture says it is missing.
        last: how many entries to draw.
    """
    shown = list(entries)[-last:]
    width = max(2.3 * len(shown) + 0.4, 7.0)  # room for the legend, however few entries are shown
    fig, ax = plt.subplots(figsize=(width + 0.6, 3.8))
    before = entries[len(entries) - len(shown) - 1].hash if len(entries) > len(shown) else GENESIS
    for index, entry in enumerate(shown):
        x = 1.2 + 2.3 * index
        whole = entry.expected_hash() == entry.hash
        linked = entry.prev_hash == (shown[index - 1].hash if index else before)
        colour = "#d1fae5" if whole else "#fee2e2"
        label = f"#{entry.seq} {entry.operation}\n{entry.key_id or '-'} v{entry.version or '-'}\n{entry.outcome}"
        _box(ax, x, 2.2, label, colour, width=2.0)
        ax.text(x, 1.45, f"hash {entry.hash[:10]}…" + ("" if whole else " ✘ edited"), ha="center", fontsize=8)
        ax.text(x, 3.05, f"prev {entry.prev_hash[:10]}…", ha="center", fontsize=8)
        if index:
            _arrow(ax, (x - 2.3 + 1.0, 2.2), (x - 1.0, 2.2), "black" if linked else _RED)
            if not linked:
                ax.text(x - 1.15, 2.45, "✘", ha="center", color=_RED, fontsize=12)
        if saved_head is not None and entry.hash == saved_head:
            ax.text(x, 0.85, "▲ the saved head", ha="center", fontsize=9, color=_BLUE, weight="bold")
    if saved_head is not None and all(entry.hash != saved_head for entry in shown):
        ax.text(0.2, 0.85, "the saved head is not among these entries", fontsize=9, color=_RED)
    ax.text(
        0.2,
        3.5,
        "Each hash covers its entry and the previous hash. Green: the entry matches its hash; red ✘: it does not.",
        fontsize=8,
    )
    return _finish(fig, ax, "The audit log's hash chain", (0, width), (0.6, 3.7))


def key_hierarchy() -> Figure:
    """The key hierarchy of envelope encryption: root key, KEK, data keys, data."""
    fig, ax = plt.subplots(figsize=(10, 5.0))
    _box(ax, 5.0, 4.3, "root key\n(in an HSM, or sealed under a passphrase)", "#fee2e2", width=3.4)
    _box(ax, 5.0, 3.0, "KEK (key-encryption key)\nin the custodian, never exported", "#fef3c7", width=3.4)
    _arrow(ax, (5.0, 3.95), (5.0, 3.35))
    ax.text(5.2, 3.65, "protects", fontsize=8, color=_BLUE)
    for x, n in ((1.6, 1), (5.0, 2), (8.4, 3)):
        _box(ax, x, 1.7, f"data key {n}\n(wrapped by the KEK,\nstored beside its data)", "#dbeafe", width=2.6)
        _arrow(ax, (5.0, 2.65), (x, 2.05))
        _box(ax, x, 0.4, f"data {n}\n(AES-256-GCM, anywhere)", "#d1fae5", width=2.6)
        _arrow(ax, (x, 1.35), (x, 0.75))
    ax.text(
        0.0,
        4.4,
        "One request to the KMS per message:\nonly a 32-byte key travels.\n"
        "Rotating the KEK re-wraps keys,\nnever the data.",
        fontsize=8,
        va="center",
    )
    return _finish(fig, ax, "Envelope encryption: the key hierarchy", (-0.4, 10.2), (-0.1, 4.9))


def barrier() -> Figure:
    """A sealed store's barrier: who holds what, what is sealed under what, and what the file shows."""
    fig, ax = plt.subplots(figsize=(11, 5.6))
    for x, who in ((0.9, "Ana"), (2.5, "Chen"), (4.1, "Eli")):
        _box(ax, x, 4.6, f"{who}: a share\n(33 words)", "#dbeafe", width=1.5)
        _arrow(ax, (x, 4.25), (2.5, 3.75))
    ax.text(4.95, 4.6, "any 3 of\nthe 5 shares\n(or a pass-\nphrase, through\nArgon2id)", fontsize=8, va="center")
    _box(ax, 2.5, 3.4, "unseal key\n(in memory only, never written)", "#fee2e2", width=3.2)
    _arrow(ax, (2.5, 3.05), (2.5, 2.45))
    ax.text(2.65, 2.75, "opens", fontsize=8, color=_BLUE)
    _box(ax, 2.5, 2.1, "root key\n(in memory while open)", "#fef3c7", width=3.2)
    _arrow(ax, (2.5, 1.75), (2.5, 1.05))
    ax.text(2.65, 1.4, "seals and authenticates", fontsize=8, color=_BLUE)
    _box(ax, 2.5, 0.7, "the custodian's keys\n(KEKs, signing keys...)", "#d1fae5", width=3.2)
    ax.plot([6.3, 6.3], [-0.1, 5.2], color=_RED, lw=2.5, ls="--")
    ax.text(6.2, 0.0, "the barrier", color=_RED, fontsize=9, ha="right")
    ax.text(9.3, 4.75, "the store file\n(untrusted: anyone may copy it)", fontsize=9, fontweight="bold", ha="center")
    rows = (
        ("meta: how to unseal (KDF, salt),\nand the root key sealed under the unseal key", "#fee2e2"),
        ("keys: ids, states, times, fingerprints\n(readable), each row with an HMAC", "#f3f4f6"),
        ("versions: key material sealed with AES-GCM,\nbound to its key id, version and algorithm", "#fef3c7"),
        ("audit: the log's records, hash-chained", "#f3f4f6"),
    )
    for n, (row, colour) in enumerate(rows):
        _box(ax, 9.3, 3.85 - n * 0.95, row, colour, width=5.2)
    _arrow(ax, (4.1, 3.4), (6.7, 3.85), _RED)
    _arrow(ax, (4.1, 2.1), (6.7, 2.9), _RED)
    _arrow(ax, (4.1, 0.7), (6.7, 1.95), _RED)
    return _finish(fig, ax, "A sealed store: the barrier between the keys and the file", (-0.1, 12.0), (-0.2, 5.3))


def trust_boundary(objects: Sequence[TokenObject] = ()) -> Figure:
    """The trust boundary of a PKCS#11 token: the host's side, the token's, and what crosses between them.

    Args:
        objects: the token's objects (:meth:`kmslib.HardwareToken.objects`), listed inside the token; at most
            six are named, with a count of the rest.
    """
    fig, ax = plt.subplots(figsize=(11, 5.6))
    ax.add_patch(FancyBboxPatch((0.0, 0.0), 5.2, 5.0, boxstyle="round,pad=0.05", fc="#f9fafb", ec="#6b7280"))
    ax.text(2.6, 4.7, "the host: never holds a token key's value", ha="center", fontsize=10, fontweight="bold")
    _box(ax, 2.6, 3.9, "the application\n(calls kms.encrypt_data_aes(...))", "#dbeafe", width=3.6)
    _box(ax, 2.6, 2.7, "kmslib: KeyCustodian(hsm=token)\nkeys by id; tokens in kmslib's format", "#fef3c7", width=3.6)
    _box(ax, 2.6, 1.3, "the store file\nreferences to token objects (CKA_ID),\nnever key bytes", "#f3f4f6", width=3.6)
    _arrow(ax, (2.6, 3.55), (2.6, 3.05))
    _arrow(ax, (2.6, 2.35), (2.6, 1.75))
    ax.plot([6.0, 6.0], [-0.1, 5.1], color=_RED, lw=2.5, ls="--")
    ax.text(6.0, -0.3, "the PKCS#11 boundary (C_Encrypt, C_Sign, ...)", color=_RED, fontsize=9, ha="center")
    ax.add_patch(FancyBboxPatch((6.8, 0.0), 4.6, 5.0, boxstyle="round,pad=0.05", fc="#ecfdf5", ec="#065f46"))
    ax.text(9.1, 4.7, "the token (an HSM; here SoftHSM2)", ha="center", fontsize=10, fontweight="bold")
    shown = [f"{item.object_class}, {item.key_type}: {item.label[:24]}" for item in objects[:6]]
    if len(objects) > 6:
        shown.append(f"... and {len(objects) - 6} more")
    listing = "\n".join(shown) if shown else "(no objects yet)"
    ax.text(
        9.1,
        3.0,
        "the objects in the token\n(its secret and private keys: sensitive,\nnever extractable)\n\n" + listing,
        ha="center",
        va="center",
        fontsize=8,
    )
    ax.text(9.1, 0.5, "the cryptography happens here", ha="center", fontsize=9, color="#065f46")
    crossings = (
        (4.4, "data in: plaintext, digests, the PIN (log-in)", "black", True),
        (3.6, "results out: ciphertext, signatures, public keys", _BLUE, False),
    )
    for y, words, colour, inwards in crossings:
        start, end = ((4.5, y), (7.4, y)) if inwards else ((7.4, y), (4.5, y))
        _arrow(ax, start, end, colour)
        ax.text(
            6.0, y + 0.22, words, ha="center", fontsize=8, color=colour, bbox={"fc": "white", "ec": "none", "pad": 1}
        )
    ax.text(
        6.0,
        1.9,
        "key values: never cross\n(CKA_VALUE read: refused;\nC_WrapKey: refused)",
        ha="center",
        va="center",
        fontsize=8,
        color=_RED,
        bbox={"fc": "white", "ec": _RED},
    )
    return _finish(
        fig, ax, "Keys in a token: what crosses the boundary, and what never does", (-0.2, 11.6), (-0.5, 5.3)
    )


def signature_sizes() -> Figure:
    """Public key and signature sizes of Ed25519, ECDSA P-256, RSA-PSS 2048 and ML-DSA-65, from keys made now."""
    kms = KeyCustodian()
    names = ("ed25519", "ecdsa-p256-sha256", "rsa-pss-sha256", "ml-dsa-65")
    public, signature = [], []
    for name in names:
        kms.generate_signing_key(name, algorithm=name)
        pem = kms.export_public_key(name)
        public.append(
            len(
                serialization.load_pem_public_key(pem.encode()).public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
        )
        signature.append(len(parse_token(kms.sign(name, b"size me"))[2]))
    fig, ax = plt.subplots(figsize=(7, 3.6))
    x = np.arange(len(names))
    bars = ax.bar(x - 0.2, public, 0.4, label="public key (SubjectPublicKeyInfo DER)", color="#2563eb")
    bars_2 = ax.bar(x + 0.2, signature, 0.4, label="signature", color="#f59e0b")
    ax.bar_label(bars, fmt="%d B", fontsize=8)
    ax.bar_label(bars_2, fmt="%d B", fontsize=8)
    ax.set_xticks(x, ["Ed25519", "ECDSA P-256", "RSA-PSS 2048", "ML-DSA-65\n(post-quantum)"])
    ax.set_yscale("log")  # ML-DSA-65 is about 50 times Ed25519's size
    ax.set_ylabel("bytes (log scale)")
    ax.set_title("Sizes on the wire: public keys and signatures", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


def key_exchange_sizes() -> Figure:
    """Bytes on the wire in each direction for ffdhe2048, X25519 and X25519MLKEM768, from keys made now."""
    _, ff = dh.generate_key_pair("ffdhe2048")
    _, x = dh.generate_key_pair("x25519")
    hybrid_public = hybrid.HybridPrivateKey.generate().public_key()
    reply = KeyCustodian().accept_key_exchange("k", hybrid_public)
    sizes = {
        "ffdhe2048": (ff.bits // 8, ff.bits // 8),  # y, sent padded to the length of p (RFC 7919)
        "X25519": (x.bits // 8, x.bits // 8),
        "X25519MLKEM768": (len(hybrid_public.raw), len(reply.raw)),
    }
    fig, ax = plt.subplots(figsize=(7, 3.6))
    names = list(sizes)
    positions = np.arange(len(names))
    there = ax.bar(positions - 0.2, [sizes[n][0] for n in names], 0.4, label="initiator → responder", color="#2563eb")
    back = ax.bar(positions + 0.2, [sizes[n][1] for n in names], 0.4, label="responder → initiator", color="#059669")
    ax.bar_label(there, fmt="%d B", fontsize=8)
    ax.bar_label(back, fmt="%d B", fontsize=8)
    ax.set_xticks(positions, names)
    ax.set_ylabel("bytes on the wire")
    ax.set_title("Key exchange: what crosses the network each way", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


SIGNING_NAMES = {
    "ed25519": "Ed25519",
    "ecdsa-p256-sha256": "ECDSA P-256",
    "rsa-pss-sha256": "RSA-PSS 2048",
    "ml-dsa-65": "ML-DSA-65",
}


def signing_times(runs: int = 50) -> dict[str, tuple[float, float]]:
    """Measure, live, the median seconds to sign and to verify a short message, for each signing algorithm.

    Args:
        runs: how many signatures (and verifications) to time for each.

    Returns:
        ``{algorithm: (sign seconds, verify seconds)}``.
    """
    kms = KeyCustodian()
    times: dict[str, tuple[float, float]] = {}
    for name in SIGNING_NAMES:
        kms.generate_signing_key(name, algorithm=name)
        signs, verifies = [], []
        for _ in range(runs):
            start = time.perf_counter()
            signature = kms.sign(name, b"a short message to sign")
            middle = time.perf_counter()
            kms.verify(name, b"a short message to sign", signature)
            signs.append(middle - start)
            verifies.append(time.perf_counter() - middle)
        times[name] = (float(np.median(signs)), float(np.median(verifies)))
    return times


def plot_signing_times(times: Mapping[str, tuple[float, float]]) -> Figure:
    """Bars of :func:`signing_times`: microseconds to sign and to verify, on a log scale."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    positions = np.arange(len(times))
    sign = ax.bar(positions - 0.2, [t[0] * 1e6 for t in times.values()], 0.4, label="sign", color="#2563eb")
    verify = ax.bar(positions + 0.2, [t[1] * 1e6 for t in times.values()], 0.4, label="verify", color="#059669")
    ax.bar_label(sign, fmt="%.0f", fontsize=8)
    ax.bar_label(verify, fmt="%.0f", fontsize=8)
    ax.set_xticks(positions, [SIGNING_NAMES.get(name, name) for name in times])
    ax.set_yscale("log")
    ax.set_ylabel("microseconds (median, log scale)")
    ax.set_title("Time to sign and to verify, measured now", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


def signing_table(times: Mapping[str, tuple[float, float]]) -> str:
    """A text table: each algorithm's stored private key, public key and signature sizes, and its times.

    The private key is measured as PKCS#8 DER, as it is stored: ML-DSA-65 keeps only its 32-byte seed,
    from which the 4032-byte expanded key (FIPS 204) is recomputed.

    Args:
        times: :func:`signing_times` results (seconds).
    """
    header = f"{'algorithm':<18}{'private key':>12}{'public key':>12}{'signature':>11}{'sign':>12}{'verify':>12}"
    rows = [header]
    for name, (sign, verify) in times.items():
        version = SigningKeyVersion.generate(name)
        private = version._private.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        public = version.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        signature = version.sign(b"size me")
        assert signature is not None
        # DER integers vary by a byte or two: an RSA private key's and an ECDSA signature's length do too.
        private_text = "≈1.2 kB" if name == "rsa-pss-sha256" else f"{len(private)} B"
        if name == "ml-dsa-65":
            private_text = f"{len(private)} B seed"  # the expanded key is recomputed from it (footnote below)
        signature_text = "≈71 B" if name == "ecdsa-p256-sha256" else f"{len(signature)} B"
        rows.append(
            f"{name:<18}{private_text:>12}{len(public):>10} B{signature_text:>11}{sign:>10.6f} s{verify:>10.6f} s"
        )
    if "ml-dsa-65" in times:
        rows.append(
            "ml-dsa-65 stores its 32-byte seed (PKCS#8 DER); "
            "the expanded private key it signs with is 4032 B (FIPS 204)."
        )
    return "\n".join(rows)


#: How the incident timeline draws each kind of operation: (label, marker, colour, size).
_TIMELINE_KINDS = {
    "made": ("made", "^", "#059669", 70),
    "rotated": ("rotated", "D", _BLUE, 55),
    "revoked": ("revoked", "X", _RED, 90),
    "checkpoint": ("checkpoint", "*", "#7c3aed", 150),
    "used": ("used", "o", "#6b7280", 22),
    "refused": ("refused", "o", "none", 60),
}
_MADE = {"establish_aes_key", "generate_signing_key", "derive_shared_key", "accept_key_exchange", "import_aes_key"}


def _timeline_kind(entry: AuditEntry) -> str:
    if entry.outcome != "ok":
        return "refused"
    if entry.operation in _MADE:
        return "made"
    if entry.operation == "rotate_key":
        return "rotated"
    if entry.operation == "invalidate_key":
        return "revoked"
    if entry.operation == "sign_audit_checkpoint":
        return "checkpoint"
    return "used"


def incident_timeline(
    entries: Sequence[AuditEntry], *, reported: datetime | None = None, exposed: Sequence[str] = ()
) -> Figure:
    """An incident's timeline, drawn from an audit log: one row per key, one mark per entry, in log order.

    Entries are spaced by their place in the log, not by time (three quiet days and a busy evening fit on
    one axis); the times of the first entry of each day, and of the report, are written under the axis.
    Entries that name no key are left out.

    Args:
        entries: the log's entries, in order (``hq.audit_log``).
        reported: when the theft was reported: a dashed line before the first entry from then on (after the
            last entry if there is none).
        exposed: the keys whose traffic is exposed: a pale red bar from each one's making to its revocation
            (or to the end of the log, if it was not revoked).
    """
    shown = [entry for entry in entries if entry.key_id is not None]
    rows = list(dict.fromkeys(entry.key_id for entry in shown))
    fig, ax = plt.subplots(figsize=(11, 0.55 * len(rows) + 2.2))
    y = {key_id: len(rows) - 1 - index for index, key_id in enumerate(rows)}
    for kind, (label, marker, colour, size) in _TIMELINE_KINDS.items():
        points = [(entry.seq, y[entry.key_id]) for entry in shown if _timeline_kind(entry) == kind]
        if points:
            xs, ys = zip(*points, strict=True)
            edge = _RED if kind == "refused" else colour
            ax.scatter(xs, ys, marker=marker, s=size, c=colour, edgecolors=edge, label=label, zorder=3)
    end = shown[-1].seq + 1 if shown else 1
    for key_id, row in y.items():
        ax.axhline(row, color="#e5e7eb", lw=0.8, zorder=1)
        made = next((e.seq for e in shown if e.key_id == key_id and _timeline_kind(e) == "made"), None)
        revoked = next((e.seq for e in shown if e.key_id == key_id and e.operation == "invalidate_key"
                        and e.version is None and e.outcome == "ok"), end)  # fmt: skip
        if key_id in exposed and made is not None:
            ax.plot([made, revoked], [row, row], color=_RED, lw=6, alpha=0.25, zorder=2, label="exposed")
    ticks, labels, day = [], [], None
    for entry in entries:
        if entry.time.date() != day:
            day = entry.time.date()
            ticks.append(entry.seq)
            labels.append(f"{entry.time:%d %b %H:%M}")
    if reported is not None:
        after = next((entry.seq for entry in entries if entry.time >= reported), end)
        ax.axvline(after - 0.5, color=_RED, ls="--", lw=1.2)
        ax.text(after - 0.3, len(rows) - 0.45, "theft reported", color=_RED, fontsize=9, va="bottom", ha="right")
        if after not in ticks:
            ticks.append(after)
            labels.append(f"{reported:%d %b %H:%M}")
    ax.set_xticks(ticks, labels, fontsize=8, rotation=20)
    ax.set_yticks(list(y.values()), [str(key_id) for key_id in y], fontsize=9)
    ax.set_xlim(-1, end + 1)
    ax.set_ylim(-0.7, len(rows) - 0.1)
    ax.set_xlabel("audit log entries, in order (times of the first entry of each day)", fontsize=9)
    ax.set_title("The incident, from the audit log", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    plt.close(fig)
    return fig


#: Where key_states() draws each state (x, y), and its colour.
_STATE_PLACES = {
    "pre-activation": (0.0, 2.0, "#e5e7eb"),
    "active": (3.3, 3.5, "#d1fae5"),
    "suspended": (3.3, 0.5, "#dbeafe"),
    "deactivated": (7.0, 3.5, "#fef3c7"),
    "compromised": (7.0, 0.5, "#fed7aa"),
    "revoked": (10.4, 2.0, "#fee2e2"),
}
#: What each state allows in kmslib (shown in its box).
_STATE_ALLOWS = {
    "pre-activation": "nothing until\nactivate_at",
    "active": "every use",
    "suspended": "nothing\n(until resumed)",
    "deactivated": "decrypt, unwrap, verify;\nnever encrypt or sign",
    "compromised": "nothing, except\nallow_compromised=True",
    "revoked": "nothing:\nmaterial destroyed",
}


#: Where key_states() writes the label of a move, if not halfway along its arrow.
_LABEL_PLACES = {
    ("pre-activation", "active"): (1.2, 3.15),
    ("active", "suspended"): (2.35, 2.45),
    ("suspended", "active"): (4.25, 2.45),
    ("active", "deactivated"): (5.15, 3.8),
    ("suspended", "deactivated"): (6.2, 2.75),
}


def _transition_label(source: str, target: str) -> str:
    """The call (or the event) that moves a key from ``source`` to ``target``."""
    if target == "active":
        return "the clock reaches\nactivate_at" if source == "pre-activation" else "resume_key"
    return {"suspended": "suspend_key", "deactivated": "deactivate_key"}.get(target, "")


_LABEL_BOX = {"fc": "white", "ec": "none", "pad": 1}


def key_states() -> Figure:
    """NIST SP 800-57 Pt 1 Rev 5's key states (section 7, and its figure of them), with kmslib's names and calls.

    Every arrow is a move of :data:`kmslib.states.KEY_TRANSITIONS`, drawn from that table (each arrow's
    gid is ``"source->target"``), so the picture cannot show a move the library refuses, or miss one.
    """
    fig, ax = plt.subplots(figsize=(11, 5.4))
    boxes = {}
    for state, (x, y, colour) in _STATE_PLACES.items():
        boxes[state] = FancyBboxPatch((x - 1.1, y - 0.5), 2.2, 1.0, boxstyle="round,pad=0.05", fc=colour, ec="black")
        ax.add_patch(boxes[state])
        ax.text(x, y + 0.22, state, ha="center", va="center", fontsize=10, weight="bold")
        ax.text(x, y - 0.18, _STATE_ALLOWS[state], ha="center", va="center", fontsize=7.5)
    styles = {  # colour, line style, and how far the arrow bends: each kind of move is told apart without colour too
        REVOKED: ("#b91c1c", "--", 0.0),
        COMPROMISED: ("#c2410c", ":", 0.0),
    }
    for source in KEY_TRANSITIONS:
        for target in sorted(KEY_TRANSITIONS[source]):
            (x0, y0, _), (x1, y1, _) = _STATE_PLACES[source], _STATE_PLACES[target]
            colour, line, bend = styles.get(target, ("black", "-", 0.0))
            if {source, target} == {"active", "suspended"}:
                bend = 0.25  # the two moves between active and suspended, side by side
            arrow = FancyArrowPatch(
                (x0, y0),
                (x1, y1),
                arrowstyle="->",
                mutation_scale=14,
                color=colour,
                linestyle=line,
                lw=1.3,
                connectionstyle=f"arc3,rad={bend}",
                patchA=boxes[source],
                patchB=boxes[target],
            )
            arrow.set_gid(f"{source}->{target}")
            ax.add_patch(arrow)
            label = _transition_label(source, target)
            if label:
                lx, ly = _LABEL_PLACES.get((source, target), ((x0 + x1) / 2, (y0 + y1) / 2))
                ax.text(lx, ly, label, ha="center", va="center", fontsize=8, color=_BLUE, bbox=_LABEL_BOX)
    ax.text(
        5.2,
        -0.6,
        "dotted orange: mark_compromised (a reason required)      "
        "dashed red: invalidate_key (revoke), from every state",
        ha="center",
        va="center",
        fontsize=8.5,
    )
    return _finish(fig, ax, "Key states in kmslib (NIST SP 800-57 Pt 1 Rev 5, section 7)", (-1.4, 11.8), (-0.9, 4.2))


#: The actions that carry associated data, which :func:`policy_matrix` asks with it (the others without any).
_ASKED_WITH_DATA = frozenset(
    {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncrypt"}
)
#: How each kind of decision is drawn: fill colour, and the words that say it without colour.
_DECISION_LOOK = {
    "allow": ("#bbf7d0", "✓ allow"),
    "explicit-deny": ("#fecaca", "✗ Deny"),
    "implicit-deny": ("#f3f4f6", "✗ no statement\n(implicit deny)"),
    "approvals": ("#fde68a", "✓ once {n} other(s)\napprove"),
}


def _decision_words(decision: Decision) -> tuple[str, str]:
    """A matrix cell's kind and its words: what was decided, and by which statement."""
    by = (
        f"\n{decision.sid}"
        if decision.sid
        else ("" if decision.statement is None else f"\nStatement[{decision.statement}]")
    )
    if decision.reason == "implicit-deny" and decision.approvals_required is not None:
        return "approvals", _DECISION_LOOK["approvals"][1].format(n=decision.approvals_required)
    return decision.reason, _DECISION_LOOK[decision.reason][1] + by


def policy_matrix(
    policy: Mapping[str, object],
    principals: Sequence[str],
    actions: Sequence[str],
    *,
    associated_data: str | None = None,
) -> Figure:
    """Who may do what under a key policy: a principal-by-action matrix, each cell asked of :mod:`kmslib.policy`.

    Each cell is :meth:`kmslib.policy.KeyPolicy.decide`'s answer for that principal and action (the actions
    that carry associated data asked with ``associated_data``, the others without), with the statement that
    decided it; its patch's gid is ``"principal|action"`` and its text says the decision in words, so that
    colour is never the only sign.

    Args:
        policy: a key policy document.
        principals: the rows.
        actions: the columns (names of :data:`kmslib.policy.ACTIONS`).
        associated_data: the associated data the data actions are asked with.
    """
    compiled = parse_policy(policy)
    data = None if associated_data is None else associated_data.encode("utf-8")
    fig, ax = plt.subplots(figsize=(1.45 * len(actions) + 1.6, 0.62 * len(principals) + 1.4))
    for row, principal in enumerate(principals):
        for column, action in enumerate(actions):
            asked = data if action in _ASKED_WITH_DATA else None
            kind, words = _decision_words(compiled.decide(principal, action, asked))
            cell = Rectangle((column, -row - 1), 1, 1, fc=_DECISION_LOOK[kind][0], ec="white", lw=2)
            cell.set_gid(f"{principal}|{action}")
            ax.add_patch(cell)
            ax.text(
                column + 0.5, -row - 0.5, words, ha="center", va="center", fontsize=7.5, gid=f"{principal}|{action}"
            )
    ax.set_xlim(0, len(actions))
    ax.set_ylim(-len(principals), 0)
    ax.set_xticks([c + 0.5 for c in range(len(actions))], [a.removeprefix("kms:") for a in actions], fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks([-r - 0.5 for r in range(len(principals))], list(principals), fontsize=9)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    shown = "no associated data" if associated_data is None else f"associated data {associated_data!r}"
    ax.set_title(f"Who may do what (data actions asked with {shown})", fontsize=10, pad=22)
    fig.tight_layout()
    plt.close(fig)
    return fig


def _status_words(status: CertificateStatus | None) -> tuple[str, str]:
    """What a certificate's status says, in words, and its colour (red for revoked)."""
    if status is None:
        return "trust anchor: trusted as configured, no status checked", "#dbeafe"
    if status.revoked_at is None:
        return f"good (valid to {status.not_valid_after:%Y-%m-%d})", "#dcfce7"
    why = status.reason or "no reason given"
    source = ", from the key's state in the custodian" if status.derived else ""
    return f"✘ REVOKED {status.revoked_at:%Y-%m-%d %H:%M} UTC: {why}{source}", "#fecaca"


def certificate_chain(root: CertificateAuthority, intermediate: CertificateAuthority, leaf_serial: int) -> Figure:
    """A two-level chain from the trust anchor down to a leaf, each certificate with its status in words.

    A revoked certificate is red, crossed (✘) and says ``REVOKED``, its time and reason, so that the picture does
    not rest on colour alone; the arrows say who signed what, and where each status comes from.

    Args:
        root: the root CA (the relying party's trust anchor).
        intermediate: the CA the root certified, which issued the leaf.
        leaf_serial: the serial number of the leaf certificate ``intermediate`` issued.
    """
    from cryptography import x509  # noqa: PLC0415 - pki certificates are parsed only for this picture

    middle = x509.load_pem_x509_certificate(intermediate.certificate.encode("ascii"))
    anchor = x509.load_pem_x509_certificate(root.certificate.encode("ascii"))
    leaf = intermediate.status(leaf_serial)
    rows = (
        (anchor.subject.rfc4514_string(), "root CA (self-signed)", None, ""),
        (
            middle.subject.rfc4514_string(),
            "intermediate CA",
            root.status(middle.serial_number),
            "status: the root's CRL or OCSP",
        ),
        (
            leaf.subject,
            f"end entity (key '{leaf.key_id}', version {leaf.version})",
            leaf,
            "status: the intermediate's CRL or OCSP",
        ),
    )
    fig, ax = plt.subplots(figsize=(10, 5.4))
    for index, (subject, role, status, source) in enumerate(rows):
        y = 4.2 - 1.8 * index
        words, colour = _status_words(status)
        edge = _RED if status is not None and status.revoked_at is not None else "black"
        ax.add_patch(FancyBboxPatch((0.6, y - 0.6), 6.2, 1.2, boxstyle="round,pad=0.05", fc=colour, ec=edge, lw=2))
        ax.text(3.7, y + 0.3, f"{role}: {subject[:48]}", ha="center", va="center", fontsize=9, fontweight="bold")
        ax.text(3.7, y - 0.2, words, ha="center", va="center", fontsize=9, color=edge)
        if index:
            _arrow(ax, (3.7, y + 1.2), (3.7, y + 0.65))
            ax.text(3.9, y + 0.92, "signed by the certificate above", fontsize=8, va="center")
            ax.text(7.1, y, source, fontsize=8, va="center", color="#374151")
    return _finish(fig, ax, "A certificate chain, and the status of each certificate", (0.2, 10.2), (-0.5, 5.0))
