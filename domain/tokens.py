"""Keyed tokens of identifying values (HMAC-SHA256 under the hub's secret): what stands in for a
NIK or a source record's key wherever the value itself must not go (Kafka keys, lookups, audit).
Never an unkeyed hash: 16 digits with a known structure are brute-forced in seconds."""

from __future__ import annotations

import base64
import hmac
import os
from pathlib import Path

SECRET_BYTES = 32


class SecretError(ValueError):
    """The secret file is missing, unreadable or too short; the message names the file."""


def _b32(digest: bytes, n: int = 26) -> str:
    # Base32 writes 8 characters per 5 bytes: only the groups the first n characters need are
    # encoded (the same characters, in half the time for a token).
    return base64.b32encode(digest[: -(-n // 8) * 5]).decode().rstrip("=")[:n]


class Tokens:
    """Keyed tokens under one secret."""

    def __init__(self, secret: bytes):
        if len(secret) < 16:
            raise SecretError("the token secret must be at least 16 bytes")
        self._secret = secret

    def __repr__(self) -> str:
        return "Tokens(<secret>)"

    def digest(self, purpose: str, value: str) -> bytes:
        """HMAC-SHA256 of `value` for one purpose (tokens of different purposes never collide)."""
        return hmac.digest(self._secret, f"{purpose}\0{value}".encode(), "sha256")  # one-shot: C

    def nik(self, nik: str) -> str:
        """The token of a NIK: 'N' + 26 base32 characters (130 bits)."""
        return "N" + _b32(self.digest("nik", nik.strip()))

    def record(self, agency: str, table: str, record_id: str) -> str:
        """The token of a source record (agency, table, primary key): 'R' + 26 base32 chars.
        Agency and table are case-folded, as topics name them; the key is kept as recorded."""
        return "R" + _b32(self.digest("record", f"{agency.lower()}:{table.lower()}:{record_id}"))


def load_secret(path: Path, *, create: bool = False) -> bytes:
    """The secret in `path` (raw bytes); with `create`, a new random one is written (mode 0600)
    when the file does not exist yet."""
    if create and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(SECRET_BYTES))
    try:
        secret = path.read_bytes()
    except OSError as e:
        raise SecretError(f"{path}: {e.strerror}") from None
    if len(secret) < 16:
        raise SecretError(f"{path}: the token secret must be at least 16 bytes")
    return secret
