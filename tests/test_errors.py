"""The error tree, and messages that never carry a secret."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

import kmslib
from kmslib import KeyCustodian, errors


def test_the_tree_of_the_contract() -> None:
    expected = {
        errors.KeyNotFoundError: (errors.KMSError, LookupError),
        errors.KeyExistsError: (errors.KMSError,),
        errors.KeyRevokedError: (errors.KMSError,),
        errors.KeyTypeError: (errors.KMSError, TypeError),
        errors.DecryptionError: (errors.KMSError,),
        errors.InvalidInputError: (errors.KMSError, ValueError),
        errors.MessageTooLongError: (errors.InvalidInputError,),
        errors.ArgumentTypeError: (errors.InvalidInputError, TypeError),
        errors.InvalidPeerKeyError: (errors.KMSError, ValueError),
        errors.SignatureError: (errors.KMSError,),
        errors.AccessDeniedError: (errors.KMSError, PermissionError),
        errors.ApprovalRequiredError: (errors.AccessDeniedError,),
        errors.HardwareError: (errors.KMSError,),
    }
    assert issubclass(errors.KMSError, Exception)
    for cls, bases in expected.items():
        assert cls.__bases__ == bases, cls
        assert getattr(kmslib, cls.__name__) is cls
        assert cls.__doc__


def test_an_approval_required_error_names_its_request_and_survives_pickling() -> None:
    error = errors.ApprovalRequiredError("kms:RevokeKey on key 'prod' needs 2 approvals", request_id="req-1")
    assert error.request_id == "req-1"
    assert isinstance(error, errors.AccessDeniedError)
    assert isinstance(error, PermissionError)
    for again in (pickle.loads(pickle.dumps(error)), copy.copy(error)):
        assert type(again) is errors.ApprovalRequiredError
        assert again.request_id == "req-1"
        assert str(again) == str(error)


def test_the_new_errors_are_in_the_readme_table() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert "| `AccessDeniedError` | `PermissionError` |" in readme
    assert "| `ApprovalRequiredError` | `AccessDeniedError`, `PermissionError` |" in readme


def test_the_tree_is_drawn_in_the_module_docstring() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        if not name.isupper():  # the classes, not the message constants
            assert name in doc


def test_no_message_or_repr_carries_key_bytes_or_plaintext(kms: KeyCustodian, rsa_pems: Callable[[int], str]) -> None:
    key = bytes(range(100, 132))
    secret = "TOP-SECRET-PLAINTEXT"
    kms.import_aes_key("aes", key)
    kms.import_aes_key("cbc", key, mode="cbc")
    kms.import_rsa_key("rsa", rsa_pems(0))
    token = kms.encrypt_data_aes("aes", secret)
    raised: list[BaseException] = []

    def attempt(call: Callable[[], object]) -> None:
        try:
            call()
        except kmslib.KMSError as exc:
            raised.append(exc)

    attempt(lambda: kms.decrypt_data_aes("aes", token[:-4] + "AAAA"))
    attempt(lambda: kms.decrypt_data_aes("aes", token, associated_data=secret))
    attempt(lambda: kms.encrypt_data_aes("cbc", secret, associated_data=secret))
    attempt(lambda: kms.encrypt_data_rsa("rsa", secret * 20))
    attempt(lambda: kms.encrypt_data_aes("rsa", secret))
    attempt(lambda: kms.decrypt_data_aes("cbc", token))
    attempt(lambda: kms.import_aes_key("short", key[:31]))
    kms.invalidate_key("aes")
    attempt(lambda: kms.decrypt_data_aes("aes", token))
    assert len(raised) == 8
    texts = [str(e) for e in raised] + [repr(e) for e in raised]
    texts += [repr(kms), repr(kms.key_info("cbc")), repr(kms.list_keys()), kms.audit_log.to_jsonl()]
    texts += [repr(entry) for entry in kms.audit_log]
    for text in texts:
        assert secret not in text
        assert key.hex() not in text
        assert key.hex()[:16] not in text
        assert repr(key)[2:20] not in text


def test_secrets_do_not_pickle(kms: KeyCustodian) -> None:
    info = kms.establish_aes_key("k")
    private, _ = kms.generate_diffie_hellman_params_and_key(group="x25519")
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(kms)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(private)
    assert pickle.loads(pickle.dumps(info)) == info  # metadata only: safe to pickle
    with pytest.raises(TypeError):
        copy.deepcopy(kms)


def test_no_document_claims_the_uniform_error_stops_padding_oracles() -> None:
    # Contract section 4: nothing may claim that CBC here is "no padding oracle".
    import json
    import re
    from pathlib import Path

    from helpers import ROOT

    texts = {"README.md": (ROOT / "README.md").read_text()}
    texts |= {str(path): path.read_text() for path in (ROOT / "kmslib").rglob("*.py")}
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        cells = json.loads(path.read_text())["cells"]
        texts[str(path)] = "\n".join("".join(cell["source"]) for cell in cells)
    false_claims = [
        r"never (serve as )?a padding oracle",
        r"\bno padding oracle",
        r"attacker\s+learns\s+nothing from it",
    ]
    found = [(name, claim) for name, text in texts.items() for claim in false_claims if re.search(claim, text, re.I)]
    assert found == []
    assert "CBC is a padding oracle" in texts["README.md"]
    assert Path(kmslib.aes.__file__).read_text().count("padding oracle") >= 1
