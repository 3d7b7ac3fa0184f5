"""Formatting for the live pages: times in London, shares, signed changes, chart geometry.

static/live/render.js formats the same way in the browser; keep the two alike.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django import template

register = template.Library()
LONDON = ZoneInfo("Europe/London")
CHART_WIDTH = 500  # SVG user units: 15-unit labels stay readable from a phone (0.7x) to 600 px (1.2x)


@register.filter
def london_time(value: str | None) -> str:
    """An ISO datetime from the API as the seed shows it: "12:33"."""
    if not value:
        return ""
    return dt.datetime.fromisoformat(value).astimezone(LONDON).strftime("%H:%M")


@register.filter
def london_datetime(value: str | None) -> str:
    """For a <time> element's title: "12:33, 5 May 2023"."""
    if not value:
        return ""
    moment = dt.datetime.fromisoformat(value).astimezone(LONDON)
    return f"{moment:%H:%M}, {moment.day} {moment:%B %Y}"


@register.filter
def percent(value: float | None) -> str:
    """A share from 0 to 1 as "45.1%"."""
    return "" if value is None else f"{value * 100:.1f}%"


@register.filter
def thousands(value: int | None) -> str:
    """Votes as the seed prints them: "9,987"; "–" when not published."""
    return "–" if value is None else f"{value:,}"


@register.filter
def signed(value: int | None) -> str:
    """A change: "+4", "−5" (a real minus sign), "0"."""
    if not value:
        return "0"
    return f"+{value}" if value > 0 else f"\u2212{-value}"


@register.filter
def mayor_line(ballot: dict) -> str:
    """A declared mayoralty's key point: "Labour hold Mayor of Mansfield: Andy Abrahams elected";
    "" until it is declared. Without a previous winner there is no change headline: its label leads."""
    if ballot["status"] not in ("DECLARED", "UNCONTESTED"):
        return ""
    winners = " and ".join(c["name"] for c in ballot["candidacies"] if c["elected"])
    lead = ballot["changes"][0]["headline"] if ballot["changes"] else ballot["label"]
    return f"{lead}: {winners} elected"


@register.filter
def paragraphs(text: str) -> list[str]:
    """A post's body: paragraphs are separated by blank lines."""
    return [p.strip() for p in text.split("\n\n") if p.strip()]


@register.filter
def status_label(status: str) -> str:
    return {
        "AWAITING": "Awaiting count",
        "COUNTING": "Counting",
        "RECOUNT": "Recount",
        "DECLARED": "Declared",
        "UNCONTESTED": "Uncontested",
        "POSTPONED": "Postponed",
    }.get(status, status)


@register.filter
def stacked(composition: list[dict]) -> list[dict]:
    """A council card's small bar: each party's seats with where its segment starts."""
    x, rows = 0, []
    for row in composition:
        if row["seats"] > 0:
            rows.append({**row, "x": x})
            x += row["seats"]
    return rows


@register.simple_tag
def composition_chart(election: dict) -> dict:
    """Two stacked bars (seats before the poll, seats now) and where the majority line falls.

    Positions are in SVG units of a CHART_WIDTH-wide bar, one segment per party
    (largest first, as the API orders them), plus the seats still to declare.
    """
    total = election["seatsTotal"] or 1

    def bar(rows):
        x, segments = 0.0, []
        for label, abbreviation, colour, seats in rows:
            if seats <= 0:
                continue
            width = seats / total * CHART_WIDTH
            segments.append(
                {
                    "x": round(x, 2),
                    "width": round(width, 2),
                    "colour": colour,
                    "label": label,
                    "abbreviation": abbreviation,
                    "seats": seats,
                    "labelled": width >= 60,
                    "label_x": round(x + 6, 2),
                }
            )
            x += width
        return segments

    parties = election["composition"]
    before = bar(
        (r["party"]["shortName"], r["party"]["abbreviation"], r["party"]["colour"], r["seatsBefore"])
        for r in sorted(parties, key=lambda r: -r["seatsBefore"])
    )
    now = bar(
        [
            (r["party"]["shortName"], r["party"]["abbreviation"], r["party"]["colour"], r["seats"])
            for r in parties
        ]
        + [("To declare", "", "", election["seatsToDeclare"])]
    )
    return {
        "before": before,
        "now": now,
        "half_x": CHART_WIDTH // 2,
    }
