"""Password hashing with argon2id, rehashed when the parameters change.

The parameters come from the settings (argon2-cffi's defaults, RFC 9106's low-memory profile, unless
set stronger); outside an app context those defaults are used.
"""
from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from api.settings import current_settings

_DEFAULT = PasswordHasher()  # argon2id, RFC 9106 low-memory profile


@lru_cache(maxsize=8)
def _hasher_for(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, type=Type.ID)


def current_hasher() -> PasswordHasher:
    """The hasher of the current app's settings, or argon2-cffi's defaults."""
    try:
        settings = current_settings()
    except (RuntimeError, KeyError):
        return _DEFAULT
    return _hasher_for(settings.argon2_time_cost, settings.argon2_memory_cost_kib, settings.argon2_parallelism)


def hash_password(password: str) -> str:
    return current_hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when the password matches; never raises for a wrong or malformed hash."""
    if not stored_hash:
        return False
    try:
        return current_hasher().verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with other parameters (or another variant) than the current ones."""
    return current_hasher().check_needs_rehash(stored_hash)
