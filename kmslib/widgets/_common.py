"""What every form shares: a status line, error display, styling and byte rendering.

A form is a thin view over plain methods: each button only calls a method, and each method
writes its result into widget values (so a test can read them without a browser). Errors a
user can cause (every :class:`~kmslib.errors.KMSError`) become a short message in the form's
status line, styled as an error, never a traceback; the form keeps working afterwards.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import ipywidgets as w

from kmslib.errors import KMSError

__all__ = ["COLOURS", "Form", "bytes_html", "error_title", "labelled", "make_button", "status_html"]

T = TypeVar("T")

#: The colours of a token's parts, shared by every picture of a token in the course.
COLOURS = {
    "header": "#6b7280",
    "nonce": "#2563eb",
    "ciphertext": "#d97706",
    "tag": "#059669",
    "padding": "#dc2626",
    "data": "#374151",
}

_TITLES = {
    "KeyNotFoundError": "No such key",
    "KeyExistsError": "That key id is taken",
    "KeyRevokedError": "Key revoked",
    "KeyTypeError": "Wrong kind of key",
    "DecryptionError": "Decryption failed",
    "InvalidInputError": "Invalid input",
    "KeyStateError": "Wrong key state",
    "MessageTooLongError": "Message too long",
    "ArgumentTypeError": "Invalid input",
    "InvalidPeerKeyError": "Invalid peer key",
    "SignatureError": "Signature does not verify",
    "UnsealError": "Still sealed",
    "StoreError": "Store problem",
    "HardwareError": "Hardware token problem",
    "AccessDeniedError": "Access denied",
    "ApprovalRequiredError": "Approval required",
}


def error_title(exc: KMSError) -> str:
    """A short human title for an error class (``"Key revoked"`` for ``KeyRevokedError``)."""
    return _TITLES.get(type(exc).__name__, "Error")


def status_html(kind: str, text: str, title: str | None = None) -> str:
    """HTML for a status line: ``kind`` is ``"ok"``, ``"error"`` or ``"info"``; ``text`` is escaped."""
    colours = {"ok": ("#065f46", "#ecfdf5"), "error": ("#991b1b", "#fef2f2"), "info": ("#1e3a8a", "#eff6ff")}
    fg, bg = colours[kind]
    heading = f"<b>{html.escape(title, quote=False)}:</b> " if title else ""
    role = 'role="alert"' if kind == "error" else 'role="status" aria-live="polite"'  # announced, not only shown
    return (
        f'<div {role} class="kmslib-status kmslib-{kind}" style="color:{fg};background:{bg};border-left:4px solid {fg};'
        f'padding:4px 8px;margin:4px 0;font-family:sans-serif">{heading}{html.escape(text, quote=False)}</div>'
    )


def bytes_html(data: bytes, colour: str, limit: int = 48) -> str:
    """Hex of ``data`` in a coloured span, cut after ``limit`` bytes with a count of the rest."""
    shown = data[:limit].hex(" ")
    more = f" … (+{len(data) - limit} bytes)" if len(data) > limit else ""
    return f'<span style="color:{colour};font-family:monospace">{shown}{more}</span>'


def make_button(description: str, style: str = "", icon: str = "") -> Any:
    """A button with the course's look (``style``: ``primary``, ``success``, ``warning``, ``danger``)."""
    return w.Button(description=description, button_style=style, icon=icon, layout=w.Layout(width="auto"))


def labelled(label: str, widget: Any, width: str = "9em") -> Any:
    """``widget`` named ``label``: the label assistive technology announces, shown before it.

    A label beside a control names it for sighted readers only. So the label is the widget's own
    ``description``, which ipywidgets renders as a ``<label>`` tied to the control. A button or a file
    upload is named by its own text, and keeps it; the label is shown beside it.
    """
    if isinstance(widget, (w.Button, w.FileUpload, w.HTML, w.Label)):
        return w.HBox([w.Label(label, layout=w.Layout(width=width)), widget])
    widget.description = label
    widget.style.description_width = width
    return widget


class Form:
    """Base of every form: a ``widget`` tree and a ``status`` line.

    A form displays itself when it is the last expression of a notebook cell.
    """

    widget: Any

    def __init__(self) -> None:
        self.status = w.HTML(value="")

    def _ok(self, text: str) -> None:
        self.status.value = status_html("ok", text)

    def _info(self, text: str) -> None:
        self.status.value = status_html("info", text)

    def _fail(self, exc: KMSError) -> None:
        title, text = error_title(exc), str(exc)
        if text.lower().startswith(title.lower() + ": "):  # "Decryption failed: decryption failed: ..."
            text = text[len(title) + 2 :]
        self.status.value = status_html("error", text, title=title)

    def _attempt(self, action: Callable[[], T]) -> T | None:
        """Run ``action``; show any KMSError in the status line and return ``None`` instead."""
        try:
            return action()
        except KMSError as exc:
            self._fail(exc)
            return None

    @staticmethod
    def _on_click(button: Any, method: Callable[[], object]) -> None:
        button.on_click(lambda _button: method())

    def _assemble(self, form_class: str, children: list[Any], parts: Iterable[str]) -> None:
        """Frame ``children`` as the form's ``widget``, with CSS classes that browser tests and styles can find.

        Args:
            form_class: the form's class, such as ``"kmslib-aes-form"``.
            children: the widgets, top to bottom.
            parts: attribute names of widgets that get the class ``kmslib-<name>`` (``_`` becomes ``-``).
        """
        self.widget = w.VBox(children, layout=w.Layout(border="1px solid #d1d5db", padding="8px"))
        self.widget.add_class("kmslib-form")
        self.widget.add_class(form_class)
        self.status.add_class("kmslib-status-line")
        for name in parts:
            getattr(self, name).add_class(f"kmslib-{name.replace('_', '-')}")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
