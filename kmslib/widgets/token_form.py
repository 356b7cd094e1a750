"""``TokenForm``: what is in a PKCS#11 token, an export that the token refuses, and one operation done inside it.

:meth:`TokenForm.refresh` lists the token's objects with their security attributes
(:meth:`kmslib.HardwareToken.objects`: never a key's value). :meth:`TokenForm.try_export` tries to take the
chosen key out of the token in the two ways PKCS#11 has: reading its ``CKA_VALUE`` (``C_GetAttributeValue``)
and wrapping it under another key (``C_WrapKey``, with a wrapping key the form makes for the attempt and
destroys afterwards), and says what the token answered. :meth:`TokenForm.encrypt` encrypts a message with
a kmslib key in the token and shows the resulting token (kmslib's text format).

Sources: PKCS#11 3.0 (OASIS, 2020): ``CKA_SENSITIVE`` and ``CKA_EXTRACTABLE`` decide whether a key's value
can be read or wrapped out.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from kmslib.custodian import KeyCustodian
from kmslib.errors import ArgumentTypeError, InvalidInputError, KMSError
from kmslib.hsm import HardwareToken, TokenObject
from kmslib.widgets._common import Form, labelled, make_button, status_html

__all__ = ["TokenForm"]

#: The columns of the listing: the security attributes, in the order shown.
COLUMNS = ("SENSITIVE", "EXTRACTABLE", "ENCRYPT", "DECRYPT", "SIGN", "WRAP", "UNWRAP", "MODIFIABLE")
_EXPORTABLE = ("secret key", "private key")  # a public key is public: exporting it is no attack
_LONGEST_MESSAGE = 4096  # characters the form encrypts at once


def _choice(number: int, item: TokenObject) -> str:
    """How an object is offered in the chooser: its number in the listing, class and label."""
    return f"{number}: {item.object_class}, {item.label}"


def _cell(item: TokenObject, name: str) -> str:
    value = item.attributes.get(name)
    return "-" if value is None else ("yes" if value else "no")


def _table(items: list[TokenObject]) -> str:
    """The objects as an HTML table: words (yes, no), not colours alone."""
    if not items:
        return "<p>The token holds no objects.</p>"
    head = "".join(f'<th scope="col">{name}</th>' for name in ("#", "class", "type", "label", *COLUMNS))
    rows = []
    for number, item in enumerate(items):
        cells = [str(number), item.object_class, item.key_type, item.label, *(_cell(item, c) for c in COLUMNS)]
        rows.append("<tr>" + "".join(f"<td>{html.escape(cell, quote=False)}</td>" for cell in cells) + "</tr>")
    caption = "<caption>Objects in the token and their security attributes (- : the object has none)</caption>"
    style = 'style="border-collapse:collapse;font-family:monospace;font-size:12px"'
    body = "".join(rows)
    return f'<table class="kmslib-token-table" {style}>{caption}<thead><tr>{head}</tr></thead>{body}</table>'


class TokenForm(Form):
    """List a token's objects, try to export one, and encrypt with a kmslib key kept in the token.

    Buttons call plain methods: :meth:`refresh`, :meth:`try_export` and :meth:`encrypt`. Results are written
    into the form's status line (announced to screen readers: ``role="status"``; errors ``role="alert"``).

    Args:
        token: the :class:`kmslib.HardwareToken` to show.
        custodian: a :class:`~kmslib.KeyCustodian` whose AES keys made in that token (``protection="hsm"``)
            the form offers for encryption.

    Raises:
        ArgumentTypeError: ``token`` is not a :class:`~kmslib.HardwareToken`, or ``custodian`` not a custodian.
    """

    def __init__(self, token: HardwareToken, custodian: KeyCustodian) -> None:
        if not isinstance(token, HardwareToken):
            raise ArgumentTypeError(f"token must be a kmslib.HardwareToken, not {type(token).__name__}")
        if not isinstance(custodian, KeyCustodian):
            raise ArgumentTypeError(f"custodian must be a kmslib.KeyCustodian, not {type(custodian).__name__}")
        super().__init__()
        self.token = token
        self.custodian = custodian
        self._items: list[TokenObject] = []
        self.table = w.HTML(value="")
        self.chosen = w.Dropdown(options=[], value=None)
        self.key = w.Dropdown(options=[], value=None)
        self.message = w.Text(value="card 4111, 12.50 EUR", placeholder="a message to encrypt")
        self.output = w.Textarea(value="", rows=3, layout=w.Layout(width="100%"), placeholder="the token appears here")
        self.refresh_button = make_button("List objects", "", "refresh")
        self.export_button = make_button("Try to export", "warning", "sign-out")
        self.encrypt_button = make_button("Encrypt in the token", "primary", "lock")
        self._on_click(self.refresh_button, self.refresh)
        self._on_click(self.export_button, self.try_export)
        self._on_click(self.encrypt_button, self.encrypt)
        self.refresh(quiet=True)
        self._assemble(
            "kmslib-token-form",
            [
                w.HTML(
                    f"<h4>Token {html.escape(token.label, quote=False)}: its objects, an export, an operation</h4>"
                    "<p>The listing reads each object's security attributes, never a key's value.</p>"
                ),
                self.table,
                self.refresh_button,
                labelled("Key to export", self.chosen),
                self.export_button,
                labelled("kmslib key", self.key),
                labelled("Message", self.message),
                self.encrypt_button,
                labelled("Token (output)", self.output),
                self.status,
            ],
            parts=(
                "table",
                "chosen",
                "key",
                "message",
                "output",
                "refresh_button",
                "export_button",
                "encrypt_button",
            ),
        )

    # ------------------------------------------------------------------ the listing

    def refresh(self, quiet: bool = False) -> list[TokenObject]:
        """List the token's objects in the table, and offer its secret and private keys for export.

        Returns:
            The objects listed (``[]`` if the token refused, which the status line then says).
        """
        items = self._attempt(self.token.objects)
        self._items = [] if items is None else items
        self.table.value = _table(self._items)
        previous = self.chosen.value
        offered = [(_choice(n, item), n) for n, item in enumerate(self._items) if item.object_class in _EXPORTABLE]
        self.chosen.options = offered
        numbers = [n for _, n in offered]
        self.chosen.value = previous if previous in numbers else (numbers[0] if numbers else None)
        keys = self._attempt(self.custodian.list_keys)
        hsm_keys = [i.key_id for i in keys or () if i.kind == "aes" and i.protection == "hsm" and i.revoked_at is None]
        current = self.key.value
        self.key.options = hsm_keys
        self.key.value = current if current in hsm_keys else (hsm_keys[0] if hsm_keys else None)
        if items is not None and not quiet:
            self._info(f"token {self.token.label!r} holds {len(self._items)} objects")
        return self._items

    # ------------------------------------------------------------------ an export, refused

    def _raw(self, item: TokenObject) -> Any:
        """The raw python-pkcs11 object of a listed object: the first of its class with its label."""
        pkcs11 = self.token._pkcs11
        kind = pkcs11.ObjectClass.SECRET_KEY if item.object_class == "secret key" else pkcs11.ObjectClass.PRIVATE_KEY
        query = {pkcs11.Attribute.CLASS: kind, pkcs11.Attribute.LABEL: item.label}
        found = self.token.call(lambda session: list(session.get_objects(query)))
        if not found:
            raise InvalidInputError(f"the token no longer holds {item.label!r}: list the objects again")
        return found[0]

    def _ask(self, operation: Any) -> tuple[bool, Any]:
        """``(True, result)``, or ``(False, the token's refusal by name)``."""
        pkcs11 = self.token._pkcs11

        def guarded(session: Any) -> tuple[bool, Any]:
            try:
                return True, operation(session)
            except pkcs11.PKCS11Error as exc:
                return False, type(exc).__name__

        result: tuple[bool, Any] = self.token.call(guarded)
        return result

    def try_export(self, number: int | None = None) -> str:
        """Try to take the chosen key (or object ``number`` of the listing) out of the token, and say what happened.

        Two tries: read its value (``C_GetAttributeValue`` of ``CKA_VALUE``), and wrap it under a wrapping key
        made for the attempt (``C_WrapKey``, AES key wrap with padding; the wrapping key is destroyed after).

        Returns:
            The sentence shown in the status line.
        """
        chosen = self.chosen.value if number is None else number
        try:
            if chosen is None or not isinstance(chosen, int) or not 0 <= chosen < len(self._items):
                raise InvalidInputError("choose a key to export first (list the objects again if none is offered)")
            item = self._items[chosen]
            if item.object_class not in _EXPORTABLE:
                raise InvalidInputError(f"{item.label!r} is a {item.object_class}: only secret and private keys hide")
            key = self._raw(item)
            read, value = self._ask(lambda _: key[self.token._pkcs11.Attribute.VALUE])
            wrapped = self._wrap(key)
        except KMSError as exc:
            self._fail(exc)
            return str(exc)
        took, answer = wrapped
        first = f"refused ({value})" if not read else "the value came out"
        second = f"refused ({answer})" if not took else f"{len(answer)} bytes came out"
        said = f"reading CKA_VALUE: {first}; wrapping it (C_WrapKey): {second}"
        if read or took:
            message = f"{item.label} LEFT the token: {said}. Whoever can read or unwrap that has the key."
            self.status.value = status_html("error", message, title="The key left the token")
        else:
            message = f"Export of {item.label} refused: {said}. Its value stays in the token."
            self._ok(message)
        del value, answer, wrapped  # a key that did come out is not kept by the form
        return message

    def _wrap(self, key: Any) -> tuple[bool, Any]:
        pkcs11 = self.token._pkcs11
        attribute = pkcs11.Attribute
        template = {
            attribute.TOKEN: False,
            attribute.SENSITIVE: True,
            attribute.EXTRACTABLE: False,
            attribute.WRAP: True,
            attribute.UNWRAP: False,
            attribute.ENCRYPT: False,
            attribute.DECRYPT: False,
        }
        wrapping = self.token.call(
            lambda session: session.generate_key(pkcs11.KeyType.AES, 256, label="export-attempt", template=template)
        )
        try:
            return self._ask(lambda _: wrapping.wrap_key(key, mechanism=pkcs11.Mechanism.AES_KEY_WRAP_PAD))
        finally:
            self.token.call(lambda _: wrapping.destroy())

    # ------------------------------------------------------------------ one operation, in the token

    def encrypt(self, key_id: str | None = None, message: str | None = None) -> str:
        """Encrypt the message with a kmslib key kept in the token; the kmslib token goes into the output box.

        Returns:
            The sentence shown in the status line.
        """
        chosen = self.key.value if key_id is None else key_id
        text = self.message.value if message is None else message
        try:
            if not chosen:
                raise InvalidInputError("choose a kmslib key made in the token first (protection='hsm')")
            if not isinstance(chosen, str) or not isinstance(text, str):
                raise ArgumentTypeError("the key id and the message are text (str)")
            if len(text) > _LONGEST_MESSAGE:
                raise InvalidInputError(f"the form encrypts at most {_LONGEST_MESSAGE} characters at once")
            info = self.custodian.key_info(chosen)
            if info.protection != "hsm":
                raise InvalidInputError(f"{chosen!r} is a software key: choose one made in the token")
            token = self.custodian.encrypt_data_aes(chosen, text)
        except KMSError as exc:
            self._fail(exc)
            return str(exc)
        self.output.value = token
        said = (
            f"encrypted in token {self.token.label!r} by {chosen!r} (version {info.version}, {info.algorithm}): "
            f"{len(text.encode('utf-8'))} bytes went in, a kmslib token of {len(token)} characters came out, "
            "and the key did not move"
        )
        self._ok(said)
        return said
