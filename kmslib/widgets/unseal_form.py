"""``UnsealForm``: unseal a sealed store with shares pasted one at a time, then watch its keys.

Each share holder pastes their share; the form checks each one on its own (SLIP-0039's checksum
catches a mistyped word), counts them (1 of 3, 2 of 3), and opens the store once the threshold is
reached. The shares are forgotten as soon as the store is open, and a pasted share never stays in
the text box. The store's keys then appear in a :class:`~kmslib.widgets.KeyVaultDashboard`.
"""

from __future__ import annotations

import os
from pathlib import Path

import ipywidgets as w

from kmslib.custodian import Clock, KeyCustodian
from kmslib.errors import KMSError, UnsealError
from kmslib.unsealing import share_progress
from kmslib.widgets._common import Form, labelled, make_button
from kmslib.widgets.dashboard import KeyVaultDashboard

__all__ = ["UnsealForm"]


class UnsealForm(Form):
    """Collect shares one at a time, unseal the store at the threshold, and show its keys.

    Buttons call plain methods: :meth:`add_share`, :meth:`forget_shares` and :meth:`seal`.

    Args:
        path: the store file (made by :func:`kmslib.init_store` with shares).
        clock: passed on to :meth:`KeyCustodian.open`.
    """

    def __init__(self, path: str | os.PathLike[str], *, clock: Clock | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.clock = clock
        self.share = w.Textarea(value="", placeholder="paste one share: 33 words", layout=w.Layout(width="100%"))
        self.add_button = make_button("Add share", "primary", "plus")
        self.forget_button = make_button("Forget the shares given", "", "trash")
        self.seal_button = make_button("Seal the store again", "warning", "lock")
        self.progress = w.HTML(value="")
        self.dashboard_box = w.VBox([])
        #: The open custodian, once unsealed (``None`` while sealed).
        self.custodian: KeyCustodian | None = None
        self._dashboard: KeyVaultDashboard | None = None
        self._shares: list[str] = []
        self._threshold = 0
        self._on_click(self.add_button, self.add_share)
        self._on_click(self.forget_button, self.forget_shares)
        self._on_click(self.seal_button, self.seal)
        self._show_progress()
        self._assemble(
            "kmslib-unseal-form",
            [
                w.HTML("<b>Unseal the store</b>: each share holder pastes their share, one at a time."),
                labelled("Share", self.share),
                w.HBox([self.add_button, self.forget_button, self.seal_button]),
                self.progress,
                self.status,
                self.dashboard_box,
            ],
            ("share", "add_button", "forget_button", "seal_button", "progress"),
        )

    @property
    def shares_given(self) -> int:
        """How many distinct, valid shares have been given since the store was last sealed."""
        return len(self._shares)

    def _show_progress(self) -> None:
        if self.custodian is not None:
            text = f"Unsealed: {len(self.custodian)} keys. The shares were forgotten."
        elif self._threshold:
            text = f"{len(self._shares)} of {self._threshold} shares given: still sealed."
        else:
            text = "No shares given yet: sealed."
        self.progress.value = f'<div role="status" aria-live="polite" class="kmslib-progress-text">{text}</div>'

    def add_share(self, share: str | None = None) -> None:
        """Check one share (the text box's, if none is given) and count it; unseal at the threshold."""
        text = self.share.value if share is None else share
        self.share.value = ""  # a share never stays in the box
        if self.custodian is not None:
            self._info("The store is already unsealed.")
            return
        problem = None
        try:
            share_progress([text])  # this share alone: its words and checksum
        except UnsealError as exc:
            problem = str(exc).replace("share 1 ", "this share ", 1)
        if problem is None:
            try:
                have, need = share_progress([*self._shares, text])  # with the others: one set
            except UnsealError:
                problem = "this share belongs to another set of shares than those given before (its identifier differs)"
        if problem is not None:
            self._fail(UnsealError(problem))
            return
        if have == len(self._shares):
            self._info("That share was given already: each holder's share counts once.")
            return
        self._shares.append(" ".join(text.split()))
        self._threshold = need
        if have < need:
            self._ok(f"Share accepted ({have} of {need}).")
            self._show_progress()
            return
        self._unseal()

    def _unseal(self) -> None:
        shares, self._shares = self._shares, []
        try:
            self.custodian = KeyCustodian.open(self.path, shares=shares, clock=self.clock)
        except KMSError as exc:
            self._threshold = 0
            self._fail(exc)
            self._show_progress()
            return
        finally:
            del shares
        self._ok("Unsealed: the root key is in memory, and the keys below are usable.")
        self._show_progress()
        self._dashboard = KeyVaultDashboard(self.custodian)
        self.dashboard_box.children = [self._dashboard.widget]

    def forget_shares(self) -> None:
        """Drop the shares given so far (a holder made a mistake, or the wrong people gathered)."""
        self._shares, self._threshold = [], 0
        self._info("The shares given so far were forgotten.")
        self._show_progress()

    def seal(self) -> None:
        """Close the custodian: its keys leave memory, and the shares are needed again."""
        if self._dashboard is not None:
            self._dashboard.close()  # it stops following the log before the custodian closes
            self._dashboard = None
        if self.custodian is not None:
            self.custodian.close()
        self.custodian = None
        self.dashboard_box.children = []
        self._shares, self._threshold = [], 0
        self._info("Sealed: the keys left memory. The shares are needed to open the store again.")
        self._show_progress()
