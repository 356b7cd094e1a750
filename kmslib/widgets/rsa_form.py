"""``RSAForm``: generate a key pair, see its public key, encrypt within the padding's limit."""

from __future__ import annotations

from typing import Any

import ipywidgets as w
from cryptography.hazmat.primitives import serialization

from kmslib.custodian import KeyCustodian
from kmslib.errors import InvalidInputError
from kmslib.rsa import KEY_SIZES, RSA_PADDINGS, max_plaintext
from kmslib.widgets._common import COLOURS, Form, labelled, make_button

__all__ = ["RSAForm"]


class RSAForm(Form):
    """Generate an RSA key pair, show its public PEM, encrypt a short message and decrypt it.

    Args:
        custodian: the :class:`~kmslib.KeyCustodian` that holds the key pair.

    The key chooser offers the custodian's RSA keys. The byte counter follows the message as it is
    typed, against the chosen key's limit (190 bytes for OAEP and 245 for PKCS#1 v1.5 with
    RSA-2048), or, with no key chosen, against the limit of the size and padding chosen for a new
    key. Buttons call :meth:`generate`, :meth:`encrypt` and :meth:`decrypt`.
    """

    def __init__(self, custodian: KeyCustodian) -> None:
        super().__init__()
        self.custodian = custodian
        self.key_id = w.Text(value="student-rsa")
        self.key_size = w.Dropdown(options=list(KEY_SIZES), value=2048, description="Key size")
        self.padding = w.Dropdown(
            options=[("OAEP (SHA-256)", "oaep"), ("PKCS#1 v1.5", "pkcs1v15")], value="oaep", description="Padding"
        )
        self.generate_button = make_button("Generate key pair", "primary", "key")
        self.public_pem = w.Textarea(value="", disabled=True, layout=w.Layout(width="100%", height="9em"))
        self.message = w.Textarea(value="Classified Information", layout=w.Layout(width="100%"))
        self.byte_count = w.HTML(value="")
        self.encrypt_button = make_button("Encrypt", "success", "lock")
        self.token = w.Textarea(value="", placeholder="the token appears here", layout=w.Layout(width="100%"))
        self.decrypt_button = make_button("Decrypt", "warning", "unlock")
        self.decrypted = w.Textarea(value="", disabled=True, layout=w.Layout(width="100%"))
        self.key = w.Dropdown(options=[], value=None)
        self._bits: dict[str, int] = {}  # modulus size by public fingerprint, read once per key version
        self._on_click(self.generate_button, self.generate)
        self._on_click(self.encrypt_button, self.encrypt)
        self._on_click(self.decrypt_button, self.decrypt)
        self.message.observe(lambda _change: self.update_count(), names="value")
        self.padding.observe(lambda _change: self.update_count(), names="value")
        self.key_size.observe(lambda _change: self.update_count(), names="value")
        self.key.observe(lambda _change: self.show_key(), names="value")
        self.refresh_keys()
        self.update_count()
        self._assemble(
            "kmslib-rsa-form",
            [
                w.HTML("<h4>RSA: a key pair, a short message</h4>"),
                w.HBox([labelled("New key id", self.key_id), self.key_size, self.padding, self.generate_button]),
                labelled("Key", self.key),
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
                "key",
                "public_pem",
                "message",
                "byte_count",
                "encrypt_button",
                "token",
                "decrypt_button",
                "decrypted",
            ),
        )

    def refresh_keys(self) -> None:
        """Offer the custodian's active RSA keys in the key chooser, keeping the choice if it is still there."""
        current = self.key.value
        keys = [info.key_id for info in self.custodian.list_keys() if info.kind == "rsa" and info.active]
        self.key.options = keys
        self.key.value = current if current in keys else (keys[0] if keys else None)

    def _chosen(self) -> tuple[str, int, str] | None:
        """(key id, modulus bits, padding name) of the chosen key, or ``None``."""
        if not self.key.value:
            return None
        info = self.custodian.key_info(self.key.value)
        if info.fingerprint not in self._bits:  # one export per key version: its size is public
            pem = self.custodian.export_public_key(info.key_id).encode("ascii")
            self._bits[info.fingerprint] = int(getattr(serialization.load_pem_public_key(pem), "key_size", 0))
        padding = next(name for name, algorithm in RSA_PADDINGS.items() if algorithm == info.algorithm)
        return info.key_id, self._bits[info.fingerprint], padding

    def limit(self) -> int:
        """The byte limit of the chosen key (or, with none chosen, of the size and padding chosen for a new key)."""
        chosen = self._chosen()
        if chosen is not None:
            _, bits, padding = chosen
            return max_plaintext(bits, padding)
        return max_plaintext(self.key_size.value, self.padding.value)

    def update_count(self) -> int:
        """Show the message's UTF-8 length against the limit (red when over); return the length."""
        size = len(self.message.value.encode("utf-8", errors="replace"))
        chosen = self._chosen()
        if chosen is not None:
            key_id, bits, padding = chosen
            against = f"{key_id!r} ({RSA_PADDINGS[padding]}, {bits} bits)"
        else:
            against = f"a new {RSA_PADDINGS[self.padding.value]} key of {self.key_size.value} bits"
        limit = self.limit()
        colour = COLOURS["padding"] if size > limit else COLOURS["nonce"]
        verdict = "too long for one RSA block" if size > limit else "fits"
        self.byte_count.value = (
            f'<span class="kmslib-count" style="color:{colour}">{size} / {limit} bytes for {against}: {verdict}</span>'
        )
        return size

    def show_key(self) -> None:
        """Show the chosen key's public PEM, and count against its limit."""
        if self.key.value:
            self.public_pem.value = self.custodian.export_public_key(self.key.value)
        else:
            self.public_pem.value = ""
        self.update_count()

    def generate(self) -> str | None:
        """Generate a key pair with the chosen id, size and padding, and choose it.

        Large keys take seconds (a 4096-bit key often several): the form says so and greys out the
        button until the key is made.
        """

        def act() -> str:
            bits = self.key_size.value
            self._info(
                f"generating a {bits}-bit key pair: this can take {'several seconds' if bits > 2048 else 'a moment'}…"
            )
            self.generate_button.disabled = True
            self.generate_button.description = "Generating…"
            try:
                info = self.custodian.generate_rsa_pair(self.key_id.value, key_size=bits, padding=self.padding.value)
            finally:
                self.generate_button.disabled = False
                self.generate_button.description = "Generate key pair"
            self.refresh_keys()
            self.key.value = info.key_id
            self.show_key()
            self._ok(f"generated {bits}-bit {info.algorithm} key {info.key_id!r}")
            return info.key_id

        return self._attempt(act)

    def _key_id(self) -> str:
        if not self.key.value:
            raise InvalidInputError("generate a key pair (or choose one) first")
        return str(self.key.value)

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

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self.refresh_keys()
        return super()._repr_mimebundle_(**kwargs)
