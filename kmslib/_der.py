"""Splicing a signature into a signed X.509 structure's DER (ITU-T X.690 definite-length encoding).

pyca's builders sign with a private key object they hold. A certificate authority whose key lives in the
custodian (or in a token) signs differently: :mod:`kmslib.pki` lets pyca build and sign the structure with a
throwaway key of the same algorithm, takes the bytes to be signed (``tbs_certificate_bytes`` and its
siblings), has the custodian sign them, and puts that signature in place of the throwaway one. The three
structures share one shape (RFC 5280 §4.1 and §5.1, RFC 6960 §4.2.1)::

    SEQUENCE { toBeSigned, signatureAlgorithm AlgorithmIdentifier, signature BIT STRING, ... }

Only the outer SEQUENCE's length and the BIT STRING change; everything signed stays byte for byte as pyca
encoded it. The result is parsed again by pyca and its signature checked, by :mod:`kmslib.pki` and its tests.
"""

from __future__ import annotations

__all__ = ["replace_ocsp_signature", "replace_signature"]

_SEQUENCE = 0x30
_BIT_STRING = 0x03
_OCTET_STRING = 0x04
_EXPLICIT_0 = 0xA0


def _element(data: bytes, start: int) -> tuple[int, int, int]:
    """``(tag, content start, end)`` of the DER element at ``start`` (one-byte tags, definite lengths)."""
    tag, first = data[start], data[start + 1]
    if first < 0x80:
        return tag, start + 2, start + 2 + first
    count = first & 0x7F
    if not 1 <= count <= 4:
        raise ValueError("unsupported DER length")
    length = int.from_bytes(data[start + 2 : start + 2 + count], "big")
    return tag, start + 2 + count, start + 2 + count + length


def _children(data: bytes, tag: int) -> list[bytes]:
    """The elements inside ``data``, a single DER element with tag ``tag``."""
    found, content, end = _element(data, 0)
    if found != tag or end != len(data):
        raise ValueError("not the expected DER element")
    children = []
    while content < end:
        _, _, child_end = _element(data, content)
        children.append(data[content:child_end])
        content = child_end
    if content != end:
        raise ValueError("DER element overruns its parent")
    return children


def _encode(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big") + content


def replace_signature(signed: bytes, signature: bytes, algorithm: bytes | None = None) -> bytes:
    """``signed`` (a Certificate, CertificateList or BasicOCSPResponse) with ``signature`` in place of its own.

    Args:
        signed: the DER of a structure signed by a throwaway key.
        signature: the real signature of its first element's bytes.
        algorithm: a DER AlgorithmIdentifier to put in place of its signatureAlgorithm (only where that field
            is outside the bytes signed: a BasicOCSPResponse), or ``None`` to keep it.
    """
    to_be_signed, current, _, *rest = _children(signed, _SEQUENCE)
    bits = _encode(_BIT_STRING, b"\x00" + signature)  # no unused bits
    return _encode(_SEQUENCE, to_be_signed + (algorithm or current) + bits + b"".join(rest))


def replace_ocsp_signature(response: bytes, signature: bytes, algorithm: bytes | None = None) -> bytes:
    """An OCSPResponse's DER with its BasicOCSPResponse's signature (and algorithm) replaced (RFC 6960 §4.2.1)."""
    status, explicit = _children(response, _SEQUENCE)
    (response_bytes,) = _children(explicit, _EXPLICIT_0)
    kind, octets = _children(response_bytes, _SEQUENCE)
    _, content, end = _element(octets, 0)
    basic = replace_signature(octets[content:end], signature, algorithm)
    inner = _encode(_SEQUENCE, kind + _encode(_OCTET_STRING, basic))
    return _encode(_SEQUENCE, status + _encode(_EXPLICIT_0, inner))


def algorithm_of(signed: bytes) -> bytes:
    """The DER signatureAlgorithm of a signed structure (a certificate's, to reuse for an OCSP response)."""
    return _children(signed, _SEQUENCE)[1]
