"""The course's pictures, drawn with matplotlib inside the notebook (nothing is downloaded).

Each function returns a matplotlib ``Figure``; a notebook shows it as its cell's result.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from kmslib.custodian import KeyCustodian
from kmslib.rsa import RSAKeyVersion
from kmslib.tokens import inspect_token

__all__ = ["ecb_vs_cbc", "key_lifecycle", "keygen_times", "paint_mixing", "plot_keygen_times", "sample_image"]


def sample_image(size: int = 192) -> np.ndarray:
    """A greyscale picture with large flat areas (a key and a lock), made here, one byte per pixel."""
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


def keygen_times(sizes: Sequence[int] = (2048, 3072, 4096), repeats: Sequence[int] = (3, 2, 1)) -> dict[int, float]:
    """Measure RSA key generation, live: the median seconds per key for each size.

    Args:
        sizes: the key sizes in bits.
        repeats: how many keys to generate for each size (bigger keys take much longer).

    Returns:
        ``{bits: median seconds}``.
    """
    medians: dict[int, float] = {}
    for bits, count in zip(sizes, repeats, strict=True):
        samples = []
        for _ in range(count):
            start = time.perf_counter()
            RSAKeyVersion.generate(bits, "oaep")
            samples.append(time.perf_counter() - start)
        medians[bits] = float(np.median(samples))
    return medians


def plot_keygen_times(times: dict[int, float]) -> Figure:
    """A bar chart of :func:`keygen_times` results."""
    fig, ax = plt.subplots(figsize=(6, 3.4))
    sizes = list(times)
    ax.bar([str(s) for s in sizes], [times[s] for s in sizes], color="#2563eb")
    ax.set_xlabel("RSA key size (bits)")
    ax.set_ylabel("seconds per key (median)")
    ax.set_title("RSA key generation gets much slower as keys grow", fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig
