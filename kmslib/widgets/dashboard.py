"""``KeyVaultDashboard``: a live table of keys and their states, the controls that change them, and the audit log."""

from __future__ import annotations

import html
import math
import re
from datetime import timedelta
from typing import Any

import ipywidgets as w

from kmslib.audit import AuditEntry, AuditLog
from kmslib.custodian import KeyCustodian
from kmslib.errors import InvalidInputError, StoreError
from kmslib.keyinfo import KeyInfo
from kmslib.states import MAX_USES, RotationPolicy
from kmslib.widgets._common import COLOURS, Form, labelled, make_button

__all__ = ["KeyVaultDashboard", "audit_html", "keys_html", "policy_text"]

_CELL = 'style="padding:2px 10px;text-align:left"'
#: Each state's colour in the key table; the state is always written out as well (WCAG 2.1 SC 1.4.1).
_STATE_COLOURS = {
    "pre-activation": "#1e3a8a",
    "active": "#065f46",
    "suspended": "#92400e",
    "deactivated": "#374151",
    "compromised": COLOURS["padding"],
    "revoked": COLOURS["padding"],
}
_ONE_DAY = timedelta(days=1)


def _days_text(period: timedelta) -> str:
    """``period`` in words: in days (``"90 days"``, ``"0.5 days"``), or in seconds if under 0.001 days."""
    days = period / _ONE_DAY
    if days.is_integer():
        count = str(int(days))
    elif days >= 0.001:
        count = f"{days:.4f}".rstrip("0").rstrip(".")
    else:
        seconds = f"{period.total_seconds():g}"
        return f"{seconds} second{'' if seconds == '1' else 's'}"
    return f"{count} day{'' if count == '1' else 's'}"


def policy_text(policy: RotationPolicy | None) -> str:
    """A rotation policy in words (``"rotate every 90 days; deactivate after 30 days; max uses 1000"``), or ``"none"``.

    Args:
        policy: the policy, or ``None``.
    """
    if policy is None:
        return "none"
    parts = []
    if policy.rotate_every is not None:
        parts.append(f"rotate every {_days_text(policy.rotate_every)}")
    if policy.deactivate_after is not None:
        parts.append(f"deactivate after {_days_text(policy.deactivate_after)}")
    if policy.max_uses is not None:
        parts.append(f"max uses {policy.max_uses}")
    return "; ".join(parts)


def _state_text(info: KeyInfo) -> str:
    """The key's state in words, with when a pre-activation key activates and which versions were revoked."""
    state = info.state
    if info.activate_at is not None and info.state == "pre-activation":
        state += f" (activates {info.activate_at.strftime('%Y-%m-%d %H:%M')} UTC)"
    if info.revoked_versions and info.state != "revoked":
        state += f" (revoked v{', v'.join(map(str, info.revoked_versions))})"
    return state


def keys_html(keys: tuple[KeyInfo, ...]) -> str:
    """An HTML table of keys: id, algorithm, version, state, each version's state, policy, created, fingerprint.

    Every state is written out in words; its colour only repeats it.
    """
    heads = ("key id", "algorithm", "version", "state", "versions", "rotation policy", "created", "fingerprint")
    head = "".join(f'<th scope="col" {_CELL}>{h}</th>' for h in heads)
    rows = []
    for info in keys:
        colour = _STATE_COLOURS.get(info.state, COLOURS["padding"])
        versions = ", ".join(f"v{version} {state}" for version, state in info.version_states)
        cells = [
            html.escape(info.key_id),
            info.algorithm,
            str(info.version),
            f'<span style="color:{colour}">{html.escape(_state_text(info))}</span>',
            html.escape(versions),
            html.escape(policy_text(info.policy)),
            info.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            f"<code>{info.fingerprint}</code>",
        ]
        rows.append("<tr>" + "".join(f"<td {_CELL}>{c}</td>" for c in cells) + "</tr>")
    if not rows:
        rows.append(f'<tr><td {_CELL} colspan="{len(heads)}"><i>no keys yet</i></td></tr>')
    return f'<table class="kmslib-keys"><tr>{head}</tr>{"".join(rows)}</table>'


def _shown(text: str) -> str:
    """What was typed, quoted and cut short, for an error message."""
    return repr(text if len(text) <= 24 else text[:24] + "…")


def _period(text: str, name: str) -> timedelta | None:
    """A period typed in days (``"90"``, ``"0.5"``); ``None`` if blank.

    Raises:
        InvalidInputError: not a number, not more than 0, or more days than a ``timedelta`` holds.
    """
    text = text.strip()
    if not text:
        return None
    try:
        days = float(text)
    except ValueError:
        days = math.nan
    if not math.isfinite(days):
        raise InvalidInputError(f"{name} must be a number of days, such as 90, or blank for none; not {_shown(text)}")
    if days > timedelta.max.days:
        raise InvalidInputError(f"{name} must be at most {timedelta.max.days} days, not {_shown(text)}")
    period = timedelta(days=days)
    if period <= timedelta(0):
        raise InvalidInputError(f"{name} must be more than 0 days, not {_shown(text)}")
    return period


def _uses(text: str) -> int | None:
    """A number of uses typed as a whole number; ``None`` if blank.

    Raises:
        InvalidInputError: not a whole number, or not from 1 to 2**32.
    """
    text = text.strip()
    if not text:
        return None
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise InvalidInputError(f"max uses must be a whole number, such as 1000, or blank for none; not {_shown(text)}")
    uses = int(text) if len(text) <= 20 else MAX_USES + 1
    if not 1 <= uses <= MAX_USES:
        raise InvalidInputError(
            f"max uses must be from 1 to 2**32 (AES-GCM's limit, NIST SP 800-38D), not {_shown(text)}"
        )
    return uses


def _days_value(period: timedelta | None) -> str:
    """``period`` in days, as a policy field shows it (the shortest text that reads back as the same float)."""
    if period is None:
        return ""
    days = repr(period / _ONE_DAY)
    return days.removesuffix(".0")


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
        f"<th {_CELL}>{h}</th>"
        for h in ("#", "time (UTC)", "principal", "operation", "key id", "version", "outcome", "hash")
    )
    rows = []
    for e in entries:
        colour = "#065f46" if e.outcome == "ok" else COLOURS["padding"]
        cells = [
            str(e.seq),
            e.time.strftime("%H:%M:%S"),
            html.escape(e.principal),
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
    """A live view of a custodian: its keys and their states, the controls that change them, and the audit log.

    The key table shows each key's state, each version's state and its rotation policy, in words.
    The dashboard subscribes to the custodian's audit log, so it refreshes after every
    operation, including those made in code on the same custodian.

    Buttons call plain methods: :meth:`rotate`, :meth:`suspend`, :meth:`resume` (the whole key);
    :meth:`deactivate`, :meth:`request_compromise` then :meth:`confirm_compromise` or
    :meth:`cancel_compromise`, and :meth:`request_revoke` then :meth:`confirm_revoke` or
    :meth:`cancel_revoke` (the whole key or one older version, chosen under *Apply to*, with the
    reason typed beside it: a reason is required to mark a key compromised); :meth:`set_policy`;
    :meth:`rewrap`; :meth:`save_head`, :meth:`sign_checkpoint` and :meth:`verify_against_checkpoint`.
    A confirmation acts on the key, version and reason it showed, even if the choices change before
    it is confirmed.

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
        self.suspend_button = make_button("Suspend", "", "pause")
        self.resume_button = make_button("Resume", "", "play")
        self.deactivate_button = make_button("Deactivate", "", "power-off")
        self.compromise_button = make_button("Mark compromised…", "danger", "exclamation-triangle")
        self.revoke_button = make_button("Revoke…", "danger", "ban")
        self.confirm_text = w.HTML(value="")
        self.confirm_button = make_button("Yes, revoke it", "danger", "check")
        self.cancel_button = make_button("Cancel", "", "times")
        self.confirm_box = w.HBox(
            [self.confirm_text, self.confirm_button, self.cancel_button], layout=w.Layout(display="none")
        )
        self.compromise_text = w.HTML(value="", layout=w.Layout(width="100%"))  # the buttons go beneath it
        self.confirm_compromise_button = make_button("Yes, mark it compromised", "danger", "check")
        self.cancel_compromise_button = make_button("Cancel", "", "times")
        self.compromise_box = w.HBox(
            [self.compromise_text, self.confirm_compromise_button, self.cancel_compromise_button],
            layout=w.Layout(display="none", flex_flow="row wrap"),
        )
        self.rotate_every = w.Text(value="", placeholder="blank: none", layout=w.Layout(width="20em"))
        self.deactivate_after = w.Text(value="", placeholder="blank: none", layout=w.Layout(width="22em"))
        self.max_uses = w.Text(value="", placeholder="blank: none", layout=w.Layout(width="14em"))
        self.policy_button = make_button("Set policy", "info", "clock-o")
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
        #: What awaits confirmation: ``(action, key id, version or None, reason or None)``.
        self._pending: tuple[str, str, int | None, str | None] | None = None
        self._refreshing = False
        for button, method in [
            (self.rotate_button, self.rotate),
            (self.suspend_button, self.suspend),
            (self.resume_button, self.resume),
            (self.deactivate_button, self.deactivate),
            (self.compromise_button, self.request_compromise),
            (self.confirm_compromise_button, self.confirm_compromise),
            (self.cancel_compromise_button, self.cancel_compromise),
            (self.revoke_button, self.request_revoke),
            (self.confirm_button, self.confirm_revoke),
            (self.cancel_button, self.cancel_revoke),
            (self.policy_button, self.set_policy),
            (self.save_head_button, self.save_head),
            (self.rewrap_button, self.rewrap),
            (self.checkpoint_button, self.sign_checkpoint),
            (self.check_button, self.verify_against_checkpoint),
        ]:
            self._on_click(button, method)
        self.key.observe(lambda _change: self._key_changed(), names="value")
        self._unsubscribe = custodian.audit_log.subscribe(lambda _entry: self.refresh())
        self.refresh()
        wrap = w.Layout(flex_flow="row wrap", align_items="center")
        self._assemble(
            "kmslib-dashboard",
            [
                w.HTML("<h4>Key vault</h4>"),
                self.keys_table,
                w.HBox(
                    [labelled("Key", self.key, "3em"), self.rotate_button, self.suspend_button, self.resume_button],
                    layout=wrap,
                ),
                w.HBox(
                    [
                        labelled("Apply to", self.version, "4.5em"),
                        labelled("Reason", self.reason, "4em"),
                        self.deactivate_button,
                        self.compromise_button,
                        self.revoke_button,
                    ],
                    layout=wrap,
                ),
                self.confirm_box,
                self.compromise_box,
                w.HBox(
                    [
                        labelled("Rotate every (days)", self.rotate_every, "11em"),
                        labelled("Deactivate after (days)", self.deactivate_after, "13em"),
                        labelled("Max uses", self.max_uses, "5.5em"),
                        self.policy_button,
                    ],
                    layout=wrap,
                ),
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
                "suspend_button",
                "resume_button",
                "deactivate_button",
                "compromise_button",
                "revoke_button",
                "rotate_every",
                "deactivate_after",
                "max_uses",
                "policy_button",
                "token",
                "rewrap_button",
                "rewrapped",
                "confirm_button",
                "cancel_button",
                "confirm_compromise_button",
                "cancel_compromise_button",
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
        """Redraw the key table, the key chooser and the audit log from the custodian.

        The policy fields are filled in only when the chosen key changes, so that a refresh that
        leaves the choice alone (after a change made elsewhere) keeps what is being typed in them.
        """
        before = self.key.value
        try:
            keys = self.custodian.list_keys()
        except StoreError:  # the custodian was closed: its keys left memory
            self.keys_table.value = "<i>the custodian is closed: its store is sealed</i>"
            self._refreshing = True
            try:
                self.key.options = []
            finally:
                self._refreshing = False
            return
        self.keys_table.value = keys_html(keys)
        live = [info.key_id for info in keys if info.state != "revoked"]
        if list(self.key.options) != live:
            self._refreshing = True  # replacing the options moves the choice: do not treat that as a new choice
            try:
                self.key.options = live
                self.key.value = before if before in live else (live[0] if live else None)
            finally:
                self._refreshing = False
        self._offer_versions()
        if self.key.value != before:
            self._show_policy()
        signers = [info.key_id for info in keys if info.kind == "signing" and info.active]
        chosen = self.signer.value
        self.signer.options = signers
        self.signer.value = chosen if chosen in signers else (signers[0] if signers else None)
        log = self.custodian.audit_log
        entries = list(log)
        verified = log.verify(head=self.saved_head)
        self.audit_table.value = audit_html(entries[-self.audit_rows :], verified, len(entries), self.saved_at)

    def _key_changed(self) -> None:
        if not self._refreshing:
            self._offer_versions()
            self._show_policy()

    def _show_policy(self) -> None:
        """Fill the policy fields with the chosen key's policy (blank where it has none)."""
        policy = self.custodian.key_info(str(self.key.value)).policy if self.key.value else None
        self.rotate_every.value = _days_value(None if policy is None else policy.rotate_every)
        self.deactivate_after.value = _days_value(None if policy is None else policy.deactivate_after)
        self.max_uses.value = "" if policy is None or policy.max_uses is None else str(policy.max_uses)

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
        """Offer the whole key, or one of its older live versions, with its state if it is not active.

        The newest version cannot be revoked or deactivated alone: rotate first.
        """
        options: list[tuple[str, int]] = [("the whole key", 0)]
        if self.key.value:
            info = self.custodian.key_info(str(self.key.value))
            for version, state in info.version_states[:-1]:
                if state != "revoked":
                    options.append((f"only version {version}" + ("" if state == "active" else f" ({state})"), version))
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
            raise InvalidInputError("there is no key to choose: no active key, and none other that is not revoked")
        return str(self.key.value)

    def rotate(self) -> int | None:
        """Rotate the chosen key; return its new version."""

        def act() -> int:
            info = self.custodian.rotate_key(self._chosen())
            self._ok(f"rotated {info.key_id!r}: new tokens use version {info.version}; old ones still decrypt")
            return info.version

        return self._attempt(act)

    def _reason(self) -> str | None:
        """The reason typed, or ``None`` if none was."""
        return self.reason.value if self.reason.value.strip() else None

    def _version(self) -> int | None:
        """The version chosen under *Apply to*, or ``None`` for the whole key."""
        return int(self.version.value or 0) or None

    def suspend(self) -> KeyInfo | None:
        """Suspend the chosen key (with the reason typed, if any): nothing works with it until it is resumed."""

        def act() -> KeyInfo:
            key_id = self._chosen()
            info = self.custodian.suspend_key(key_id, reason=self._reason())
            self._ok(f"suspended {key_id!r}: nothing works with it, decryption included, until you resume it")
            return info

        return self._attempt(act)

    def resume(self) -> KeyInfo | None:
        """Make the chosen key, if it is suspended, active again."""

        def act() -> KeyInfo:
            key_id = self._chosen()
            info = self.custodian.resume_key(key_id)
            self._ok(f"resumed {key_id!r}: it is active again")
            return info

        return self._attempt(act)

    def deactivate(self) -> KeyInfo | None:
        """Deactivate the chosen key, or the older version chosen under *Apply to*, with the reason typed (if any)."""

        def act() -> KeyInfo:
            key_id, version = self._chosen(), self._version()
            info = self.custodian.deactivate_key(key_id, version=version, reason=self._reason())
            what = repr(key_id) if version is None else f"version {version} of {key_id!r}"
            self._ok(
                f"{what} is deactivated: it still decrypts and verifies old data, and never encrypts or signs again"
            )
            return info

        return self._attempt(act)

    def _ask(self, action: str, question: str) -> None:
        """Show the confirmation for ``action`` (``"revoke"`` or ``"compromise"``), closing the other."""
        ours, other = (
            (self.confirm_box, self.compromise_box) if action == "revoke" else (self.compromise_box, self.confirm_box)
        )
        text = self.confirm_text if action == "revoke" else self.compromise_text
        other.layout.display = "none"
        text.value = f'<span style="color:{COLOURS["padding"]}">{question}</span>'
        ours.layout.display = "flex"

    def _take(self, action: str, missing: str) -> tuple[str, int | None, str | None]:
        """The key, version and reason awaiting confirmation of ``action``; the confirmations close.

        Raises:
            InvalidInputError: nothing awaits that confirmation (``missing`` says what to do first).
        """
        if self._pending is None or self._pending[0] != action:
            raise InvalidInputError(missing)
        _, key_id, version, reason = self._pending
        self._close_confirmations()
        return key_id, version, reason

    def _close_confirmations(self) -> None:
        self._pending = None
        self.confirm_box.layout.display = "none"
        self.compromise_box.layout.display = "none"

    def request_compromise(self) -> str | None:
        """Ask for confirmation before marking the chosen key (or version) compromised; a reason is required.

        Nothing changes yet. Returns the key id awaiting confirmation.
        """

        def act() -> str:
            key_id, version, reason = self._chosen(), self._version(), self._reason()
            if reason is None:
                raise InvalidInputError(
                    "type a reason first: marking a key compromised needs one, for the investigation"
                )
            what = f"<b>{html.escape(key_id)}</b>"
            if version is None:
                consequence = (
                    "Every use of it is refused from now on; its material is kept for the investigation, and its "
                    "owner may still decrypt or verify old data with allow_compromised=True. It never becomes active "
                    "again: only revocation can follow."
                )
            else:
                what = f"version {version} of {what}"
                consequence = (
                    f"Tokens and signatures of version {version} are refused (its owner may still read them with "
                    "allow_compromised=True); the key's other versions are not affected."
                )
            self._pending = ("compromise", key_id, version, reason)
            self._ask("compromise", f"Mark {what} compromised? {consequence}")
            self._info(f"confirm to mark {key_id!r} compromised, or cancel")
            return key_id

        return self._attempt(act)

    def cancel_compromise(self) -> None:
        """Close the confirmation without marking anything compromised."""
        self._close_confirmations()
        self._info("nothing was marked compromised")

    def confirm_compromise(self) -> KeyInfo | None:
        """Mark compromised the key (or version) awaiting confirmation, with the reason it showed."""

        def act() -> KeyInfo:
            key_id, version, reason = self._take(
                "compromise", "choose a key, type a reason and click Mark compromised first"
            )
            info = self.custodian.mark_compromised(key_id, version=version, reason=str(reason))
            what = repr(key_id) if version is None else f"version {version} of {key_id!r}"
            self._ok(f"{what} is marked compromised: every use is refused; revoke it once the investigation is done")
            return info

        return self._attempt(act)

    def request_revoke(self) -> str | None:
        """Ask for confirmation before revoking the chosen key (nothing is revoked yet)."""

        def act() -> str:
            key_id, version = self._chosen(), self._version()
            if version:
                what = f"version {version} of <b>{html.escape(key_id)}</b>"
                consequence = f"Tokens of version {version} can no longer be decrypted; rewrap them first."
            else:
                what = f"<b>{html.escape(key_id)}</b>"
                consequence = "kmslib drops its material, and nothing it encrypted can be decrypted again."
            self._pending = ("revoke", key_id, version, self._reason())
            self._ask("revoke", f"Revoke {what}? {consequence}")
            self._info(f"confirm to revoke {key_id!r}, or cancel")
            return key_id

        return self._attempt(act)

    def cancel_revoke(self) -> None:
        """Close the confirmation without revoking anything."""
        self._close_confirmations()
        self._info("revocation cancelled")

    def confirm_revoke(self) -> str | None:
        """Revoke the key (or version) awaiting confirmation, with the reason it showed (if any)."""

        def act() -> str:
            key_id, version, reason = self._take("revoke", "choose a key and click Revoke first")
            result = self.custodian.invalidate_key(key_id, version=version, reason=reason)
            if version is None:
                self._ok(f"{result}: {key_id!r} is now a tombstone")
            else:
                self._ok(f"{result}: version {version} of {key_id!r} is revoked; the newer versions still work")
            return result

        return self._attempt(act)

    def set_policy(self) -> KeyInfo | None:
        """Give the chosen key the rotation policy typed: days to rotate every and to deactivate after, and max uses.

        A blank field means none; all three blank removes the policy. Input that is not a
        positive number of days, or a whole number of uses from 1 to 2**32, is refused before
        the custodian is asked, and the fields keep what was typed.
        """

        def act() -> KeyInfo:
            key_id = self._chosen()
            every = _period(self.rotate_every.value, "rotate every")
            after = _period(self.deactivate_after.value, "deactivate after")
            uses = _uses(self.max_uses.value)
            info = self.custodian.set_rotation_policy(key_id, rotate_every=every, deactivate_after=after, max_uses=uses)
            if info.policy is None:
                self._ok(f"{key_id!r} has no rotation policy now")
            else:
                self._ok(f"{key_id!r} now has the rotation policy: {policy_text(info.policy)}")
            return info

        return self._attempt(act)

    def close(self) -> None:
        """Stop following the custodian's audit log."""
        self._unsubscribe()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self.refresh()
        return super()._repr_mimebundle_(**kwargs)
