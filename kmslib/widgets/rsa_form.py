"""``RSAForm``: generate a key pair, see its public key, encrypt within the padding's limit."""

from __future__ import annotations

import ipywidgets as w

from kmslib.custodian import KeyCustodian
from kmslib.errors import InvalidInputError
from kmslib.rsa import KEY_SIZES, max_plaintext
from kmslib.widgets._common import COLOURS, Form, labelled, make_button

__all__ = ["RSAForm"]


class RSAForm(Form):
    """Generate an RSA key pair, show its public PEM, encrypt a short message and decrypt it.

    Args:
        custodian: the :class:`~kmslib.KeyCustodian` that holds the key pair.

    The byte counter follows the message as it is typed, against the padding's limit
    (190 bytes for OAEP and 245 for PKCS#1 v1.5 with RSA-2048). Buttons call :meth:`generate`,
    :meth:`encrypt` and :meth:`decrypt`.
    """

    def __init__(self, custodian: KeyCustodian) -> None:
        super().__init__()
        self.custodian = custodian
        self.key_id = w.Text(value="student-rsa")
        self.key_size = w.Dropdown(options=list(KEY_SIZES), value=2048)
        self.padding = w.Dropdown(options=[("OAEP (SHA-256)", "oaep"), ("PKCS#1 v1.5", "pkcs1v15")], value="oaep")
        self.generate_button = make_button("Generate key pair", "primary", "key")
        self.public_pem = w.Textarea(value="", disabled=True, layout=w.Layout(width="100%", height="9em"))
        self.message = w.Textarea(value="Classified Information", layout=w.Layout(width="100%"))
        self.byte_count = w.HTML(value="")
        self.encrypt_button = make_button("Encrypt", "success", "lock")
        self.token = w.Textarea(value="", placeholder="the token appears here", layout=w.Layout(width="100%"))
        self.decrypt_button = make_button("Decrypt", "warning", "unlock")
        self.decrypted = w.Textarea(value="", disabled=True, layout=w.Layout(width="100%"))
        self._active: tuple[str, int, str] | None = None  # (key id, bits, padding) of the generated pair
        self._on_click(self.generate_button, self.generate)
        self._on_click(self.encrypt_button, self.encrypt)
        self._on_click(self.decrypt_button, self.decrypt)
        self.message.observe(lambda _change: self.update_count(), names="value")
        self.padding.observe(lambda _change: self.update_count(), names="value")
        self.key_size.observe(lambda _change: self.update_count(), names="value")
        self.update_count()
        self._assemble(
            "kmslib-rsa-form",
            [
                w.HTML("<h4>RSA: a key pair, a short message</h4>"),
                w.HBox([labelled("Key id", self.key_id), self.key_size, self.padding, self.generate_button]),
                labelled("Public key", self.public_pem),
                labelled("Message", self.message),
                self.byte_count,
                self.encrypt_button,
                labelled("Token", self.token),
                self.decrypt_button,
                labelled("Decrypted", self.decrypted),
                self.status,
            ],
            parts=(
                "key_id",
                "generate_button",
                "public_pem",
                "message",
                "byte_count",
                "encrypt_button",
                "token",
                "decrypt_button",
                "decrypted",
            ),
        )

    def limit(self) -> int:
        """The byte limit of the generated key (or, before one exists, of the chosen size and padding)."""
        if self._active is not None:
            _, bits, padding = self._active
            return max_plaintext(bits, padding)
        return max_plaintext(self.key_size.value, self.padding.value)

    def update_count(self) -> int:
        """Show the message's UTF-8 length against the limit (red when over); return the length."""
        size = len(self.message.value.encode("utf-8", errors="replace"))
        limit = self.limit()
        colour = COLOURS["padding"] if size > limit else COLOURS["nonce"]
        verdict = "too long for one RSA block" if size > limit else "fits"
        self.byte_count.value = (
            f'<span class="kmslib-count" style="color:{colour}">{size} / {limit} bytes: {verdict}</span>'
        )
        return size

    def generate(self) -> str | None:
        """Generate a key pair with the chosen id, size and padding; show the public key."""

        def act() -> str:
            info = self.custodian.generate_rsa_pair(
                self.key_id.value, key_size=self.key_size.value, padding=self.padding.value
            )
            self._active = (info.key_id, self.key_size.value, self.padding.value)
            self.public_pem.value = self.custodian.export_public_key(info.key_id)
            self.update_count()
            self._ok(f"generated {self.key_size.value}-bit {info.algorithm} key {info.key_id!r}")
            return info.key_id

        return self._attempt(act)

    def _key_id(self) -> str:
        if self._active is None:
            raise InvalidInputError("generate a key pair first")
        return self._active[0]

    def encrypt(self) -> str | None:
        """Encrypt the message with the public key; a message over the limit shows the limit error."""

        def act() -> str:
            key_id = self._key_id()
            if not self.message.value:
                raise InvalidInputError("type a message to encrypt first")
            token = self.custodian.encrypt_data_rsa(key_id, self.message.value)
            self.token.value = token
            self.decrypted.value = ""
            self._ok(f"encrypted {self.update_count()} bytes into {len(token)} characters")
            return token

        return self._attempt(act)

    def decrypt(self) -> str | None:
        """Decrypt the token with the private key."""

        def act() -> str:
            key_id = self._key_id()
            if not self.token.value.strip():
                raise InvalidInputError("encrypt a message or paste a token first")
            self.decrypted.value = ""
            plaintext = self.custodian.decrypt_data_rsa(key_id, self.token.value.strip())
            self.decrypted.value = plaintext
            self._ok(f"decrypted with the private key of {key_id!r}")
            return plaintext

        return self._attempt(act)
