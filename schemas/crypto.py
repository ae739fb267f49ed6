"""Ed25519 signatures and X25519 sealed boxes (libsodium via PyNaCl), keys as base64url text."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final, TypeVar

import nacl.exceptions
import nacl.public
import nacl.signing
from pydantic import BaseModel

from intentcast.schemas.canonical import signing_bytes
from intentcast.schemas.errors import SchemaError, SignatureError
from intentcast.schemas.reasons import ReasonCode

__all__ = [
    "SealingKey",
    "SigningKey",
    "b64d",
    "b64e",
    "seal",
    "sign_model",
    "verify_model",
    "verify_signature",
]

M = TypeVar("M", bound=BaseModel)

_B64URL: Final = re.compile(r"[A-Za-z0-9_-]*")
KEY_BYTES: Final = 32
SIGNATURE_BYTES: Final = 64


def b64e(data: bytes) -> str:
    """base64url without padding: the text form of every key, signature and sealed box."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    """Inverse of :func:`b64e`; refuses padding, other alphabets and non-canonical trailing bits.

    Refusing the non-canonical spellings matters: otherwise two texts would name one key or
    signature, and a message's hash could be changed without touching its signature.
    """
    if not isinstance(text, str) or _B64URL.fullmatch(text) is None or len(text) % 4 == 1:
        raise SchemaError(ReasonCode.SCHEMA_INVALID, "not unpadded base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise SchemaError(ReasonCode.SCHEMA_INVALID, "not unpadded base64url") from None
    if b64e(raw) != text:
        raise SchemaError(ReasonCode.SCHEMA_INVALID, "non-canonical base64url")
    return raw


class SigningKey:
    """An Ed25519 private key; customers make one per intent, vendors keep one per profile."""

    __slots__ = ("_key",)

    def __init__(self, key: nacl.signing.SigningKey) -> None:
        self._key = key

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh random key."""
        return cls(nacl.signing.SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        """Rebuild a key from its 32-byte seed (deterministic: used by test vectors)."""
        if len(seed) != KEY_BYTES:
            raise SchemaError(ReasonCode.SCHEMA_INVALID, "Ed25519 seed must be 32 bytes")
        return cls(nacl.signing.SigningKey(bytes(seed)))

    @property
    def seed(self) -> bytes:
        """The 32-byte secret seed; keep it secret."""
        return bytes(self._key)

    @property
    def public_key(self) -> str:
        """base64url of the 32-byte verify key, as carried in messages."""
        return b64e(bytes(self._key.verify_key))

    def sign(self, data: bytes) -> str:
        """Detached 64-byte signature over ``data``, base64url."""
        return b64e(self._key.sign(data).signature)

    def __repr__(self) -> str:  # never print the seed
        return f"SigningKey(public_key={self.public_key!r})"


def verify_signature(public_key: str, data: bytes, signature: str) -> None:
    """Raise :class:`SignatureError` unless ``signature`` by ``public_key`` covers ``data``."""
    if not signature:
        raise SignatureError(detail="message is not signed")
    try:
        key = b64d(public_key)
        sig = b64d(signature)
    except SchemaError as exc:
        raise SignatureError(detail=f"bad key or signature encoding ({exc.detail})") from None
    if len(key) != KEY_BYTES or len(sig) != SIGNATURE_BYTES:
        raise SignatureError(detail="key must be 32 bytes and signature 64 bytes")
    try:
        nacl.signing.VerifyKey(key).verify(data, sig)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError):
        raise SignatureError(detail="signature does not verify") from None


def sign_model(model: M, key: SigningKey) -> M:
    """A copy of ``model`` whose ``signature`` covers its :func:`signing_bytes`."""
    signature = key.sign(signing_bytes(model))
    return model.model_copy(update={"signature": signature})


def verify_model(model: BaseModel, public_key: str) -> None:
    """Raise :class:`SignatureError` unless ``model.signature`` verifies with ``public_key``."""
    signature = getattr(model, "signature", "")
    verify_signature(public_key, signing_bytes(model), signature)


class SealingKey:
    """An X25519 private key; one per intent, so only that intent's owner can read its offers."""

    __slots__ = ("_key",)

    def __init__(self, key: nacl.public.PrivateKey) -> None:
        self._key = key

    @classmethod
    def generate(cls) -> SealingKey:
        """A fresh random key."""
        return cls(nacl.public.PrivateKey.generate())

    @classmethod
    def from_bytes(cls, raw: bytes) -> SealingKey:
        """Rebuild a key from its 32 raw bytes."""
        if len(raw) != KEY_BYTES:
            raise SchemaError(ReasonCode.SCHEMA_INVALID, "X25519 private key must be 32 bytes")
        return cls(nacl.public.PrivateKey(bytes(raw)))

    @property
    def raw(self) -> bytes:
        """The 32 secret bytes; keep them secret."""
        return bytes(self._key)

    @property
    def public_key(self) -> str:
        """base64url of the 32-byte X25519 public key, as carried in an intent."""
        return b64e(bytes(self._key.public_key))

    def open(self, sealed: str) -> bytes:
        """Decrypt a sealed box addressed to this key, or raise :class:`SchemaError`."""
        box = b64d(sealed)
        try:
            return bytes(nacl.public.SealedBox(self._key).decrypt(box))
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            raise SchemaError(ReasonCode.SCHEMA_INVALID, "cannot open sealed box") from None

    def __repr__(self) -> str:  # never print the secret
        return f"SealingKey(public_key={self.public_key!r})"


def seal(public_key: str, data: bytes) -> str:
    """Encrypt ``data`` so that only the holder of ``public_key``'s private half can read it.

    A sealed box uses a fresh ephemeral key, so the broker learns nothing and the result is
    different every time.
    """
    key = b64d(public_key)
    if len(key) != KEY_BYTES:
        raise SchemaError(ReasonCode.SCHEMA_INVALID, "X25519 public key must be 32 bytes")
    return b64e(bytes(nacl.public.SealedBox(nacl.public.PublicKey(key)).encrypt(data)))
