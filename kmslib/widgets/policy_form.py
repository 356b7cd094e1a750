"""``PolicyForm``: a key policy simulator, in the manner of AWS's IAM policy simulator.

Choose a principal, an action, a key and associated data, and :meth:`PolicyForm.simulate` answers
Allow or Deny, explicit or implicit, with the statement that decided it (its index and ``Sid``), or
says how many approvals the call needs (dual control). It asks :meth:`kmslib.policy.KeyPolicy.evaluate`,
the evaluator the custodian itself uses, and does nothing to the key. It simulates the key policy
alone: grants (``create_grant``) are not part of the simulation.

The form also edits the chosen key's policy as JSON: :meth:`PolicyForm.check_policy` validates the
draft with :func:`kmslib.policy.parse_policy` and shows its message, which names the place of a
problem (``Statement[1].Action``); :meth:`PolicyForm.simulate` uses a valid draft in place of the
key's current policy and says which of the two it used; :meth:`PolicyForm.apply` attaches the draft
with ``set_key_policy`` (a refused draft leaves the key's policy as it was).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import ipywidgets as w

from kmslib import _checks
from kmslib.custodian import KeyCustodian
from kmslib.errors import InvalidInputError, KMSError
from kmslib.policy import ACTIONS, MAX_POLICY_BYTES, OWNER, KeyPolicy, Request, parse_policy
from kmslib.widgets._common import Form, error_title, labelled, make_button, status_html

__all__ = ["PolicyForm"]

#: What the editor holds for a key without a policy: the frame of a policy, to be filled in.
TEMPLATE = json.dumps({"Version": "2012-10-17", "Statement": []}, indent=2)
#: The most characters of policy text the form reads: eight times the policy limit leaves room for indentation.
MAX_TEXT = 8 * MAX_POLICY_BYTES
_SHOWN = 40  # characters of a name or of associated data echoed in a result


def _short(text: str) -> str:
    """``text`` quoted for a result line, cut to 40 characters."""
    return repr(text) if len(text) <= _SHOWN else repr(text[: _SHOWN - 3] + "...")


def _statement_words(index: int | None, sid: str | None) -> str:
    """``Statement[1] (Sid 'Users')``, or ``Statement[3] (no Sid)``."""
    return f"Statement[{index}] ({'no Sid' if sid is None else 'Sid ' + _short(sid)})"


def _read_policy(text: str) -> KeyPolicy:
    """Parse policy ``text`` (JSON) into a validated :class:`~kmslib.policy.KeyPolicy`.

    Raises:
        InvalidInputError: the text is empty, too long, not UTF-8 text, not JSON, or not a valid policy;
            the message says what and where.
    """
    if len(text) > MAX_TEXT:
        raise InvalidInputError(
            f"the policy text is {len(text):,} characters; the editor reads at most {MAX_TEXT:,} "
            f"(a policy is at most {MAX_POLICY_BYTES:,} bytes as compact JSON)"
        )
    if not text.strip():
        raise InvalidInputError("the policy text is empty: write a policy in JSON first")
    problem: str | None = None
    document: object = None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        problem = f"the policy text is not UTF-8 text: a lone surrogate at character {exc.start}"
    if problem is None:
        try:
            document = json.loads(text)
            json.dumps(document, ensure_ascii=False).encode("utf-8")
        except json.JSONDecodeError as exc:
            problem = f"the policy text is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        except UnicodeEncodeError:
            problem = "the policy holds a string that is not UTF-8 text (an escaped lone surrogate, such as \\ud800)"
        except RecursionError:
            problem = "the policy text is nested too deeply to read"
        except ValueError:  # int() refuses a number of more than 4300 digits
            problem = "the policy text holds a number too long to read"
    if problem is not None:
        raise InvalidInputError(problem)  # outside the except blocks: no chained exception
    return parse_policy(document)


def _associated(text: str) -> bytes | None:
    """The associated data as UTF-8 bytes, or ``None`` for empty text.

    Raises:
        InvalidInputError: the text holds a lone surrogate, which UTF-8 cannot encode.
    """
    if not text:
        return None
    bad: int | None = None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = exc.start
    raise InvalidInputError(f"associated data must be UTF-8 text; it has a lone surrogate at character {bad}")


class PolicyForm(Form):
    """Simulate who may do what with a key, and edit, check and apply the key's policy.

    Buttons call plain methods: :meth:`simulate_chosen` (which calls :meth:`simulate`),
    :meth:`check_policy`, :meth:`apply` and :meth:`load_policy`. Every result is written into the
    form's status line, announced to screen readers (``role="status"``; errors ``role="alert"``).

    Args:
        custodian: the :class:`~kmslib.KeyCustodian` whose keys' policies are simulated and edited.
        key_ids: the keys offered; by default every key of the custodian.
        principals: the principal names offered (another name may be typed); by default the names in
            the chosen key's policy.
    """

    def __init__(
        self,
        custodian: KeyCustodian,
        key_ids: Iterable[str] | None = None,
        principals: Iterable[str] | None = None,
    ) -> None:
        super().__init__()
        self.custodian = custodian
        self._key_ids = None if key_ids is None else list(key_ids)
        self._principals = None if principals is None else list(principals)
        self.principal = w.Combobox(options=[], value="", ensure_option=False, placeholder="choose or type a name")
        self.action = w.Dropdown(options=list(ACTIONS), value=ACTIONS[0])
        self.key = w.Dropdown(options=[], value=None)
        self.associated_data = w.Text(value="", placeholder="empty for none, e.g. orders")
        self.editor = w.Textarea(value="", rows=16, layout=w.Layout(width="100%"))
        self.simulate_button = make_button("Simulate", "primary", "play")
        self.check_button = make_button("Check policy", "info", "check")
        self.apply_button = make_button("Apply to key", "warning", "save")
        self.reload_button = make_button("Reload key's policy", "", "refresh")
        self._on_click(self.simulate_button, self.simulate_chosen)
        self._on_click(self.check_button, self.check_policy)
        self._on_click(self.apply_button, self.apply)
        self._on_click(self.reload_button, self.load_policy)
        self.refresh_keys()
        self.load_policy(quiet=True)
        self.key.observe(lambda _change: self.load_policy(), names="value")
        self._assemble(
            "kmslib-policy-form",
            [
                w.HTML(
                    "<h4>Policy simulator: who may do what with a key</h4>"
                    "<p>Simulating asks the key policy (or the valid draft below) and changes nothing. "
                    "Grants are not part of the simulation.</p>"
                ),
                labelled("Principal", self.principal),
                labelled("Action", self.action),
                labelled("Key", self.key),
                labelled("Associated data", self.associated_data),
                labelled("Key policy (JSON)", self.editor),
                w.HBox([self.simulate_button, self.check_button, self.apply_button, self.reload_button]),
                self.status,
            ],
            parts=(
                "principal",
                "action",
                "key",
                "associated_data",
                "editor",
                "simulate_button",
                "check_button",
                "apply_button",
                "reload_button",
            ),
        )

    # ------------------------------------------------------------------ what the form offers

    def refresh_keys(self) -> None:
        """Offer the keys given, or else every key of the custodian, keeping the chosen one if it is still there."""
        keys = self._key_ids
        if keys is None:
            listed = self._attempt(self.custodian.list_keys)  # a closed custodian: said in the status line
            keys = [] if listed is None else [i.key_id for i in listed]
        current = self.key.value
        self.key.options = keys
        self.key.value = current if current in keys else (keys[0] if keys else None)

    def _refresh_principals(self, policy: KeyPolicy | None) -> None:
        names = (
            self._principals
            if self._principals is not None
            else sorted((policy.principals() if policy else set()) - {"*"})
        )
        self.principal.options = names
        if not self.principal.value and names:  # a name already chosen or typed stays
            self.principal.value = names[0]

    def _current(self, key_id: str) -> KeyPolicy | None:
        document = self.custodian.get_key_policy(key_id)
        return None if document is None else parse_policy(document)

    def _chosen_key(self, key_id: object) -> str:
        if key_id is None or key_id == "":
            raise InvalidInputError("choose a key first")
        return _checks.key_id(key_id, "key")

    def _show_error(self, exc: KMSError) -> str:
        self._fail(exc)
        return f"{error_title(exc)}: {exc}"

    # ------------------------------------------------------------------ the editor

    def load_policy(self, quiet: bool = False) -> str:
        """Put the chosen key's current policy in the editor as indented JSON (a template if it has none).

        An unapplied draft in the editor is replaced. Returns what the status line says.
        """
        try:
            key_id = self._chosen_key(self.key.value)
            policy = self._current(key_id)
        except KMSError as exc:
            self.editor.value = TEMPLATE
            self._refresh_principals(None)
            return "" if quiet else self._show_error(exc)
        self.editor.value = TEMPLATE if policy is None else json.dumps(policy.document, indent=2, ensure_ascii=False)
        self._refresh_principals(policy)
        message = (
            f"{key_id!r} has no key policy: only the owner may use it"
            if policy is None
            else (f"loaded the policy of {key_id!r} ({self._count(policy)})")
        )
        if not quiet:
            self._info(message)
        return message

    @staticmethod
    def _count(policy: KeyPolicy) -> str:
        return f"{len(policy)} statement{'' if len(policy) == 1 else 's'}"

    def check_policy(self, text: str | None = None) -> str:
        """Validate the policy in the editor (or ``text``, which is first put in the editor).

        Returns:
            ``"valid: N statements"``, or the error shown: the problem and its place, such as
            ``Statement[1].Action``. Nothing is applied to the key.
        """
        if text is not None:
            self.editor.value = text
        try:
            policy = _read_policy(self.editor.value)
        except KMSError as exc:
            return self._show_error(exc)
        message = f"valid: {self._count(policy)}"
        self._ok(message)
        return message

    def apply(self) -> str:
        """Attach the policy in the editor to the chosen key (``set_key_policy``; the owner's call).

        A draft that is not valid, or that the custodian refuses, is shown as an error and the key keeps
        its policy. Returns what the status line says.
        """
        try:
            key_id = self._chosen_key(self.key.value)
            policy = _read_policy(self.editor.value)
            self.custodian.set_key_policy(key_id, policy.document)
        except KMSError as exc:
            return self._show_error(exc)
        self._refresh_principals(policy)
        message = f"applied to {key_id!r}: its policy now has {self._count(policy)}"
        self._ok(message)
        return message

    def _policy_for(self, key_id: str) -> tuple[KeyPolicy | None, str]:
        """The policy to simulate for ``key_id`` (a valid, edited draft of the chosen key's, else its current one)."""
        current = self._current(key_id)
        source = "the key's current policy"
        text = self.editor.value
        if key_id != self.key.value or not text.strip() or text.strip() == TEMPLATE:
            return current, source
        try:
            draft = _read_policy(text)
        except KMSError as exc:
            return current, f"{source}; the draft in the editor is not valid ({exc}), so it was not used"
        if current is not None and draft.document == current.document:
            return current, source
        return draft, "the draft in the editor (not applied)"

    # ------------------------------------------------------------------ simulation

    def simulate_chosen(self) -> str:
        """:meth:`simulate` what the form's controls say."""
        return self.simulate(self.principal.value, self.action.value, self.key.value, self.associated_data.value)

    def simulate(self, principal: str, action: str, key_id: str | None, associated_data: str = "") -> str:
        """Decide whether ``principal`` may do ``action`` on ``key_id`` with ``associated_data`` ("" for none).

        Returns:
            The sentence shown in the status line: ``"Allow: ..."``, ``"Deny (explicit): ..."``,
            ``"Deny (implicit): ..."`` or ``"Approvals required (dual control): ..."``, naming the deciding
            statement (``Statement[i]`` and its ``Sid``) and the policy used; or the error shown.
        """
        try:
            key = self._chosen_key(key_id)
            who = _checks.key_id(principal, "principal")
            if action not in ACTIONS:
                raise InvalidInputError(f"unknown action {_short(str(action))}: choose one of kmslib.policy.ACTIONS")
            data = _associated(associated_data)
            policy, source = self._policy_for(key)
        except KMSError as exc:
            return self._show_error(exc)
        request = f"{who!r} {action} on {key!r}" + (f" with associated data {_short(associated_data)}" if data else "")
        if who == OWNER:
            message = f"Allow: the owner may do anything with its keys; no statement is needed ({request})"
        elif policy is None:
            message = f"Deny (implicit): {key!r} has no key policy, so only the owner may use it ({request})"
        else:
            message = self._verdict(policy, Request(who, action, data), request) + f". Policy: {source}."
        kind = "ok" if message.startswith("Allow") else "info"
        self.status.value = status_html(kind, message)
        return message

    @staticmethod
    def _verdict(policy: KeyPolicy, request: Request, words: str) -> str:
        decision = policy.evaluate(request)
        deciding = _statement_words(decision.statement, decision.sid)
        if decision.reason == "allow":
            return f"Allow: {deciding} allows {words}"
        if decision.reason == "explicit-deny":
            return f"Deny (explicit): {deciding} denies {words}; an explicit Deny wins over every Allow"
        needed = decision.approvals_required
        if needed is not None:
            later = policy.evaluate(Request(request.principal, request.action, request.associated_data, needed))
            if later.allowed:
                return (
                    f"Approvals required (dual control): {words} needs {needed} approval{'' if needed == 1 else 's'} "
                    f"from other principals; then {_statement_words(later.statement, later.sid)} allows it. "
                    "Without them it is denied (the call raises ApprovalRequiredError)"
                )
        return f"Deny (implicit): no statement allows {words}; what no statement allows is denied"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        if self._key_ids is None:
            self.refresh_keys()
        return super()._repr_mimebundle_(**kwargs)
