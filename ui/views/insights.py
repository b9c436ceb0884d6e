"""Insights: adoption and quality over time, from GET /v1/insights, filtered by team and dates."""

from __future__ import annotations

import contextlib
import datetime as dt

import altair as alt
import httpx
import pandas as pd
import streamlit as st

from ui import session
from ui.client import ApiError, Json

ALL_TEAMS = "All teams"


def render() -> None:
    st.title("Insights")
    team, since, until = _filters()
    try:
        data = session.client().insights(team=team, since=since.isoformat(), until=until.isoformat())
    except (ApiError, httpx.HTTPError) as exc:
        session.show_error(exc, "load the insights")
        return
    _totals(data.get("totals") or {})
    days = pd.DataFrame(data.get("days") or [])
    if days.empty:
        st.info("No questions in this period.")
    else:
        _over_time(days)
    _templates(data.get("templates") or [])
    _usage(data.get("usage") or [])
    _quality()


def _quality() -> None:
    """Each collection's golden cases over time, the scheduled runs against the live model; a
    change of model or template version is marked, a drop past the tolerance flagged."""
    st.subheader("Golden cases over time")
    try:
        client = session.client()
        found, models = client.quality(), client.models()
    except (ApiError, httpx.HTTPError) as exc:
        session.show_error(exc, "load the quality runs")
        return
    live: Json = next((m for m in models["models"] if m["live"]), {})
    passed = f"; the eval it passed: {live['eval']}" if live.get("eval") else ""
    st.caption(
        f"Live embedding model: **{models['live']}** (each answer's provenance names the model that "
        f"retrieved it){passed}."
    )
    for name in found.get("flagged") or []:
        st.warning(
            f"{name}: the last run dropped by more than {found['tolerance']:.0%} (see the audit trail)."
        )
    points = pd.DataFrame(found.get("points") or [])
    if points.empty:
        every = found.get("interval_s") or 0
        st.caption("No run yet." + ("" if every else " The schedule is off (SOURCEBOOK_QUALITY_INTERVAL_S)."))
        return
    points = points.assign(at=pd.to_datetime(points["at"]), versions=points["templates"].map(str))
    collection = st.selectbox("Collection", sorted(points["collection"].unique()), key="quality-collection")
    mine = points[points["collection"] == collection].sort_values("at")
    rates = mine.set_index("at")[["correct", "gold_cited", "refused"]].rename(
        columns={"correct": "answer correct", "gold_cited": "gold cited", "refused": "refused"}
    )
    long = rates.reset_index().melt("at", var_name="series", value_name="rate").dropna()
    lines = (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("at:T", title=None),
            y=alt.Y("rate:Q", axis=alt.Axis(format=".0%")),
            color=alt.Color("series:N", title=None),
            tooltip=["at:T", "series:N", alt.Tooltip("rate:Q", format=".0%")],
        )
    )
    changed = mine[(mine["model"] != mine["model"].shift()) | (mine["versions"] != mine["versions"].shift())]
    marks = (
        alt.Chart(changed)
        .mark_rule(strokeDash=[4, 4], color="gray")
        .encode(x="at:T", tooltip=["model:N", alt.Tooltip("versions:N", title="templates")])
    )
    st.altair_chart(lines + marks, width="stretch")


def _filters() -> tuple[str | None, dt.date, dt.date]:
    today = dt.date.today()
    teams = set(session.me().get("teams") or [])
    with contextlib.suppress(ApiError, httpx.HTTPError):  # an admin has no team but sees all
        teams |= {c["team"] for c in session.client().collections()}
    left, right = st.columns(2)
    team = left.selectbox("Team", [ALL_TEAMS, *sorted(teams)], key="insights-team")
    picked = right.date_input(
        "Dates", value=(today - dt.timedelta(days=29), today), max_value=today, key="insights-dates"
    )
    dates = list(picked) if isinstance(picked, tuple | list) else [picked]
    since = dates[0] if dates else today - dt.timedelta(days=29)
    until = dates[1] if len(dates) > 1 else since
    return (None if team == ALL_TEAMS else team), since, until


