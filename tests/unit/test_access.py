"""Roles, teams and API keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.access import Action, Principal, Role
from core.catalog import Catalog
from core.catalog.audit import AuditTrail
from core.catalog.keys import KeyRing
from core.errors import Forbidden, InvalidInput, Unauthorized


def test_roles_grant_what_their_users_need() -> None:
    agent = Principal("ann", Role.AGENT, ("support",))
    agent.require(Action.READ, team="support")
    with pytest.raises(Forbidden, match="the agent role may not upload"):
        agent.require(Action.UPLOAD, team="support")
    manager = Principal("kim", Role.KNOWLEDGE_MANAGER, ("support",))
    manager.require(Action.UPLOAD, team="support")
    with pytest.raises(Forbidden, match="not a member of team 'legal'"):
        manager.require(Action.UPLOAD, team="legal")
    assert Principal("root", Role.ADMIN, ()).visible_teams is None
    assert agent.visible_teams == ("support",)


def test_keys_are_shown_once_stored_hashed_and_revocable(tmp_path: Path) -> None:
    catalog = Catalog.connect(f"sqlite:///{tmp_path / 'c.db'}")
    keys = KeyRing(catalog.db, AuditTrail(catalog.db), cache_s=0)
    issued = keys.issue("ann", Role.AGENT, ("support",))
    assert keys.authenticate(issued.secret) == Principal("ann", Role.AGENT, ("support",))
    with catalog.engine.connect() as conn:
        stored = conn.exec_driver_sql("select key_hash from api_keys").scalar_one()
    assert issued.secret not in stored and len(stored) == 64
    keys.revoke(issued.key_id)
    with pytest.raises(Unauthorized, match="unknown or revoked API key"):
        keys.authenticate(issued.secret)
    with pytest.raises(Unauthorized, match="malformed API key"):
        keys.authenticate("hello")
    with pytest.raises(InvalidInput, match="needs at least one team"):
        keys.issue("bob", Role.AGENT, ())
    catalog.close()
