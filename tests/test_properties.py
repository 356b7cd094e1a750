"""Properties: any data round-trips; any string as a token raises nothing but KMSError."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmslib import KeyCustodian, KMSError

_AES = KeyCustodian()
_AES.establish_aes_key("gcm")
_AES.establish_aes_key("cbc", mode="cbc")


@pytest.fixture(scope="module")
def rsa_kms(rsa_pems: Callable[[int], str]) -> KeyCustodian:
    kms = KeyCustodian()
    kms.import_rsa_key("oaep", rsa_pems(0))
    kms.import_rsa_key("pkcs1v15", rsa_pems(0), padding="pkcs1v15")
    return kms


@given(data=st.binary(max_size=4096), mode=st.sampled_from(["gcm", "cbc"]))
def test_any_bytes_round_trip_through_aes(data: bytes, mode: str) -> None:
    assert _AES.decrypt_data_aes(mode, _AES.encrypt_data_aes(mode, data), encoding=None) == data


@given(text=st.text(max_size=1000), mode=st.sampled_from(["gcm", "cbc"]))
def test_any_text_round_trips_through_aes(text: str, mode: str) -> None:
    try:
        token = _AES.encrypt_data_aes(mode, text)
    except KMSError:  # a lone surrogate has no UTF-8 encoding
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in text)
        return
    assert _AES.decrypt_data_aes(mode, token) == text


@given(data=st.binary(max_size=512), aad=st.binary(max_size=64))
def test_any_associated_data_binds(data: bytes, aad: bytes) -> None:
    token = _AES.encrypt_data_aes("gcm", data, associated_data=aad)
    assert _AES.decrypt_data_aes("gcm", token, associated_data=aad, encoding=None) == data


@given(data=st.data(), padding=st.sampled_from(["oaep", "pkcs1v15"]))
def test_any_bytes_within_the_limit_round_trip_through_rsa(
    rsa_kms: KeyCustodian, data: st.DataObject, padding: str
) -> None:
    limit = 190 if padding == "oaep" else 245
    message = data.draw(st.binary(max_size=limit))
    assert rsa_kms.decrypt_data_rsa(padding, rsa_kms.encrypt_data_rsa(padding, message), encoding=None) == message


_TOKENISH = st.one_of(
    st.text(),
    st.text(alphabet="kms:v0123456789aesgcmbcrsp-oaehA+/=BCDEFZ", max_size=80),
    st.builds(
        lambda v, a, p: f"kms:v{v}:{a}:{p}",
        st.integers(min_value=-2, max_value=3),
        st.sampled_from(["aes-256-gcm", "aes-256-cbc", "rsa-oaep-sha256", "rsa-pkcs1v15", "x"]),
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", max_size=400),
    ),
)


@given(token=_TOKENISH, key_id=st.sampled_from(["gcm", "cbc", "missing"]))
def test_any_string_as_aes_token_raises_only_kms_errors(token: str, key_id: str) -> None:
    try:
        _AES.decrypt_data_aes(key_id, token, encoding=None)
    except KMSError:
        pass


@given(token=_TOKENISH, key_id=st.sampled_from(["oaep", "pkcs1v15"]))
def test_any_string_as_rsa_token_raises_only_kms_errors(rsa_kms: KeyCustodian, token: str, key_id: str) -> None:
    try:
        rsa_kms.decrypt_data_rsa(key_id, token, encoding=None)
    except KMSError:
        pass


@given(key_id=st.text(max_size=200))
def test_any_key_id_is_accepted_or_refused_with_a_kms_error(key_id: str) -> None:
    kms = KeyCustodian()
    try:
        kms.establish_aes_key(key_id)
    except KMSError:
        assert key_id not in kms
    else:
        assert kms.key_info(key_id).key_id == key_id
