"""Templates, answers, feedback, overrides and golden cases in the catalog, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from alembic.migration import MigrationContext
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from core.catalog import Catalog
from core.catalog.answers import AnswerLog, AnswerRecord
from core.catalog.audit import AuditTrail
from core.catalog.feedback import Feedback, FeedbackLog
from core.catalog.golden import GoldenSets
from core.catalog.models import AnswerRow, Base, TemplateRow
from core.catalog.overrides import Overrides
from core.catalog.review import ReviewQueue
from core.catalog.templates import SEEDER, TemplateStore
from core.errors import Conflict, NotFound
from core.insights import percentile, summarise


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    found = Catalog.connect(catalog_url)
    yield found
    found.close()


def test_the_migrations_build_exactly_the_models(catalog: Catalog) -> None:
    from alembic.autogenerate import compare_metadata

    with catalog.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def _body(title: str) -> dict[str, Any]:
    return {"id": "reset", "title": title, "fields": [], "question": "How do I reset it?"}


def test_every_template_change_is_a_new_audited_version(catalog: Catalog) -> None:
    store = TemplateStore(catalog.db, AuditTrail(catalog.db))
    assert store.create(_body("Reset"), "support", "kim").version == 1
    with pytest.raises(Conflict, match="the template id 'reset' is taken: choose another id"):
        store.create(_body("Again"), "finance", "fay")
    assert store.update("reset", _body("Reset a thermostat"), "kim").version == 2
    assert store.get("reset", 1).body["title"] == "Reset"
    assert store.get("reset").body["title"] == "Reset a thermostat"
    assert store.versions("reset") == [1, 2]
    with pytest.raises(NotFound, match="template 'reset' has no version 7"):
        store.get("reset", 7)
    with pytest.raises(NotFound, match="no template 'nope'"):
        store.update("nope", _body("x"), "kim")
    store.retire("reset", "kim")
    assert store.latest() == [] and [t.retired for t in store.latest(include_retired=True)] == [True]
    assert store.update("reset", _body("Back"), "kim").version == 3  # a change brings it back
    assert [(t.version, t.team) for t in store.latest()] == [(3, "support")]  # the team stays
    assert store.latest(teams=("finance",)) == [] and len(store.latest(teams=("support",))) == 1
    actions = [e.action for e in AuditTrail(catalog.db).entries() if e.action.startswith("template.")]
    assert actions == ["template.create", "template.update", "template.retire", "template.update"]
    with pytest.raises(IntegrityError):  # a version is never rewritten
        _rewrite_version_one(catalog)


def _rewrite_version_one(catalog: Catalog) -> None:
    with catalog.session() as s:
        s.add(TemplateRow(id="reset", version=1, body={}, retired=False, updated_by="x"))


def test_seeding_adds_and_updates_shipped_templates_but_never_a_persons_change(catalog: Catalog) -> None:
    store = TemplateStore(catalog.db, AuditTrail(catalog.db))
    assert store.seed([(_body("Reset"), None)]) == ["reset"]
    assert store.seed([(_body("Reset"), None)]) == []  # unchanged: nothing written
    assert store.seed([(_body("Reset v2"), None)]) == ["reset"]
    assert (store.get("reset").version, store.get("reset").updated_by, store.get("reset").team) == (
        2,
        SEEDER,
        None,  # global: offered to every team
    )
    store.update("reset", _body("Our own words"), "kim")
    assert store.seed([(_body("Reset v3"), None)]) == []
    assert store.get("reset").body["title"] == "Our own words"


def _answer(log: AnswerLog, user: str, teams: tuple[str, ...], key: str = "k", **kw: Any) -> str:
    fields: dict[str, Any] = {
        "user": user,
        "teams": teams,
        "collections": ["kb"],
        "question": "How do I reset it?",
        "scope_key": key,
        "template": None,
        "answer": {"text": "Hold the dial. [1]", "citations": []},
        "refused": False,
        "escalate": False,
        "latency_ms": 10.0,
        "cached": False,
        "override_id": None,
    }
    return log.record(**(fields | kw))


def test_review_overrides_and_golden_cases_stay_in_their_teams(catalog: Catalog) -> None:
    log, feedback, overrides = AnswerLog(catalog.db), FeedbackLog(catalog.db), Overrides(catalog.db)
    queue = ReviewQueue(catalog.db, AuditTrail(catalog.db))
    asked = _answer(log, "ann", ("support",), template=("reset", 2, {"product": "T200"}))
    assert log.get(asked).template_version == 2
    helpful = feedback.add(asked, "ann", helpful=True, reason=None, flagged=False, comment=None)
    unhelpful = feedback.add(asked, "ann", helpful=False, reason="wrong", flagged=False, comment="no")
    assert (helpful.state, unhelpful.state) == ("none", "open")
    assert [i.feedback.id for i in queue.items("open", ("support",))] == [unhelpful.id]
    assert queue.items("open", ("legal",)) == []
    with pytest.raises(NotFound, match="no review item"):
        queue.item(unhelpful.id, ("legal",))
    with pytest.raises(NotFound, match="no review item"):
        queue.item(helpful.id, None)  # helpful and unflagged: not for review
    assert overrides.find("k") is None
    override = {"text": "Hold the dial for 10 seconds.", "citations": []}
    item = queue.review(
        unhelpful.id,
        "kim",
        verdict="wrong",
        correct_answer="Hold the dial for 10 seconds.",
        correct_sources=[],
        override=override,
        teams=("support",),
    )
    assert (item.feedback.state, item.feedback.reviewer) == ("closed", "kim")
    served = overrides.find("k")
    assert served is not None and served.answer == override and served.reviewer == "kim"
    queue.review(
        unhelpful.id,
        "kim",
        verdict="right",
        correct_answer=None,
        correct_sources=[],
        override=None,
        teams=None,
    )
    assert overrides.find("k") is None  # the reviewer took the approval back
    case = {"id": "review-1", "collection": "kb", "question": "q"}
    golden = GoldenSets(catalog.db, AuditTrail(catalog.db))
    assert golden.promote(unhelpful.id, "smoke", "support", case, "kim") == "review-1"
    again = case | {"id": "other"}
    assert golden.promote(unhelpful.id, "smoke", "support", again, "kim") == "review-1"  # once per set
    assert golden.names() == ["smoke"] and golden.cases("smoke") == [case]
    assert golden.names(("legal",)) == [] and golden.names(("support",)) == ["smoke"]
    with pytest.raises(NotFound, match="no golden set named 'smoke'"):
        golden.cases("smoke", ("legal",))  # a set's name is its team's own
    with pytest.raises(NotFound, match="no golden set named 'none'"):
        golden.cases("none")


def test_retention_purges_old_answers_but_not_an_approved_one(catalog: Catalog) -> None:
    log, feedback, overrides = AnswerLog(catalog.db), FeedbackLog(catalog.db), Overrides(catalog.db)
    queue = ReviewQueue(catalog.db, AuditTrail(catalog.db))
    old, approved, recent = (_answer(log, "ann", ("support",), key=k) for k in ("a", "b", "c"))
    flagged = feedback.add(approved, "ann", helpful=False, reason=None, flagged=True, comment=None)
    queue.review(
        flagged.id,
        "kim",
        verdict="right",
        correct_answer=None,
        correct_sources=[],
        override={"text": "ok", "citations": []},
        teams=None,
    )
    feedback.add(old, "ann", helpful=True, reason=None, flagged=False, comment=None)
    with catalog.session() as s:
        s.execute(
            update(AnswerRow)
            .where(AnswerRow.id.in_([old, approved]))
            .values(created_at=datetime(2020, 1, 1, tzinfo=UTC))
        )
    assert log.purge(datetime(2021, 1, 1, tzinfo=UTC)) == 1
    with pytest.raises(NotFound):
        log.get(old)
    assert log.get(approved) and log.get(recent) and overrides.find("b") is not None
    _, feedback_left = log.between(None, None)
    assert {f.answer_id for f in feedback_left} == {approved}  # the old answer's feedback went with it


def _record(n: int, day: date, user: str, latency: float, **kw: Any) -> AnswerRecord:
    fields: dict[str, Any] = {
        "id": f"a{n}",
        "user": user,
        "team": "support",
        "collections": ("kb",),
        "question": "q",
        "scope_key": "k",
        "template_id": None,
        "template_version": None,
        "values": None,
        "refused": False,
        "escalate": False,
        "answer": {},
        "latency_ms": latency,
        "cached": False,
        "override_id": None,
        "created_at": datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
    }
    return AnswerRecord(**(fields | kw))


def _vote(answer_id: str, helpful: bool, flagged: bool = False) -> Feedback:
    now = datetime.now(UTC)
    return Feedback(
        answer_id + str(helpful),
        answer_id,
        "ann",
        helpful,
        None,
        flagged,
        None,
        "open",
        None,
        None,
        (),
        None,
        None,
        now,
    )


def test_insights_count_a_known_set() -> None:
    d1 = date(2026, 11, 2)
    d3 = d1 + timedelta(days=2)
    answers = [
        _record(1, d1, "ann", 100, template_id="reset", template_version=1),
        _record(2, d1, "bob", 200, refused=True, escalate=True),
        _record(3, d1, "ann", 300, template_id="reset", template_version=1),
        _record(4, d3, "cy", 400),
    ]
    feedback = [_vote("a1", True), _vote("a3", False, flagged=True), _vote("a4", True)]
    found = summarise(answers, feedback, d1, d3)
    t = found.totals
    assert (t.questions, t.active_users) == (4, 3)
    assert (t.helpful_rate, t.refusal_rate, t.escalation_rate) == (0.6667, 0.25, 0.5)
    assert (t.p50_ms, t.p95_ms) == (200, 400)
    assert [(d.date.day, d.questions, d.active_users) for d in found.days] == [
        (2, 3, 2),
        (3, 0, 0),
        (4, 1, 1),
    ]
    first = found.days[0]
    assert (first.helpful, first.unhelpful, first.refusals, first.escalations) == (1, 1, 1, 2)
    assert (first.p50_ms, first.p95_ms) == (200, 300) and found.days[1].p50_ms is None
    [reset] = found.templates
    assert (reset.id, reset.questions, reset.helpful_rate) == ("reset", 2, 0.5)
    assert found.requests_by_user == {"ann": 2, "bob": 1, "cy": 1} and found.requests_by_team == {
        "support": 4
    }
    assert percentile([], 0.5) is None and percentile([5.0], 0.95) == 5.0


def test_the_migration_downgrades_to_0005_and_back(catalog: Catalog) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from core.catalog.catalog import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    new = {"templates", "answers", "feedback", "answer_overrides", "golden_cases"}
    with catalog.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    assert not new & set(inspect(catalog.engine).get_table_names())
    catalog.migrate()
    assert new <= set(inspect(catalog.engine).get_table_names())


def test_an_existing_catalog_gives_its_templates_and_golden_cases_a_team(catalog: Catalog) -> None:
    """A data folder made before templates and golden sets had teams keeps working: seeded and
    admin-made templates become global, a person's belongs to their team, a case to its collection's."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from core.catalog.catalog import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with catalog.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
    now = datetime.now(UTC)
    users = sa.table(
        "users", *(sa.column(c) for c in ("name", "role", "created_at")), sa.column("teams", sa.JSON)
    )
    templates = sa.table(
        "templates",
        *(sa.column(c) for c in ("id", "version", "retired", "updated_by", "updated_at")),
        sa.column("body", sa.JSON),
    )
    golden = sa.table(
        "golden_cases",
        *(sa.column(c) for c in ("id", "golden_set", "created_by", "created_at")),
        sa.column("body", sa.JSON),
    )
    with catalog.engine.begin() as conn:
        conn.execute(
            users.insert(),
            [
                {"name": "kim", "role": "knowledge_manager", "teams": ["support"], "created_at": now},
                {
                    "name": "max",
                    "role": "knowledge_manager",
                    "teams": ["finance", "legal"],
                    "created_at": now,
                },
                {"name": "root", "role": "admin", "teams": [], "created_at": now},
            ],
        )
        rows = [("reset", 1, SEEDER), ("reset", 2, "kim"), ("refunds", 1, "kim"), ("close", 1, "max")]
        rows += [("fees", 1, "max"), ("all", 1, "root"), ("gone", 1, "someone-deleted")]
        conn.execute(
            templates.insert(),
            [
                {
                    "id": i,
                    "version": v,
                    "retired": False,
                    "updated_by": by,
                    "updated_at": now,
                    "body": {"audience": ["legal"] if i == "fees" else []},
                }
                for i, v, by in rows
            ],
        )
        conn.execute(
            golden.insert(),
            [
                {
                    "id": "g1",
                    "golden_set": "smoke",
                    "created_by": "kim",
                    "created_at": now,
                    "body": {"collection": "kb"},
                },
                {
                    "id": "g2",
                    "golden_set": "smoke",
                    "created_by": "kim",
                    "created_at": now,
                    "body": {"collection": "x"},
                },
            ],
        )
    catalog.ensure_collection("kb", team="support")
    catalog.migrate()
    store = TemplateStore(catalog.db, AuditTrail(catalog.db))
    assert {t.id: t.team for t in store.latest()} == {
        "reset": None,  # seeded by Sourcebook: global, although a person changed it since
        "refunds": "support",  # its creator's only team
        "close": "finance",  # the first of its creator's teams
        "fees": "legal",  # the creator's team its audience names
        "all": None,  # an admin's: global
        "gone": None,  # a creator no longer known: global (an admin can see and change it)
    }
    sets = GoldenSets(catalog.db, AuditTrail(catalog.db))
    assert sets.names(("support",)) == ["smoke"] and len(sets.cases("smoke", ("support",))) == 1
    assert len(sets.cases("smoke")) == 2  # the case of a collection gone since: admins only
