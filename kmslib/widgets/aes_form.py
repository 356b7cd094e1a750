"""``AESForm``: create or choose an AES key, encrypt, decrypt, and see a token's anatomy."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
from cryptography.hazmat.primitives import padding as sym_padding

from kmslib.course import tamper
from kmslib.custodian import KeyCustodian
from kmslib.errors import InvalidInputError
from kmslib.tokens import TokenInfo, inspect_token
from kmslib.widgets._common import COLOURS, Form, bytes_html, labelled, make_button

__all__ = ["AESForm", "anatomy_html", "cbc_blocks_html"]


def anatomy_html(info: TokenInfo) -> str:
    """A colour-coded breakdown of a token: header, nonce or IV, ciphertext, tag, with byte counts."""
    rows = [("header", "header", html.escape(info.header), len(info.header))]
    if info.nonce is not None:
        rows.append(("nonce", info.nonce_name or "nonce", bytes_html(info.nonce, COLOURS["nonce"]), len(info.nonce)))
    rows.append(
        ("ciphertext", "ciphertext", bytes_html(info.ciphertext, COLOURS["ciphertext"]), info.ciphertext_length)
    )
    if info.tag is not None:
        rows.append(("tag", "tag", bytes_html(info.tag, COLOURS["tag"]), len(info.tag)))
    body = "".join(
        f'<tr><td style="color:{COLOURS[part]};font-weight:bold;padding-right:1em">{name}</td>'
        f'<td style="padding-right:1em">{size} {"chars" if part == "header" else "bytes"}</td><td>{shown}</td></tr>'
        for part, name, shown, size in rows
    )
    return f'<table class="kmslib-anatomy-table" style="font-size:90%">{body}</table>'


def cbc_blocks_html(plaintext: bytes) -> str:
    """The plaintext cut into 16-byte AES blocks, with the PKCS7 padding that CBC adds in red and in words."""
    padder = sym_padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    pad = len(padded) - len(plaintext)
    blocks = []
    for start in range(0, len(padded), 16):
        cells = []
        for i in range(start, start + 16):
            colour = COLOURS["padding"] if i >= len(plaintext) else COLOURS["data"]
            cells.append(f'<span style="color:{colour}">{padded[i]:02x}</span>')
        last = start + 16 == len(padded)  # the padding is always the end of the last block
        note = f" &larr; the last {pad} {'byte is' if pad == 1 else 'bytes are'} padding" if last else ""
        blocks.append(f'<div style="font-family:monospace">block {start // 16 + 1}: {" ".join(cells)}{note}</div>')
    summary = (
        f"<div>{len(plaintext)} bytes of plaintext + {pad} bytes of PKCS7 padding (each byte = 0x{pad:02x}) "
        f"= {len(padded) // 16} block(s) of 16 bytes</div>"
    )
    return f'<div class="kmslib-block-list">{summary}{"".join(blocks)}</div>'


class AESForm(Form):
    """Create or choose an AES key, encrypt a message, decrypt a token, and look inside it.

    Args:
        custodian: the :class:`~kmslib.KeyCustodian` whose keys the form uses.

    Each button calls a plain method: :meth:`create_key`, :meth:`encrypt`, :meth:`decrypt`,
    :meth:`flip_iv_bit`. The key chooser follows the custodian: keys made or revoked in code, or in a
    dashboard, appear there at once (the form subscribes to the audit log; :meth:`close` stops it).
    """

    def __init__(self, custodian: KeyCustodian) -> None:
        super().__init__()
        self.custodian = custodian
        self.new_key_id = w.Text(value="student-key", placeholder="a new key id")
        self.mode = w.Dropdown(
            options=[("AES-256-GCM", "gcm"), ("AES-256-CBC", "cbc")], value="gcm", description="Mode"
        )
        self.create_button = make_button("Create key", "primary", "key")
        self.key = w.Dropdown(options=[], description="")
        self.plaintext = w.Textarea(value="Confidential Communication", layout=w.Layout(width="100%"))
        self.associated_data = w.Text(value="", placeholder="optional, GCM only (for example user=alice)")
        self.encrypt_button = make_button("Encrypt", "success", "lock")
        self.token = w.Textarea(value="", placeholder="the token appears here", layout=w.Layout(width="100%"))
        self.decrypt_button = make_button("Decrypt", "warning", "unlock")
        self.decrypted = w.Textarea(value="", disabled=True, layout=w.Layout(width="100%"))
        self.flip_byte = w.BoundedIntText(value=3, min=0, max=15, layout=w.Layout(width="5em"))
        self.flip_button = make_button("Flip a bit of the IV/nonce", "danger", "bolt")
        self.anatomy = w.HTML(value="")
        self.blocks = w.HTML(value="")
        self._on_click(self.create_button, self.create_key)
        self._on_click(self.encrypt_button, self.encrypt)
        self._on_click(self.decrypt_button, self.decrypt)
        self._on_click(self.flip_button, self.flip_iv_bit)
        self._unsubscribe = custodian.audit_log.subscribe(self._follow)
        self.refresh_keys()
        self._assemble(
            "kmslib-aes-form",
            [
                w.HTML("<h4>AES: encrypt and decrypt</h4>"),
                w.HBox([labelled("New key id", self.new_key_id), self.mode, self.create_button]),
                labelled("Key", self.key),
                labelled("Plaintext", self.plaintext),
                labelled("Associated data", self.associated_data),
                self.encrypt_button,
                labelled("Token", self.token),
                w.HBox([self.decrypt_button, labelled("IV/nonce byte", self.flip_byte), self.flip_button]),
                labelled("Decrypted", self.decrypted),
                self.status,
                w.HTML("<b>Anatomy of the token</b>"),
                self.anatomy,
                self.blocks,
            ],
            parts=(
                "new_key_id",
                "create_button",
                "key",
                "plaintext",
                "associated_data",
                "encrypt_button",
                "token",
                "decrypt_button",
                "flip_byte",
                "flip_button",
                "decrypted",
                "anatomy",
                "blocks",
            ),
        )

    def refresh_keys(self) -> None:
        """Offer every AES key of the custodian in the key chooser (revoked ones marked, to try them)."""
        current = self.key.value
        keys = [info for info in self.custodian.list_keys() if info.kind == "aes"]
        options = [(info.key_id if info.active else f"{info.key_id} (revoked)", info.key_id) for info in keys]
        self.key.options = options
        active = [info.key_id for info in keys if info.active]
        values = [key_id for _, key_id in options]
        if current in values:
            self.key.value = current
        elif values:  # nothing chosen yet: offer the first usable key rather than an empty chooser
            self.key.value = active[0] if active else values[0]

    def _follow(self, entry: object) -> None:
        """After any operation on the custodian: offer the keys as they are now."""
        self.refresh_keys()

    def close(self) -> None:
        """Stop following the custodian's audit log."""
        self._unsubscribe()

    def _associated_data(self) -> str | None:
        return self.associated_data.value or None

    def create_key(self) -> str | None:
        """Create an AES key named by the "New key id" box, in the chosen mode, and select it."""

        def act() -> str:
            info = self.custodian.establish_aes_key(self.new_key_id.value, mode=self.mode.value)
            self.refresh_keys()
            self.key.value = info.key_id
            self._ok(f"created {info.algorithm} key {info.key_id!r} (fingerprint {info.fingerprint})")
            return info.key_id

        return self._attempt(act)

    def _chosen_key(self) -> str:
        if not self.key.value:
            raise InvalidInputError("create or choose a key first")
        return str(self.key.value)

    def encrypt(self) -> str | None:
        """Encrypt the plaintext with the chosen key; show the token and its anatomy."""

        def act() -> str:
            key_id = self._chosen_key()
            if not self.plaintext.value:
                raise InvalidInputError("type a message to encrypt first")
            token = self.custodian.encrypt_data_aes(
                key_id, self.plaintext.value, associated_data=self._associated_data()
            )
            self.token.value = token
            self.decrypted.value = ""
            info = inspect_token(token)
            self.anatomy.value = anatomy_html(info)
            cbc = info.algorithm == "aes-256-cbc"
            self.blocks.value = cbc_blocks_html(self.plaintext.value.encode("utf-8")) if cbc else ""
            self._ok(f"encrypted with version {info.version} of {key_id!r}: {len(token)} characters")
            return token

        return self._attempt(act)

    def decrypt(self) -> str | None:
        """Decrypt the token in the token box with the chosen key; show the plaintext."""

        def act() -> str:
            key_id = self._chosen_key()
            token = self.token.value.strip()
            if not token:
                raise InvalidInputError("encrypt a message or paste a token first")
            self.decrypted.value = ""
            self.anatomy.value = anatomy_html(inspect_token(token))
            plaintext = self.custodian.decrypt_data_aes(key_id, token, associated_data=self._associated_data())
            self.decrypted.value = plaintext
            if inspect_token(token).algorithm == "aes-256-gcm":
                self._ok(f"decrypted with {key_id!r}: the tag (and any associated data) checked out")
            else:  # say nothing that suggests CBC noticed anything: it cannot
                self._ok(f"decrypted with {key_id!r} (CBC authenticates nothing: this only says the padding was valid)")
            return plaintext

        return self._attempt(act)

    def flip_iv_bit(self) -> str | None:
        """Flip the lowest bit of one byte of the token's IV (CBC) or nonce (GCM), as an attacker would.

        Then decrypt: CBC gives a message with one character changed, GCM refuses the token.
        """

        def act() -> str:
            token = self.token.value.strip()
            if not token:
                raise InvalidInputError("encrypt a message first, then flip a bit of its token")
            info = inspect_token(token)
            if info.nonce is None:
                raise InvalidInputError("this token has no IV or nonce (it is not an AES token)")
            byte = int(self.flip_byte.value)
            if not 0 <= byte < len(info.nonce):
                raise InvalidInputError(f"the {info.nonce_name} has bytes 0 to {len(info.nonce) - 1}, not {byte}")
            forged = tamper(token, byte, 0x01)
            self.token.value = forged
            self.decrypted.value = ""
            self.anatomy.value = anatomy_html(inspect_token(forged))
            self._info(f"flipped the lowest bit of {info.nonce_name} byte {byte}: now click Decrypt")
            return forged

        return self._attempt(act)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self.refresh_keys()
        return super()._repr_mimebundle_(**kwargs)
