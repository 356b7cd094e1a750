"""``EnvelopeForm``: encrypt a file or typed text into an envelope, see its parts, rotate the KEK, decrypt."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from kmslib.custodian import KeyCustodian
from kmslib.envelope import HEADER, split
from kmslib.errors import InvalidInputError
from kmslib.tokens import AES_GCM, inspect_token
from kmslib.widgets._common import COLOURS, Form, bytes_html, labelled, make_button

__all__ = ["EnvelopeForm", "envelope_html"]


def envelope_html(sealed: bytes | bytearray) -> str:
    """A breakdown of an envelope: header, wrapped data key (a token), nonce, ciphertext, tag, with sizes."""
    parts = split(memoryview(sealed))
    if parts is None:
        return "<i>not an envelope</i>"
    wrapped, body = parts
    token = inspect_token(wrapped)
    rows = [
        ("header", "header", f"<code>{html.escape(repr(bytes(HEADER)))}</code> + length", len(HEADER) + 2),
        (
            "header",
            f"wrapped data key (v{token.version} of the KEK)",
            f"<code>{html.escape(wrapped[:28])}…</code>",
            len(wrapped),
        ),
        ("nonce", "nonce", bytes_html(bytes(body[:12]), COLOURS["nonce"]), 12),
        ("ciphertext", "ciphertext", bytes_html(bytes(body[12:-16]), COLOURS["ciphertext"], 24), len(body) - 28),
        ("tag", "tag", bytes_html(bytes(body[-16:]), COLOURS["tag"]), 16),
    ]
    cells = "".join(
        f'<tr><td style="color:{COLOURS[part]};font-weight:bold;padding-right:1em">{name}</td>'
        f'<td style="padding-right:1em">{size} bytes</td><td>{shown}</td></tr>'
        for part, name, shown, size in rows
    )
    return f'<table class="kmslib-envelope-table" style="font-size:90%">{cells}</table>'


class EnvelopeForm(Form):
    """Encrypt a file (or typed text) into an envelope under a KEK, rotate the KEK, rewrap, decrypt.

    Buttons call plain methods: :meth:`create_kek`, :meth:`encrypt`, :meth:`rotate_and_rewrap`,
    :meth:`decrypt`. Rewrapping shows that the nonce, ciphertext and tag stay byte for byte the same.

    Args:
        custodian: the :class:`~kmslib.KeyCustodian` that holds the KEK.
    """

    def __init__(self, custodian: KeyCustodian) -> None:
        super().__init__()
        self.custodian = custodian
        self.new_kek_id = w.Text(value="student-kek")
        self.create_button = make_button("Create KEK", "primary", "key")
        self.kek = w.Dropdown(options=[], value=None)
        self.upload = w.FileUpload(accept="", multiple=False, description="Choose a file")
        self.text = w.Textarea(value="A file's contents, or any text", layout=w.Layout(width="100%"))
        self.associated_data = w.Text(value="", placeholder="optional, e.g. file=report.pdf")
        self.encrypt_button = make_button("Encrypt into an envelope", "success", "lock")
        self.rewrap_button = make_button("Rotate the KEK and rewrap", "info", "refresh")
        self.decrypt_button = make_button("Decrypt", "warning", "unlock")
        self.anatomy = w.HTML(value="")
        self.unchanged = w.HTML(value="")
        self.decrypted = w.Textarea(value="", disabled=True, layout=w.Layout(width="100%"))
        #: The current envelope (``None`` until something is encrypted).
        self.envelope: bytearray | None = None
        self._on_click(self.create_button, self.create_kek)
        self._on_click(self.encrypt_button, self.encrypt)
        self._on_click(self.rewrap_button, self.rotate_and_rewrap)
        self._on_click(self.decrypt_button, self.decrypt)
        self.refresh_keks()
        self._assemble(
            "kmslib-envelope-form",
            [
                w.HTML("<h4>Envelope encryption: a data key per message, wrapped by a KEK</h4>"),
                w.HBox([labelled("New KEK id", self.new_kek_id), self.create_button]),
                labelled("KEK", self.kek),
                labelled("File", self.upload),
                labelled("or text", self.text),
                labelled("Associated data", self.associated_data),
                w.HBox([self.encrypt_button, self.rewrap_button, self.decrypt_button]),
                self.status,
                w.HTML("<b>Anatomy of the envelope</b>"),
                self.anatomy,
                self.unchanged,
                labelled("Decrypted", self.decrypted),
            ],
            parts=(
                "new_kek_id",
                "create_button",
                "kek",
                "upload",
                "text",
                "associated_data",
                "encrypt_button",
                "rewrap_button",
                "decrypt_button",
                "anatomy",
                "unchanged",
                "decrypted",
            ),
        )

    def refresh_keks(self) -> None:
        """Offer the custodian's active AES-256-GCM keys, the only ones that may wrap data keys."""
        current = self.kek.value
        keys = [i.key_id for i in self.custodian.list_keys() if i.algorithm == AES_GCM and i.active]
        self.kek.options = keys
        self.kek.value = current if current in keys else (keys[0] if keys else None)

    def _chosen(self) -> str:
        if not self.kek.value:
            raise InvalidInputError("create or choose a KEK first")
        return str(self.kek.value)

    def _data(self) -> tuple[bytes, str]:
        """The uploaded file's bytes (and its name), or the typed text's."""
        if self.upload.value:
            upload = self.upload.value[0]
            return bytes(upload["content"]), str(upload["name"])
        if not self.text.value:
            raise InvalidInputError("choose a file or type some text first")
        return self.text.value.encode("utf-8"), "the typed text"

    def create_kek(self) -> str | None:
        """Create an AES-256-GCM KEK with the id typed, and choose it."""

        def act() -> str:
            info = self.custodian.establish_aes_key(self.new_kek_id.value)
            self.refresh_keks()
            self.kek.value = info.key_id
            self._ok(f"created the KEK {info.key_id!r}")
            return info.key_id

        return self._attempt(act)

    def encrypt(self) -> int | None:
        """Encrypt the file or text into an envelope; show its anatomy; return its size in bytes."""

        def act() -> int:
            kek = self._chosen()
            data, name = self._data()
            sealed = self.custodian.encrypt_envelope(kek, data, associated_data=self.associated_data.value or None)
            self.envelope = sealed
            self.anatomy.value = envelope_html(sealed)
            self.unchanged.value = self.decrypted.value = ""
            self._ok(f"encrypted {name} ({len(data)} bytes) into an envelope of {len(sealed)} bytes")
            return len(sealed)

        return self._attempt(act)

    def rotate_and_rewrap(self) -> bool | None:
        """Rotate the KEK, rewrap the envelope, and show whether the data's bytes changed (they do not)."""

        def act() -> bool:
            kek = self._chosen()
            if self.envelope is None:
                raise InvalidInputError("encrypt something first")
            old = split(memoryview(self.envelope))
            version = self.custodian.rotate_key(kek).version
            sealed = self.custodian.rewrap_envelope(
                kek, self.envelope, associated_data=self.associated_data.value or None
            )
            new = split(memoryview(sealed))
            assert old is not None
            assert new is not None
            same = bytes(old[1]) == bytes(new[1])
            self.envelope = sealed
            self.anatomy.value = envelope_html(sealed)
            verdict = "unchanged, byte for byte" if same else "CHANGED"
            self.unchanged.value = (
                f'<div class="kmslib-unchanged-verdict">nonce, ciphertext and tag ({len(old[1])} bytes): {verdict}; '
                f"only the wrapped data key moved to version {version}</div>"
            )
            self._ok(f"rotated {kek!r} to version {version} and rewrapped the data key; the data was not touched")
            return same

        return self._attempt(act)

    def decrypt(self) -> bytes | None:
        """Decrypt the envelope; show the text (or, for binary data, its size)."""

        def act() -> bytes:
            kek = self._chosen()
            if self.envelope is None:
                raise InvalidInputError("encrypt something first")
            self.decrypted.value = ""
            data = self.custodian.decrypt_envelope(
                kek, self.envelope, associated_data=self.associated_data.value or None
            )
            try:
                self.decrypted.value = data.decode("utf-8")
            except UnicodeDecodeError:
                self.decrypted.value = f"({len(data)} bytes of binary data)"
            self._ok(f"decrypted {len(data)} bytes with {kek!r}")
            return data

        return self._attempt(act)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self.refresh_keks()
        return super()._repr_mimebundle_(**kwargs)
