"""The original description's usage guide, line for line; only the import changed."""

from __future__ import annotations

import re

import pytest

from kmslib import KeyInfo, KeyRevokedError


def test_original_usage_guide_runs_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    # 1. Initialize the Key Management System
    from kmslib import KeyCustodian

    kms_instance = KeyCustodian()

    # 2. Generate and Use an AES Key
    aes_key_id = "terminal_123"
    secure_aes_key = kms_instance.establish_aes_key(aes_key_id)
    print("AES Key Established:", secure_aes_key)

    aes_encrypted_text = kms_instance.encrypt_data_aes(aes_key_id, "Confidential Communication")
    print("AES Encrypted Text:", aes_encrypted_text)

    aes_decrypted_text = kms_instance.decrypt_data_aes(aes_key_id, aes_encrypted_text)
    print("Decrypted AES Text:", aes_decrypted_text)  # Output: Confidential Communication

    # 3. Generate an RSA Key Pair and Encrypt/Decrypt Data
    rsa_user = "systemRSA"
    kms_instance.generate_rsa_pair(rsa_user)

    rsa_encrypted_data = kms_instance.encrypt_data_rsa(rsa_user, "Classified Information")
    print("RSA Encrypted Data:", rsa_encrypted_data)

    rsa_decrypted_data = kms_instance.decrypt_data_rsa(rsa_user, rsa_encrypted_data)
    print("Decrypted RSA Text:", rsa_decrypted_data)  # Output: Classified Information

    # 4. Generate Diffie-Hellman Parameters and Key Pair
    dh_private_key, dh_public_key = kms_instance.generate_diffie_hellman_params_and_key()
    print("Diffie-Hellman Public Key:", dh_public_key)

    # 5. Key Revocation
    revocation_result = kms_instance.invalidate_key(aes_key_id)
    print("Revocation Result:", revocation_result)  # Expected: Key Revocation Successful

    try:
        kms_instance.decrypt_data_aes(aes_key_id, aes_encrypted_text)
    except Exception as e:  # noqa: BLE001 - the original guide's line, verbatim
        print("Expected error after key revocation:", e)
        caught = e

    # What each printed line promised.
    out = capsys.readouterr().out.splitlines()
    assert isinstance(secure_aes_key, KeyInfo)
    assert out[0].startswith("AES Key Established: KeyInfo(key_id='terminal_123', algorithm='aes-256-gcm'")
    assert re.fullmatch(r"AES Encrypted Text: kms:v1:aes-256-gcm:[A-Za-z0-9+/]+=*", out[1])
    assert out[2] == "Decrypted AES Text: Confidential Communication"
    assert re.fullmatch(r"RSA Encrypted Data: kms:v1:rsa-oaep-sha256:[A-Za-z0-9+/]+=*", out[3])
    assert out[4] == "Decrypted RSA Text: Classified Information"
    assert re.fullmatch(
        r"Diffie-Hellman Public Key: DHPublicKey\(group='ffdhe2048', bits=2048, fingerprint='[0-9a-f]{16}'\)", out[5]
    )
    assert out[6] == "Revocation Result: Key Revocation Successful"
    assert isinstance(caught, KeyRevokedError)
    assert out[7] == "Expected error after key revocation: key 'terminal_123' was revoked; it can no longer be used"
    assert len(out) == 8
    # Nothing printed shows a secret: the private DH key's repr is public data only.
    assert "DHPrivateKey(group='ffdhe2048'" in repr(dh_private_key)
    assert str(dh_private_key.cryptography_key.private_numbers().x) not in repr(dh_private_key)