def _percent(value: object) -> str:
    return f"{float(value):.0%}" if isinstance(value, int | float) else "–"


def _ms(value: object) -> str:
    return f"{float(value):.0f} ms" if isinstance(value, int | float) else "–"


def _totals(totals: Json) -> None:
    cells = st.columns(7)
    cells[0].metric("Questions", totals.get("questions", 0))
    cells[1].metric("Active users", totals.get("active_users", 0))
    cells[2].metric("Helpful", _percent(totals.get("helpful_rate")), help="Of the answers rated.")
    cells[3].metric("Refused", _percent(totals.get("refusal_rate")))
    cells[4].metric("Escalated", _percent(totals.get("escalation_rate")), help="Refused or flagged.")
    cells[5].metric("Latency p50", _ms(totals.get("p50_ms")))
    cells[6].metric("Latency p95", _ms(totals.get("p95_ms")))


def _over_time(days: pd.DataFrame) -> None:
    days = days.assign(date=pd.to_datetime(days["date"])).set_index("date").sort_index()
    rated = (days["helpful"] + days["unhelpful"]).where(lambda n: n > 0)
    asked = days["questions"].where(lambda n: n > 0)
    rates = pd.DataFrame(
        {
            "helpful rate": days["helpful"] / rated,
            "refusal rate": days["refusals"] / asked,
            "escalation rate": days["escalations"] / asked,
        }
    )
    left, right = st.columns(2)
    with left:
        st.subheader("Questions and active users per day")
        _lines(days[["questions", "active_users"]].rename(columns={"active_users": "active users"}), "count")
        st.subheader("Latency (ms)")
        _lines(days[["p50_ms", "p95_ms"]].rename(columns={"p50_ms": "p50", "p95_ms": "p95"}), "ms")
    with right:
        st.subheader("Helpful, refusal and escalation rates")
        _lines(rates, "rate", percent=True)


def _lines(frame: pd.DataFrame, unit: str, *, percent: bool = False) -> None:
    """One line per column over the dates, with points so a single day still shows."""
    long = frame.reset_index().melt("date", var_name="series", value_name=unit).dropna()
    axis = alt.Axis(format=".0%") if percent else alt.Axis()
    chart = (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("date:T", title=None),
            y=alt.Y(f"{unit}:Q", axis=axis),
            color=alt.Color("series:N", title=None),
            tooltip=["date:T", "series:N", alt.Tooltip(f"{unit}:Q", format=".0%" if percent else ",.0f")],
        )
    )
    st.altair_chart(chart, width="stretch")


def _templates(templates: list[Json]) -> None:
    st.subheader("Questions per template")
    if not templates:
        st.caption("No template was used in this period.")
        return
    frame = pd.DataFrame(templates)
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("questions:Q", title="questions"),
            y=alt.Y("title:N", sort="-x", title=None),
            tooltip=["title", "questions", alt.Tooltip("helpful_rate:Q", format=".0%")],
        )
    )
    st.altair_chart(chart, width="stretch")


def _usage(usage: list[Json]) -> None:
    st.subheader("Usage per user and team")
    if not usage:
        st.caption("No usage in this period.")
        return
    columns = st.columns(2)
    for column, who in zip(columns, ("user", "team"), strict=True):
        rows = [
            {who: row[who], "requests": row["requests"], "credits": row.get("credits")}
            for row in usage
            if who in row
        ]
        with column:
            st.markdown(f"**Per {who}**")
            if not rows:
                st.caption(f"No usage per {who}.")
                continue
            frame = pd.DataFrame(rows)
            st.bar_chart(frame.set_index(who)[["requests"]])
            st.dataframe(frame, hide_index=True, width="stretch")
