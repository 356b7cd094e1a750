"""Clulow's attacks on PKCS#11 (CHES 2003) against kmslib's keys in a token, and against a careless template.

Whoever holds the token's PIN can call the token directly, past kmslib. What protects a key then is its
template: kmslib's keys must refuse every step of the attack; a careless key must give itself up (so that
these tests can fail).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from kmslib import HardwareError, HardwareToken, KeyCustodian

ZERO_IV = bytes(16)


def raw(token: HardwareToken) -> Any:
    return token._pkcs11


def kmslib_secret_key(token: HardwareToken) -> Any:
    pkcs11 = raw(token)
    (key,) = [
        o
        for o in token.call(lambda s: list(s.get_objects({pkcs11.Attribute.CLASS: pkcs11.ObjectClass.SECRET_KEY})))
        if str(o.label).startswith("kmslib:")
    ]
    return key


def careless_key(token: HardwareToken, **extra: bool) -> Any:
    """A key with the template Clulow attacks: wrap and decrypt on one key."""
    pkcs11 = raw(token)
    template = {
        pkcs11.Attribute.TOKEN: False,
        pkcs11.Attribute.SENSITIVE: True,
        pkcs11.Attribute.EXTRACTABLE: True,
        pkcs11.Attribute.WRAP: True,
        pkcs11.Attribute.UNWRAP: True,
        pkcs11.Attribute.ENCRYPT: True,
        pkcs11.Attribute.DECRYPT: True,
    }
    template.update({getattr(pkcs11.Attribute, name): value for name, value in extra.items()})
    return token.call(lambda s: s.generate_key(pkcs11.KeyType.AES, 256, template=template))


def wrap_then_decrypt(token: HardwareToken, wrapping: Any, target: Any) -> bytes:
    """Clulow's wrap/decrypt attack: wrap ``target`` under ``wrapping`` with AES-CBC, then decrypt that as data."""
    pkcs11 = raw(token)
    wrapped = token.call(
        lambda _: wrapping.wrap_key(target, mechanism=pkcs11.Mechanism.AES_CBC, mechanism_param=ZERO_IV)
    )
    return bytes(
        token.call(lambda _: wrapping.decrypt(wrapped, mechanism=pkcs11.Mechanism.AES_CBC, mechanism_param=ZERO_IV))
    )


def test_the_attack_extracts_a_key_from_a_careless_template(token: HardwareToken) -> None:
    """The control: on SoftHSM2 the attack works, so the refusals below are kmslib's templates' doing."""
    pkcs11 = raw(token)
    value = os.urandom(32)
    target = token.call(
        lambda s: s.create_object(
            {
                pkcs11.Attribute.CLASS: pkcs11.ObjectClass.SECRET_KEY,
                pkcs11.Attribute.KEY_TYPE: pkcs11.KeyType.AES,
                pkcs11.Attribute.VALUE: value,
                pkcs11.Attribute.TOKEN: False,
                pkcs11.Attribute.SENSITIVE: True,
                pkcs11.Attribute.EXTRACTABLE: True,
                pkcs11.Attribute.ENCRYPT: True,
            }
        )
    )
    with pytest.raises(pkcs11.exceptions.AttributeSensitive):
        target[pkcs11.Attribute.VALUE]  # sensitive: not readable directly...
    assert wrap_then_decrypt(token, careless_key(token), target) == value  # ...but wrap + decrypt gives it up


def test_a_careless_key_encrypts_like_the_value_it_gave_up(token: HardwareToken) -> None:
    """The extracted bytes are the key: an encryption made by the token matches one made with them in software."""
    pkcs11 = raw(token)
    target = careless_key(token)
    stolen = wrap_then_decrypt(token, careless_key(token), target)
    block = b"sixteen byte msg"
    in_token = token.call(lambda _: target.encrypt(block, mechanism=pkcs11.Mechanism.AES_CBC, mechanism_param=ZERO_IV))
    encryptor = Cipher(algorithms.AES(stolen), modes.CBC(ZERO_IV)).encryptor()
    assert in_token == encryptor.update(block) + encryptor.finalize()


def test_a_kmslib_key_cannot_be_wrapped_out_by_any_key(hsm_kms: KeyCustodian, token: HardwareToken) -> None:
    hsm_kms.establish_aes_key("k", protection="hsm")
    pkcs11 = raw(token)
    with pytest.raises(HardwareError, match="KeyUnextractable"):
        wrap_then_decrypt(token, careless_key(token), kmslib_secret_key(token))
    with pytest.raises(HardwareError, match="KeyUnextractable"):
        token.call(
            lambda _: careless_key(token).wrap_key(
                kmslib_secret_key(token), mechanism=pkcs11.Mechanism.AES_KEY_WRAP_PAD
            )
        )


