"""``DHExchangeForm``: Alice and Bob agree a key; Mallory may sit in the middle."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from kmslib import hybrid
from kmslib.custodian import KeyCustodian
from kmslib.dh import DEFAULT_INFO
from kmslib.errors import InvalidInputError, SignatureError
from kmslib.kex import Transcript, sign_transcript, verify_transcript
from kmslib.widgets._common import COLOURS, Form, labelled, make_button

__all__ = ["DHExchangeForm"]

SHARED = "shared"
_FORM_GROUPS = ("ffdhe2048", "ffdhe3072", "x25519", hybrid.GROUP)


def _party(name: str, colour: str, lines: list[str]) -> str:
    body = "".join(f"<div>{line}</div>" for line in lines)
    return (
        f'<div class="kmslib-party" style="border-top:4px solid {colour};padding:4px 8px;min-width:16em">'
        f"<b>{html.escape(name)}</b>{body}</div>"
    )


def _fp(value: str) -> str:
    return f'<code style="color:{COLOURS["nonce"]}">{html.escape(value)}</code>'


class DHExchangeForm(Form):
    """Alice and Bob side by side, each with her or his own custodian, agree an AES key.

    Steps, each a button and a plain method: :meth:`generate` (a key pair each, in the chosen
    group), :meth:`exchange` (send public keys), :meth:`derive` (each derives the AES key and
    shows its fingerprint), :meth:`send` (Alice encrypts, Bob decrypts), and :meth:`compare`
    (Alice and Bob read their fingerprints to each other over another channel: the form shows no
    verdict before that). The "Mallory in the middle" switch acts at whatever step it is flipped:
    on before the exchange, Mallory replaces each public key in transit with one of her own and
    shares one key with Alice and another with Bob; on later, she is too late and sees only noise;
    off after she has intercepted the exchange, the keys Alice and Bob hold no longer match.

    With "Sign the public keys" on, Alice and Bob each also make a signing key, and each has the other's
    signing public key from beforehand (out of band). Each builds a :class:`~kmslib.kex.Transcript` of the
    exchange from what it sent and received: the context ``kmslib-kex-v1``, the names ``"alice"``
    (initiator) and ``"bob"`` (responder), both public keys, and for the hybrid the ML-KEM ciphertext.
    Bob signs his with the public key (or reply) he sends; Alice checks that signature over her own
    transcript, and only then derives the key and signs her transcript; Bob checks hers before he derives.
    Both keys bind the transcript. Mallory can replace the keys but not forge the signatures, so Alice's
    check fails and the exchange stops. This follows the signed Diffie-Hellman that H. Krawczyk's SIGMA
    paper (CRYPTO 2003) analyses, and TLS 1.3's CertificateVerify, which signs the transcript hash
    (RFC 8446 section 4.4.3); see :mod:`kmslib.kex`. In the hybrid Bob holds his key from his reply on: when
    Alice's signature never comes, he revokes it.

    With the hybrid post-quantum group ``x25519mlkem768`` the steps follow the KEM's flow instead: Alice
    makes her key pair (step 1), sends her public key and Bob replies (step 2: he holds his key from
    then on), Alice finishes (step 3); the status gives the bytes of each message.

    Args:
        info: the HKDF context string both sides use.
    """

    def __init__(self, *, info: bytes = DEFAULT_INFO) -> None:
        super().__init__()
        self.info = info
        self.group = w.Dropdown(options=list(_FORM_GROUPS), value="x25519")
        self.mallory_switch = w.Checkbox(value=False, description="Mallory in the middle", indent=False)
        self.sign_switch = w.Checkbox(value=False, description="Sign the public keys", indent=False)
        self.generate_button = make_button("1. Generate key pairs", "primary", "key")
        self.exchange_button = make_button("2. Exchange public keys", "info", "exchange")
        self.derive_button = make_button("3. Derive the shared key", "success", "handshake-o")
        self.message = w.Text(value="Meet me at noon")
        self.send_button = make_button("4. Alice encrypts, Bob decrypts", "warning", "envelope")
        self.compare_button = make_button("5. Compare fingerprints by phone", "", "phone")
        self.alice_panel = w.HTML(value="")
        self.mallory_panel = w.HTML(value="")
        self.bob_panel = w.HTML(value="")
        self.match = w.HTML(value="")
        self.token = w.Textarea(value="", disabled=True, layout=w.Layout(width="100%"))
        self.token_to_bob = w.Textarea(value="", disabled=True, layout=w.Layout(width="100%"))
        self.bob_received = w.Text(value="", disabled=True)
        self.mallory_read = w.Text(value="", disabled=True)
        self._on_click(self.generate_button, self.generate)
        self._on_click(self.exchange_button, self.exchange)
        self._on_click(self.derive_button, self.derive)
        self._on_click(self.send_button, self.send)
        self._on_click(self.compare_button, self.compare)
        self.mallory_switch.observe(lambda _change: self._draw(), names="value")
        self._reset()
        self._assemble(
            "kmslib-dh-form",
            [
                w.HTML("<h4>Diffie-Hellman: Alice and Bob agree a key</h4>"),
                w.HBox([labelled("Group", self.group, "5em"), self.mallory_switch, self.sign_switch]),
                w.HBox([self.generate_button, self.exchange_button, self.derive_button]),
                w.HBox([self.alice_panel, self.mallory_panel, self.bob_panel]),
                labelled("Message", self.message, "11em"),
                self.send_button,
                labelled("Alice sent", self.token, "11em"),
                labelled("Bob received", self.token_to_bob, "11em"),
                labelled("Bob decrypted", self.bob_received, "11em"),
                labelled("Mallory read", self.mallory_read, "11em"),
                self.compare_button,
                self.match,
                self.status,
            ],
            parts=(
                "group",
                "mallory_switch",
                "sign_switch",
                "generate_button",
                "exchange_button",
                "derive_button",
                "message",
                "send_button",
                "token",
                "token_to_bob",
                "bob_received",
                "mallory_read",
                "compare_button",
                "match",
            ),
        )

    def _reset(self) -> None:
        self.alice = KeyCustodian()
        self.bob = KeyCustodian()
        self.mallory = KeyCustodian()
        # The form offers finite-field and X25519 groups only, but the custodian's method can return hybrid pairs too.
        self._keys: dict[str, tuple[Any, Any]] = {}
        self._received: dict[str, Any] = {}  # public keys, or (hybrid) a public key and a reply
        self._bob_reply: Any = None  # (hybrid) the reply Bob sent, whoever received it
        self._signatures: dict[str, str] = {}  # the signature each side received from the other
        self._transcripts: dict[str, Transcript] = {}  # (signed exchange) each side's view of the exchange
        self._trusted: dict[str, str] = {}  # each side's copy of the other's signing public key (out of band)
        self._intercepted = False  # whether Mallory swapped the public keys during the exchange
        self._derived = False
        self._stopped = ""  # who found, in step 3, that the other's signature does not verify (signed exchange)
        for box in (self.token, self.token_to_bob, self.bob_received, self.mallory_read):
            box.value = ""
        self.match.value = ""
        self._draw()

    def _draw(self) -> None:
        def lines(name: str) -> list[str]:
            out = []
            if name in self._keys:
                out.append(f"my public key: {_fp(self._keys[name][1].fingerprint)}")
            if name in self._received:
                out.append(f"received a public key: {_fp(self._received[name].fingerprint)}")
            custodian = {"alice": self.alice, "bob": self.bob}.get(name)
            if name in self._signatures:
                out.append("received a signature over the transcript")
            if custodian is not None and SHARED in custodian:
                info = custodian.key_info(SHARED)
                out.append(f"shared AES key: {_fp(info.fingerprint)}{'' if info.active else ' (revoked)'}")
            return out or ["(nothing yet)"]

        self.alice_panel.value = _party("Alice", "#2563eb", lines("alice"))
        self.bob_panel.value = _party("Bob", "#059669", lines("bob"))
        if self._intercepted or self.mallory_switch.value:
            mallory = []
            if self._intercepted and "to-alice" not in self._keys:  # the KEM flow: she answered Alice herself
                mallory.append(f"received Alice's public key: {_fp(self._keys['alice'][1].fingerprint)}")
                mallory.append(f"answered Alice herself: {_fp(self._received['alice'].fingerprint)}")
                mallory.append(f"sent Bob her own public key: {_fp(self._keys['to-bob'][1].fingerprint)}")
                if self._bob_reply is not None:
                    mallory.append(f"received Bob's reply: {_fp(self._bob_reply.fingerprint)}")
            elif self._intercepted:
                for peer, sent in (("alice", "to-alice"), ("bob", "to-bob")):
                    mallory.append(f"received from {peer.title()}: {_fp(self._keys[peer][1].fingerprint)}")
                    mallory.append(f"sent {peer.title()} her own: {_fp(self._keys[sent][1].fingerprint)}")
            if self._intercepted:
                for peer in ("alice", "bob"):
                    key_id = f"with-{peer}"
                    if key_id in self.mallory:
                        mallory.append(f"key {key_id}: {_fp(self.mallory.key_info(key_id).fingerprint)}")
            elif self._received:
                mallory.append("arrived after the exchange: she holds no key, and sees only noise")
            else:
                mallory.append("waiting on the wire for the public keys")
            state = "" if self.mallory_switch.value else " (now off the wire)"
            self.mallory_panel.value = _party(f"Mallory (in the middle){state}", COLOURS["padding"], mallory)
        else:
            self.mallory_panel.value = _party("the network", COLOURS["header"], ["carries public keys and tokens"])

    def generate(self) -> str | None:
        """Start over: Alice and Bob each make a key pair in the chosen group."""

        def act() -> str:
            self._reset()
            for name, custodian in (("alice", self.alice), ("bob", self.bob)):
                if name == "alice" or self.group.value != hybrid.GROUP:  # a KEM's responder makes no key pair
                    self._keys[name] = custodian.generate_diffie_hellman_params_and_key(group=self.group.value)
                if self.sign_switch.value:
                    custodian.generate_signing_key(f"{name}-signing")
            if self.sign_switch.value:  # each got the other's signing public key beforehand, out of band
                self._trusted = {
                    "alice": self.bob.export_public_key("bob-signing"),
                    "bob": self.alice.export_public_key("alice-signing"),
                }
            self._draw()
            if self.group.value == hybrid.GROUP:
                self._ok("Alice made her x25519mlkem768 key pair; Bob will answer her public key (a KEM)")
            else:
                self._ok(
                    f"Alice and Bob each made a {self.group.value} key pair; private keys never leave their owners"
                )
            return str(self.group.value)

        return self._attempt(act)

    def exchange(self) -> str | None:
        """Send the public keys across (as PEM text); Mallory, if on the wire now, swaps in her own."""

        def act() -> str:
            if "alice" not in self._keys:
                raise InvalidInputError("generate the key pairs first")
            if self._derived:
                raise InvalidInputError("the keys are already derived: generate new key pairs to start over")
            if self._keys["alice"][1].group == hybrid.GROUP:
                return self._exchange_kem()
            if self.mallory_switch.value:
                for sent in ("to-alice", "to-bob"):  # one key pair for each victim
                    self._keys[sent] = self.mallory.generate_diffie_hellman_params_and_key(group=self.group.value)
                self._received = {"alice": self._keys["to-alice"][1], "bob": self._keys["to-bob"][1]}
                self._intercepted = True
                note = "Mallory intercepted both public keys and sent each side one of her own instead"
            else:
                self._received = {"alice": self._keys["bob"][1], "bob": self._keys["alice"][1]}
                self._intercepted = False
                note = "the public keys crossed the network; anyone may see them"
            if self._trusted:  # Bob sends his key with his signature over the exchange as he sees it
                self._transcripts = {
                    "alice": self._transcript(self._keys["alice"][1], self._received["alice"]),
                    "bob": self._transcript(self._received["bob"], self._keys["bob"][1]),
                }
                self._signatures["alice"] = sign_transcript(
                    self.bob, "bob-signing", self._transcripts["bob"], role="responder"
                )
            self._draw()
            self._ok(note)
            return note

        return self._attempt(act)

    def derive(self) -> bool | None:
        """Each side derives the AES key from its private key and the public key it received.

        The form shows each side's fingerprint, and no verdict: comparing them is :meth:`compare`.

        Returns:
            Whether Alice's and Bob's keys match (``None`` after an error).
        """

        def act() -> bool:
            if "alice" not in self._received:
                raise InvalidInputError("exchange the public keys first")
            if self._derived:
                raise InvalidInputError("the key is already derived: generate new key pairs to start over")
            hybrid_group = self._keys["alice"][1].group == hybrid.GROUP
            if self._trusted:  # Alice checks Bob's signature before deriving; then she signs, and Bob checks hers
                self._check_signature("alice")
                self._signatures["bob"] = sign_transcript(
                    self.alice, "alice-signing", self._transcripts["alice"], role="initiator"
                )
                self._check_signature("bob")
            alice_view, bob_view = self._transcripts.get("alice"), self._transcripts.get("bob")
            if hybrid_group:  # Bob has held his key since his reply; Alice finishes
                self.alice.derive_shared_key(
                    SHARED, self._keys["alice"][0], self._received["alice"], info=self.info, transcript=alice_view
                )
            else:
                for name, custodian, view in (("alice", self.alice, alice_view), ("bob", self.bob, bob_view)):
                    private = self._keys[name][0]
                    received = self._received[name].pem
                    custodian.derive_shared_key(SHARED, private, received, info=self.info, transcript=view)
            if self._intercepted and not hybrid_group:
                for peer, sent in (("alice", "to-alice"), ("bob", "to-bob")):
                    private = self._keys[sent][0]
                    self.mallory.derive_shared_key(f"with-{peer}", private, self._keys[peer][1], info=self.info)
            self._derived = True
            self.match.value = (
                '<div class="kmslib-match-verdict">Each side has a fingerprint. Do they match? Alice and Bob must '
                "compare them over another channel (step 5).</div>"
            )
            self._draw()
            self._ok("both sides derived a key with HKDF-SHA256; no key ever crossed the network")
            return self.alice.key_info(SHARED).fingerprint == self.bob.key_info(SHARED).fingerprint

        return self._attempt(act)

    @staticmethod
    def _transcript(initiator_public: object, responder_public: object = None) -> Transcript:
        return Transcript.of(initiator_public, responder_public, initiator="alice", responder="bob")

    def _check_signature(self, name: str) -> None:
        """``name`` checks the other's signature over its own transcript; a failure stops the exchange (and is raised).

        In the hybrid, Bob made his key when he replied: if the exchange stops, he revokes it.
        """
        peer = "responder" if name == "alice" else "initiator"
        try:
            verify_transcript(self._trusted[name], self._transcripts[name], self._signatures[name], role=peer)
        except SignatureError:
            self._stopped = name
            kept = SHARED in self.bob and self.bob.key_info(SHARED).active
            if kept:
                self.bob.invalidate_key(SHARED, reason="the initiator's signature never verified")
            outcome = (
                "Alice derived no key, and Bob, who gets no valid signature from her, revokes the key he made "
                "with his reply."
                if kept
                else "no key was derived."
            )
            self.match.value = (
                f'<div class="kmslib-match-verdict" style="color:{COLOURS["padding"]};font-weight:bold">✘ '
                f"{name.title()} checked the signature on the exchange she or he saw: it does not verify "
                f"with the signing key she or he trusts. The exchange stops; {outcome}</div>"
            )
            self._draw()
            raise

    def _exchange_kem(self) -> str:
        """Step 2 of the hybrid exchange: Alice sends her key, Bob replies (through Mallory, if she is on the wire)."""
        alice_public = self._keys["alice"][1]
        bob_receives, to_alice = alice_public, None
        if self.mallory_switch.value:  # she answers Alice herself, and starts her own exchange with Bob
            to_alice = self.mallory.accept_key_exchange("with-alice", alice_public, info=self.info)
            self._keys["to-bob"] = self.mallory.generate_diffie_hellman_params_and_key(group=hybrid.GROUP)
            bob_receives = self._keys["to-bob"][1]
            self._intercepted = True
        self._received = {"bob": bob_receives}
        opened = self._transcript(bob_receives) if self._trusted else None  # Bob's view: the key he received
        reply = self._bob_reply = self.bob.accept_key_exchange(SHARED, bob_receives, info=self.info, transcript=opened)
        if opened is not None:  # he signs the exchange as he sees it, his reply included
            self._transcripts["bob"] = opened.complete(reply)
            self._signatures["alice"] = sign_transcript(
                self.bob, "bob-signing", self._transcripts["bob"], role="responder"
            )
        self._received["alice"] = reply
        if to_alice is not None:
            self.mallory.derive_shared_key("with-bob", self._keys["to-bob"][0], reply, info=self.info)
            self._received["alice"] = to_alice
        if self._trusted:
            self._transcripts["alice"] = self._transcript(alice_public, self._received["alice"])
        self._draw()
        through = ", through Mallory, who answered each side herself" if to_alice is not None else ""
        note = (
            f"Alice sent her public key ({len(alice_public.raw)} bytes); Bob replied with a ciphertext and his "
            f"X25519 key ({len(reply.raw)} bytes){through}"
        )
        self._ok(note)
        return note

    def send(self) -> str | None:
        """Alice encrypts; the token crosses the wire (through Mallory, if she is on it); Bob decrypts.

        Returns:
            What Bob read (``None`` after an error, such as Bob failing to decrypt).
        """

        def act() -> str:
            if not self._derived:
                raise InvalidInputError("derive the shared key first")
            if not self.message.value:
                raise InvalidInputError("type a message for Alice to send first")
            token = self.alice.encrypt_data_aes(SHARED, self.message.value)
            self.token.value = token
            self.token_to_bob.value = self.bob_received.value = ""
            on_wire = bool(self.mallory_switch.value)
            if on_wire and self._intercepted:
                stolen = self.mallory.decrypt_data_aes("with-alice", token)
                self.mallory_read.value = stolen
                token = self.mallory.encrypt_data_aes("with-bob", stolen)
            elif on_wire:
                self.mallory_read.value = "(nothing: she holds no key, and the token is noise to her)"
            else:
                self.mallory_read.value = "(Mallory is not on the wire)" if self._intercepted else ""
            self.token_to_bob.value = token
            received = self.bob.decrypt_data_aes(SHARED, token)
            self.bob_received.value = received
            if on_wire and self._intercepted:
                self._info("Bob read the message and suspects nothing, but Mallory read it too")
            else:
                self._ok("Bob decrypted Alice's message with his own copy of the key")
            return received

        return self._attempt(act)

    def compare(self) -> bool | None:
        """Alice and Bob read their key fingerprints to each other over another channel; show what they find.

        Returns:
            Whether the fingerprints match (``None`` before both sides have derived a key).
        """

        def act() -> bool:
            if not self._derived:
                raise InvalidInputError("derive the shared key first: there is nothing to compare yet")
            alice = self.alice.key_info(SHARED).fingerprint
            bob = self.bob.key_info(SHARED).fingerprint
            same = alice == bob
            if same:
                verdict = f"✔ the fingerprints match ({_fp(alice)}): Alice and Bob hold the same AES key"
            else:
                verdict = (
                    f"✘ the fingerprints differ (Alice {_fp(alice)}, Bob {_fp(bob)}): "
                    "each shares a key with someone else. Stop: a man in the middle."
                )
            colour = "#065f46" if same else COLOURS["padding"]
            self.match.value = (
                f'<div class="kmslib-match-verdict" style="color:{colour};font-weight:bold">{verdict}</div>'
            )
            self._ok("compared over the phone, a channel Mallory does not control")
            return same

        return self._attempt(act)

    def run_all(self) -> str | None:
        """Run the steps in order (for a quick demonstration); return what Bob read."""
        for step in (self.generate, self.exchange, self.derive):
            if step() is None:
                return None
        return self.send()
