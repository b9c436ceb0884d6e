"""API keys: shown once, stored as a SHA-256 of the secret, looked up by their public prefix.

Keys are 32 random bytes, so a fast hash is enough (a slow hash protects guessable passwords).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from core.access import Principal, Role
from core.catalog.audit import AuditTrail
from core.catalog.database import Database
from core.catalog.models import ApiKeyRow, UserRow
from core.errors import InvalidInput, NotFound, Unauthorized

PREFIX = "sb"


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key_id: str
    secret: str  # the whole key; exists only in this object, never stored
    user: str
    role: Role
    teams: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What an operator sees of a key: never its secret or hash."""

    key_id: str
    user: str
    role: Role
    teams: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyRing:
    """Issues and checks keys. A checked key is remembered for ``cache_s`` seconds, so a request
    costs no database write; a revocation therefore takes effect within that time."""

    def __init__(self, db: Database, audit: AuditTrail, cache_s: float = 30.0) -> None:
        self.db = db
        self.audit = audit
        self.cache_s = cache_s
        self._checked: dict[str, tuple[float, Principal]] = {}

    def issue(self, user: str, role: Role, teams: tuple[str, ...], *, actor: str = "system") -> IssuedKey:
        """A new key for ``user``, created if need be; a different role or team replaces theirs."""
        if role is not Role.ADMIN and not teams:
            raise InvalidInput("a key for a non-admin role needs at least one team")
        key_id = secrets.token_hex(6)
        secret = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        with self.db.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.name == user))
            before = None if row is None else (row.role, list(row.teams))
            if row is None:
                row = UserRow(name=user, role=role.value, teams=sorted(set(teams)))
                s.add(row)
                s.flush()
            else:
                row.role = role.value
                row.teams = sorted(set(row.teams) | set(teams))
            s.add(ApiKeyRow(id=key_id, user_id=row.id, key_hash=_hash(secret)))
            teams = tuple(row.teams)
        trail = self.audit
        trail.record(
            actor, "key.create", user, detail={"key_id": key_id, "role": role.value, "teams": list(teams)}
        )
        if before is not None and before != (role.value, list(teams)):
            trail.record(
                actor,
                "role.change",
                user,
                detail={
                    "from": {"role": before[0], "teams": before[1]},
                    "to": {"role": role.value, "teams": list(teams)},
                },
            )
        return IssuedKey(key_id, secret, user, role, teams)

    def authenticate(self, secret: str) -> Principal:
        digest = _hash(secret)
        cached = self._checked.get(digest)
        if cached is not None and time.monotonic() - cached[0] < self.cache_s:
            return cached[1]
        principal = self._authenticate(secret, digest)
        if len(self._checked) > 10_000:
            self._checked.clear()
        self._checked[digest] = (time.monotonic(), principal)
        return principal

    def _authenticate(self, secret: str, digest: str) -> Principal:
        parts = secret.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            raise Unauthorized("malformed API key")
        with self.db.session() as s:
            key = s.get(ApiKeyRow, parts[1])
            if key is None or key.revoked_at is not None or not hmac.compare_digest(key.key_hash, digest):
                raise Unauthorized("unknown or revoked API key")
            key.last_used_at = datetime.now(UTC)
            user = s.get(UserRow, key.user_id)
            assert user is not None  # the foreign key guarantees it
            return Principal(user.name, Role(user.role), tuple(user.teams))

    def revoke(self, key_id: str, *, actor: str = "system") -> None:
        with self.db.session() as s:
            key = s.get(ApiKeyRow, key_id)
            if key is None:
                raise NotFound(f"no API key {key_id!r}")
            key.revoked_at = datetime.now(UTC)
            user = s.get(UserRow, key.user_id)
            owner = user.name if user is not None else ""
        self._checked.clear()
        self.audit.record(actor, "key.revoke", owner, detail={"key_id": key_id})

    def entries(self, *, include_revoked: bool = False) -> list[KeyInfo]:
        """Every key with its user, role and teams, oldest first."""
        query = select(ApiKeyRow, UserRow).join(UserRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id)
        if not include_revoked:
            query = query.where(ApiKeyRow.revoked_at.is_(None))
        with self.db.session() as s:
            return [
                KeyInfo(
                    key.id,
                    user.name,
                    Role(user.role),
                    tuple(user.teams),
                    key.created_at,
                    key.last_used_at,
                    key.revoked_at,
                )
                for key, user in s.execute(query)
            ]

    def any_admin(self) -> bool:
        with self.db.session() as s:
            query = (
                select(ApiKeyRow.id)
                .join(UserRow)
                .where(UserRow.role == Role.ADMIN.value, ApiKeyRow.revoked_at.is_(None))
            )
            return s.scalar(query.limit(1)) is not None