def test_a_kmslib_key_wraps_nothing_and_cannot_be_made_to(hsm_kms: KeyCustodian, token: HardwareToken) -> None:
    """Clulow's other half: kmslib's key must not become the wrapping key of an extractable one."""
    hsm_kms.establish_aes_key("k", protection="hsm")
    pkcs11 = raw(token)
    key = kmslib_secret_key(token)
    assert not key[pkcs11.Attribute.WRAP]
    assert not key[pkcs11.Attribute.UNWRAP]
    victim = careless_key(token)
    with pytest.raises((HardwareError, AttributeError)):
        token.call(lambda _: key.wrap_key(victim, mechanism=pkcs11.Mechanism.AES_CBC, mechanism_param=ZERO_IV))
    for attribute in ("WRAP", "UNWRAP", "EXTRACTABLE", "SENSITIVE"):
        wanted = attribute != "SENSITIVE"

        def change(_: object, name: str = attribute, value: bool = wanted) -> None:
            key[getattr(pkcs11.Attribute, name)] = value

        with pytest.raises(HardwareError, match="refused the operation"):
            token.call(change)
    assert not key[pkcs11.Attribute.WRAP]
    assert key[pkcs11.Attribute.SENSITIVE]


def test_a_careless_but_modifiable_key_can_be_turned_into_a_wrapping_key(token: HardwareToken) -> None:
    """Why kmslib's keys are unmodifiable: without CKA_MODIFIABLE false, CKA_WRAP can be switched on later."""
    pkcs11 = raw(token)
    key = careless_key(token, WRAP=False)
    token.call(lambda _: key.__setitem__(pkcs11.Attribute.WRAP, True))
    assert key[pkcs11.Attribute.WRAP]


def derive_readable(token: HardwareToken, base: Any, data: bytes) -> Any:
    """C_DeriveKey with CKM_AES_ECB_ENCRYPT_DATA: a new key AES(base, data), asked for readable (not sensitive)."""
    pkcs11 = raw(token)
    derive = pkcs11._pkcs11.DeriveMixin.derive_key  # python-pkcs11 offers derive_key only where CKA_DERIVE is true
    readable = {pkcs11.Attribute.SENSITIVE: False, pkcs11.Attribute.EXTRACTABLE: True}
    return token.call(
        lambda _: derive(
            base,
            pkcs11.KeyType.GENERIC_SECRET,
            128,
            mechanism=pkcs11.Mechanism.AES_ECB_ENCRYPT_DATA,
            mechanism_param=data,
            template=readable,
        )
    )


def test_a_careless_deriving_key_gives_a_readable_key_computed_from_its_value(token: HardwareToken) -> None:
    """The control: with CKA_DERIVE true the token hands out a readable key made from the sensitive one."""
    pkcs11 = raw(token)
    key = careless_key(token, DERIVE=True)
    stolen = wrap_then_decrypt(token, careless_key(token), key)  # the value, to compare with (this key is careless)
    data = os.urandom(16)
    derived = derive_readable(token, key, data)
    encryptor = Cipher(algorithms.AES(stolen), modes.ECB()).encryptor()
    assert bytes(derived[pkcs11.Attribute.VALUE]) == encryptor.update(data) + encryptor.finalize()


def test_a_kmslib_key_derives_nothing(hsm_kms: KeyCustodian, token: HardwareToken) -> None:
    hsm_kms.establish_aes_key("k", protection="hsm")
    pkcs11 = raw(token)
    key = kmslib_secret_key(token)
    assert not key[pkcs11.Attribute.DERIVE]
    with pytest.raises(HardwareError, match="refused the operation"):
        derive_readable(token, key, os.urandom(16))


def test_a_kmslib_key_cannot_be_copied_into_an_extractable_one(hsm_kms: KeyCustodian, token: HardwareToken) -> None:
    hsm_kms.establish_aes_key("k", protection="hsm")
    pkcs11 = raw(token)
    key = kmslib_secret_key(token)
    with pytest.raises(HardwareError, match="refused the operation"):
        token.call(lambda _: key.copy({pkcs11.Attribute.EXTRACTABLE: True, pkcs11.Attribute.SENSITIVE: False}))
    with pytest.raises(HardwareError, match="refused the operation"):
        token.call(lambda _: key.copy({pkcs11.Attribute.WRAP: True}))


def test_an_ecdsa_private_key_in_the_token_is_neither_readable_nor_wrappable(
    hsm_kms: KeyCustodian, token: HardwareToken
) -> None:
    hsm_kms.generate_signing_key("s", algorithm="ecdsa-p256-sha256", protection="hsm")
    pkcs11 = raw(token)
    (private,) = [
        o
        for o in token.call(lambda s: list(s.get_objects({pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PRIVATE_KEY})))
        if str(o.label).startswith("kmslib:")
    ]
    with pytest.raises(pkcs11.exceptions.AttributeSensitive):
        private[pkcs11.Attribute.VALUE]
    assert not private[pkcs11.Attribute.EXTRACTABLE]
    assert not private[pkcs11.Attribute.DECRYPT]
    with pytest.raises(HardwareError, match="KeyUnextractable"):
        token.call(lambda _: careless_key(token).wrap_key(private, mechanism=pkcs11.Mechanism.AES_KEY_WRAP_PAD))
