"""The course's interactive forms (ipywidgets): the only part of kmslib that imports ipywidgets.

Each form is a thin view over a :class:`~kmslib.KeyCustodian`: every button calls a plain
method of the form (``form.encrypt()``, ``form.rotate()``, ...), results are written into widget
values, and errors appear inside the form as a short message, never a traceback. A form displays
itself when it is the last expression of a cell; its widget tree is ``form.widget``.
"""

from __future__ import annotations

from kmslib.widgets.aes_form import AESForm
from kmslib.widgets.dashboard import KeyVaultDashboard
from kmslib.widgets.dh_form import DHExchangeForm
from kmslib.widgets.envelope_form import EnvelopeForm
from kmslib.widgets.policy_form import PolicyForm
from kmslib.widgets.relying_party_form import RelyingPartyForm
from kmslib.widgets.rsa_form import RSAForm
from kmslib.widgets.token_form import TokenForm
from kmslib.widgets.unseal_form import UnsealForm

__all__ = [
    "AESForm",
    "DHExchangeForm",
    "EnvelopeForm",
    "KeyVaultDashboard",
    "PolicyForm",
    "RSAForm",
    "RelyingPartyForm",
    "TokenForm",
    "UnsealForm",
]
