"""The archive's Ed25519 key: make, load, fingerprint, sign, verify.

Why Ed25519: short keys and signatures, deterministic signing (no random
numbers to get wrong), and every common tool checks it (``openssl pkeyutl
-verify -rawin``, ``ssh-keygen -Y``, libsodium). Signatures are detached and
raw (64 bytes), over the exact bytes of the file they sign. Keys travel as
PEM (PKCS#8 private, SubjectPublicKeyInfo public). A key's fingerprint is
``sha256:`` and the hex sha256 of its raw 32-byte public key.
"""

from __future__ import annotations

import hashlib
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FINGERPRINT_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


class BadKey(ValueError):
    """A key that cannot be read as an Ed25519 key."""


def generate_private_pem() -> bytes:
    """A new private key as unencrypted PKCS#8 PEM."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private(pem: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise BadKey(f"not a readable private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BadKey("the private key is not an Ed25519 key")
    return key


def load_public(pem: bytes) -> Ed25519PublicKey:
    """A public key from PEM (or an OpenSSH ``ssh-ed25519`` line)."""
    key: object
    try:
        if pem.lstrip().startswith(b"ssh-ed25519"):
            key = serialization.load_ssh_public_key(pem.strip())
        else:
            key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, IndexError) as exc:
        raise BadKey(f"not a readable public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BadKey("the public key is not an Ed25519 key")
    return key


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def fingerprint(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"sha256:{hashlib.sha256(raw).hexdigest()}"


def sign(key: Ed25519PrivateKey, data: bytes) -> bytes:
    return key.sign(data)


def verify(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
