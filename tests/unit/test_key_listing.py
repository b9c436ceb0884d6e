"""Listing keys for an operator: users, roles and teams, revoked ones on request, never a secret."""

from __future__ import annotations

from pathlib import Path

from core.access import Role
from core.catalog import Database
from core.catalog.audit import AuditTrail
from core.catalog.keys import KeyRing


def test_entries_list_live_keys_and_revoked_ones_on_request(tmp_path: Path) -> None:
    db = Database.connect(f"sqlite:///{tmp_path / 'catalog.db'}")
    try:
        keys = KeyRing(db, AuditTrail(db))
        ana = keys.issue("ana", Role.AGENT, ("support",))
        root = keys.issue("root", Role.ADMIN, ())
        keys.revoke(ana.key_id, actor="cli:op")
        live = keys.entries()
        assert [(k.key_id, k.user, k.role, k.teams) for k in live] == [(root.key_id, "root", Role.ADMIN, ())]
        every = {k.key_id: k for k in keys.entries(include_revoked=True)}
        assert every[ana.key_id].revoked_at is not None and every[ana.key_id].teams == ("support",)
        assert all(ana.secret not in repr(k) for k in every.values())
    finally:
        db.close()
