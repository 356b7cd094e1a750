"""``KeyVaultDashboard``: a live table of keys, Rotate and Revoke, and the audit log."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from kmslib.audit import AuditEntry, AuditLog
from kmslib.custodian import KeyCustodian
from kmslib.errors import InvalidInputError, StoreError
from kmslib.keyinfo import KeyInfo
from kmslib.widgets._common import COLOURS, Form, labelled, make_button

__all__ = ["KeyVaultDashboard", "audit_html", "keys_html"]

_CELL = 'style="padding:2px 10px;text-align:left"'


def keys_html(keys: tuple[KeyInfo, ...]) -> str:
    """An HTML table of keys: id, algorithm, version, state, created, fingerprint."""
    head = "".join(
        f"<th {_CELL}>{h}</th>" for h in ("key id", "algorithm", "version", "state", "created", "fingerprint")
    )
    rows = []
    for info in keys:
        state = info.state
        if info.revoked_versions and info.active:
            state += f" (revoked v{', v'.join(map(str, info.revoked_versions))})"
        colour = COLOURS["padding"] if not info.active else "#065f46"
        cells = [
            html.escape(info.key_id),
            info.algorithm,
            str(info.version),
            f'<span style="color:{colour}">{html.escape(state)}</span>',
            info.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            f"<code>{info.fingerprint}</code>",
        ]
        rows.append("<tr>" + "".join(f"<td {_CELL}>{c}</td>" for c in cells) + "</tr>")
    if not rows:
        rows.append(f'<tr><td {_CELL} colspan="6"><i>no keys yet</i></td></tr>')
    return f'<table class="kmslib-keys"><tr>{head}</tr>{"".join(rows)}</table>'


def audit_html(entries: list[AuditEntry], verified: bool, total: int, saved_at: int | None = None) -> str:
    """An HTML table of audit entries, and whether the hash chain verifies.

    Args:
        entries: the entries to show.
        verified: whether the chain verifies (against the saved head, if there is one).
        total: how many entries the log has.
        saved_at: how many entries the log had when the head it was checked against was saved;
            ``None`` if it was checked on its own (which proves internal consistency only).
    """
    head = "".join(
        f"<th {_CELL}>{h}</th>" for h in ("#", "time (UTC)", "operation", "key id", "version", "outcome", "hash")
    )
    rows = []
    for e in entries:
        colour = "#065f46" if e.outcome == "ok" else COLOURS["padding"]
        cells = [
            str(e.seq),
            e.time.strftime("%H:%M:%S"),
            e.operation,
            html.escape(e.key_id or "—"),
            "—" if e.version is None else str(e.version),
            f'<span style="color:{colour}">{e.outcome}</span>',
            f"<code>{e.hash[:12]}…</code>",
        ]
        rows.append("<tr>" + "".join(f"<td {_CELL}>{c}</td>" for c in cells) + "</tr>")
    if saved_at is None:
        against = "on its own: internal consistency only"
    else:
        against = f"against the head saved after entry #{saved_at - 1}" if saved_at else "from the empty log"
    chain = f"✔ hash chain verified {against}" if verified else f"✘ hash chain BROKEN: it does not verify {against}"
    shown = f"the last {len(entries)} of {total} entries" if total > len(entries) else f"{total} entries"
    return (
        f'<div class="kmslib-chain" style="color:{"#065f46" if verified else COLOURS["padding"]}">'
        f"<b>{chain}</b> ({shown})</div>"
        f'<table class="kmslib-audit" style="font-size:90%"><tr>{head}</tr>{"".join(rows)}</table>'
    )


class KeyVaultDashboard(Form):
    """A live view of a custodian: its keys, Rotate and Revoke (with confirmation), and the audit log.

    The dashboard subscribes to the custodian's audit log, so it refreshes after every
    operation, including those made in code on the same custodian. Buttons call the plain
    methods :meth:`rotate`, :meth:`request_revoke`, :meth:`confirm_revoke`, :meth:`cancel_revoke`,
    :meth:`rewrap` and :meth:`save_head`. Revoke takes the whole key or one older version, with
    the reason typed beside it.

    The chain tick checks the log against a head the dashboard saved itself (when it was made,
    or at the last :meth:`save_head`), not against the log's own newest hash: a chain checked
    against its own head proves only that it is consistent, and a rewritten log is consistent too.

    Args:
        custodian: the custodian to show.
        audit_rows: how many of the newest audit entries to show.
    """

    def __init__(self, custodian: KeyCustodian, *, audit_rows: int = 12) -> None:
        super().__init__()
        self.custodian = custodian
        self.audit_rows = audit_rows
        self.keys_table = w.HTML(value="")
        self.key = w.Dropdown(options=[])
        self.reason = w.Text(value="", placeholder="reason, e.g. laptop stolen")
        self.version = w.Dropdown(options=[("the whole key", 0)], value=0)
        self.token = w.Textarea(value="", placeholder="paste a token to move to the newest version")
        self.rewrap_button = make_button("Rewrap", "info", "refresh")
        self.rewrapped = w.Textarea(value="", disabled=True, placeholder="the rewrapped token appears here")
        self.rotate_button = make_button("Rotate", "info", "refresh")
        self.revoke_button = make_button("Revoke…", "danger", "ban")
        self.confirm_text = w.HTML(value="")
        self.confirm_button = make_button("Yes, revoke it", "danger", "check")
        self.cancel_button = make_button("Cancel", "", "times")
        self.confirm_box = w.HBox(
            [self.confirm_text, self.confirm_button, self.cancel_button], layout=w.Layout(display="none")
        )
        self.audit_table = w.HTML(value="")
        self.save_head_button = make_button("Save head", "", "bookmark")
        self.signer = w.Dropdown(options=[], value=None)
        self.checkpoint_button = make_button("Sign a checkpoint", "", "pencil")
        self.check_button = make_button("Verify the log against it", "", "check-square-o")
        self.checkpoint = w.Textarea(value="", disabled=True, placeholder="a signed checkpoint appears here")
        self.checkpoint_verdict = w.HTML(value="")
        #: The head the chain tick checks against, and how many entries the log had when it was saved.
        self.saved_head = custodian.audit_log.head
        self.saved_at = len(custodian.audit_log)
        self._pending: str | None = None
        self._on_click(self.rotate_button, self.rotate)
        self._on_click(self.revoke_button, self.request_revoke)
        self._on_click(self.confirm_button, self.confirm_revoke)
        self._on_click(self.cancel_button, self.cancel_revoke)
        self._on_click(self.save_head_button, self.save_head)
        self._on_click(self.rewrap_button, self.rewrap)
        self._on_click(self.checkpoint_button, self.sign_checkpoint)
        self._on_click(self.check_button, self.verify_against_checkpoint)
        self.key.observe(lambda _change: self._offer_versions(), names="value")
        self._unsubscribe = custodian.audit_log.subscribe(lambda _entry: self.refresh())
        self.refresh()
        self._assemble(
            "kmslib-dashboard",
            [
                w.HTML("<h4>Key vault</h4>"),
                self.keys_table,
                w.HBox([labelled("Key", self.key, "3em"), self.rotate_button]),
                w.HBox(
                    [
                        labelled("Revoke", self.version, "4em"),
                        labelled("Reason", self.reason, "4em"),
                        self.revoke_button,
                    ]
                ),
                self.confirm_box,
                w.HBox(
                    [labelled("Token", self.token, "4em"), self.rewrap_button, labelled("Rewrapped", self.rewrapped)]
                ),
                self.status,
                w.HBox([w.HTML("<b>Audit log</b>"), self.save_head_button]),
                self.audit_table,
                w.HBox([labelled("Signing key", self.signer, "7em"), self.checkpoint_button, self.check_button]),
                labelled("Checkpoint", self.checkpoint),
                self.checkpoint_verdict,
            ],
            parts=(
                "keys_table",
                "key",
                "reason",
                "version",
                "rotate_button",
                "revoke_button",
                "token",
                "rewrap_button",
                "rewrapped",
                "confirm_button",
                "cancel_button",
                "save_head_button",
                "audit_table",
                "signer",
                "checkpoint_button",
                "check_button",
                "checkpoint",
                "checkpoint_verdict",
            ),
        )

    def refresh(self) -> None:
        """Redraw the key table, the key chooser and the audit log from the custodian."""
        try:
            keys = self.custodian.list_keys()
        except StoreError:  # the custodian was closed: its keys left memory
            self.keys_table.value = "<i>the custodian is closed: its store is sealed</i>"
            self.key.options = []
            return
        self.keys_table.value = keys_html(keys)
        current = self.key.value
        active = [info.key_id for info in keys if info.active]
        self.key.options = active
        if current in active:
            self.key.value = current
        elif active:
            self.key.value = active[0]
        self._offer_versions()
        signers = [info.key_id for info in keys if info.kind == "signing" and info.active]
        chosen = self.signer.value
        self.signer.options = signers
        self.signer.value = chosen if chosen in signers else (signers[0] if signers else None)
        log = self.custodian.audit_log
        entries = list(log)
        verified = log.verify(head=self.saved_head)
        self.audit_table.value = audit_html(entries[-self.audit_rows :], verified, len(entries), self.saved_at)

    def save_head(self) -> str:
        """Save the log's current head: from now on the chain tick checks against it.

        In a real system the head is kept where whoever could rewrite the log cannot reach it
        (another machine, a signed checkpoint, a printout). Saving it after a rewrite would vouch
        for the rewrite.
        """
        log = self.custodian.audit_log
        self.saved_head, self.saved_at = log.head, len(log)
        self.refresh()
        self._ok(f"saved the head after entry #{self.saved_at - 1}: {self.saved_head[:12]}…")
        return self.saved_head

    def _offer_versions(self) -> None:
        """Offer the whole key, or one of its older live versions (the newest cannot be revoked alone)."""
        options: list[tuple[str, int]] = [("the whole key", 0)]
        if self.key.value:
            info = self.custodian.key_info(self.key.value)
            live = [v for v in range(1, info.version) if v not in info.revoked_versions]
            options += [(f"only version {v}", v) for v in live]
        current = self.version.value
        self.version.options = options
        self.version.value = current if current in [v for _, v in options] else 0

    def rewrap(self) -> str | None:
        """Move the token in the token box to the newest version of the chosen key; show the new token."""

        def act() -> str:
            key_id = self._chosen()
            if not self.token.value.strip():
                raise InvalidInputError("paste a token to rewrap first")
            self.rewrapped.value = ""
            token = self.custodian.rewrap(key_id, self.token.value.strip())
            self.rewrapped.value = token
            self._ok(f"rewrapped under version {token.split(':')[1][1:]} of {key_id!r}, without showing the plaintext")
            return token

        return self._attempt(act)

    def sign_checkpoint(self) -> str | None:
        """Sign the audit log's current head with the chosen signing key; show the checkpoint."""

        def act() -> str:
            if not self.signer.value:
                raise InvalidInputError("make a signing key first (generate_signing_key)")
            checkpoint = self.custodian.sign_audit_checkpoint(str(self.signer.value))
            self.checkpoint.value = checkpoint
            self.checkpoint_verdict.value = ""
            self._ok(f"signed a checkpoint of the first {checkpoint.split(':')[2]} entries")
            return checkpoint

        return self._attempt(act)

    def verify_against_checkpoint(self) -> bool | None:
        """Export the log and check it against the checkpoint, with the signing key's public key only."""

        def act() -> bool:
            if not self.checkpoint.value or not self.signer.value:
                raise InvalidInputError("sign a checkpoint first")
            public_key = self.custodian.export_public_key(str(self.signer.value))
            ok = AuditLog.verify_jsonl(
                self.custodian.audit_log.to_jsonl(), checkpoint=self.checkpoint.value, public_key=public_key
            )
            text = (
                "✔ the exported log extends the signed checkpoint"
                if ok
                else "✘ the exported log does NOT match the signed checkpoint: rewritten, cut or reordered"
            )
            colour = "#065f46" if ok else COLOURS["padding"]
            self.checkpoint_verdict.value = (
                f'<div class="kmslib-checkpoint-verdict" style="color:{colour}">{text}</div>'
            )
            return ok

        return self._attempt(act)

    def _chosen(self) -> str:
        if not self.key.value:
            raise InvalidInputError("there is no active key to choose")
        return str(self.key.value)

    def rotate(self) -> int | None:
        """Rotate the chosen key; return its new version."""

        def act() -> int:
            info = self.custodian.rotate_key(self._chosen())
            self._ok(f"rotated {info.key_id!r}: new tokens use version {info.version}; old ones still decrypt")
            return info.version

        return self._attempt(act)

    def request_revoke(self) -> str | None:
        """Ask for confirmation before revoking the chosen key (nothing is revoked yet)."""

        def act() -> str:
            key_id = self._chosen()
            self._pending = key_id
            version = int(self.version.value or 0)
            if version:
                what = f"version {version} of <b>{html.escape(key_id)}</b>"
                consequence = f"Tokens of version {version} can no longer be decrypted; rewrap them first."
            else:
                what = f"<b>{html.escape(key_id)}</b>"
                consequence = "kmslib drops its material, and nothing it encrypted can be decrypted again."
            self.confirm_text.value = f'<span style="color:{COLOURS["padding"]}">Revoke {what}? {consequence}</span>'
            self.confirm_box.layout.display = "flex"
            self._info(f"confirm to revoke {key_id!r}, or cancel")
            return key_id

        return self._attempt(act)

    def cancel_revoke(self) -> None:
        """Close the confirmation without revoking anything."""
        self._pending = None
        self.confirm_box.layout.display = "none"
        self._info("revocation cancelled")

    def confirm_revoke(self) -> str | None:
        """Revoke the key awaiting confirmation, with the reason typed (if any)."""

        def act() -> str:
            if self._pending is None:
                raise InvalidInputError("choose a key and click Revoke first")
            key_id, self._pending = self._pending, None
            self.confirm_box.layout.display = "none"
            version = int(self.version.value or 0) or None
            result = self.custodian.invalidate_key(key_id, version=version, reason=self.reason.value or None)
            if version is None:
                self._ok(f"{result}: {key_id!r} is now a tombstone")
            else:
                self._ok(f"{result}: version {version} of {key_id!r} is revoked; the newer versions still work")
            return result

        return self._attempt(act)

    def close(self) -> None:
        """Stop following the custodian's audit log."""
        self._unsubscribe()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self.refresh()
        return super()._repr_mimebundle_(**kwargs)
