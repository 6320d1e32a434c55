"""Secrets at rest and in records: Fernet encryption, opaque tokens, redaction."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .config import SettingsError

REDACTED = "[redacted]"
MAX_STRING = 500
_HKDF_INFO = b"connector-gateway credentials v1"
_SECRET_KEY = re.compile(
    r"pass(word|wd)?|secret|token|api[-_]?key|apikey|authori[sz]ation|credential|cookie|"
    r"private[-_]?key|session|signature|bearer",
    re.IGNORECASE,
)
#: Tokens this gateway issues: redacted wherever they appear in a string.
_OWN_TOKEN = re.compile(r"gw(mcp|tok)_[A-Za-z0-9_-]{20,}")


class DecryptionError(Exception):
    """Stored ciphertext cannot be decrypted with the configured key(s)."""


def _fernet(key: str) -> Fernet:
    raw = key.strip()
    try:
        if len(base64.urlsafe_b64decode(raw.encode())) == 32 and len(raw) == 44:
            return Fernet(raw.encode())
    except (binascii.Error, ValueError):
        pass
    if len(raw) < 32:
        raise SettingsError(
            "GATEWAY_SECRET_KEY must be a Fernet key or a string of at least 32 characters"
        )
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        raw.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


class SecretBox:
    """Encrypts JSON values with Fernet. `key` may hold several keys separated by commas: the
    first encrypts, all decrypt (key rotation with MultiFernet)."""

    def __init__(self, key: str) -> None:
        keys = [part for part in key.split(",") if part.strip()] if key else []
        if not keys:
            raise SettingsError("GATEWAY_SECRET_KEY is empty")
        self._fernet = MultiFernet([_fernet(part) for part in keys])

    def __repr__(self) -> str:
        return "SecretBox([hidden])"

    def encrypt_json(self, value: Any) -> bytes:
        return self._fernet.encrypt(json.dumps(value, separators=(",", ":")).encode())

    def decrypt_json(self, blob: bytes) -> Any:
        try:
            return json.loads(self._fernet.decrypt(bytes(blob)))
        except InvalidToken:
            raise DecryptionError(
                "stored credentials cannot be decrypted with GATEWAY_SECRET_KEY "
                "(wrong or rotated-out key)"
            ) from None

    def rotate(self, blob: bytes) -> bytes:
        return self._fernet.rotate(bytes(blob))


def new_token(prefix: str) -> str:
    """An opaque bearer token: `prefix` + 256 random bits (URL-safe)."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database keeps of a token: hex SHA-256 (tokens are high-entropy)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def mask_tokens(text: str) -> str:
    """`text` with every token this gateway issues replaced by "[redacted]"."""
    return _OWN_TOKEN.sub(REDACTED, text)


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def redact(value: Any, _key: str | None = None) -> Any:
    """A JSON-like copy of `value` safe to record: values under secret-looking keys become
    "[redacted]" (booleans and nulls stay, they say nothing), tokens this gateway issues are
    masked wherever they appear, strings longer than 500 characters are clipped."""
    if (
        _key is not None
        and is_secret_key(_key)
        and value is not None
        and not isinstance(value, bool)
    ):
        return REDACTED
    if isinstance(value, dict):
        return {str(k): redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    if isinstance(value, str):
        text = _OWN_TOKEN.sub(REDACTED, value)
        if len(text) > MAX_STRING:
            text = text[:MAX_STRING] + f"...[{len(text) - MAX_STRING} more]"
        return text
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact(str(value))
