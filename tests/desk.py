"""Helpers for the admin tests: users in the election-night groups, and the ballot page's form."""

from __future__ import annotations

import html as html_lib
import re

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from results.models import Ballot

PASSWORD = "correct horse battery staple"


def staff(username: str, group: str | None = "Data desk", *, password: bool = False) -> object:
    """A staff user in one of the groups created by migration 0004 ("Data desk", "Live editors").

    Without ``password`` it has none (tests log it in with ``client_for``), which
    spares each test the cost of hashing one.
    """
    user = get_user_model().objects.create_user(
        username, password=PASSWORD if password else None, is_staff=True
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def entry_url(ballot: Ballot) -> str:
    return f"/admin/results/ballot/{ballot.pk}/change/"


def form_data(
    ballot: Ballot,
    *,
    version: int | None = None,
    counted=None,
    rejected=None,
    electorate=None,
    lot: tuple[str, ...] = (),
    reason: str = "",
    **votes_by_surname,
) -> dict:
    """The ballot page's fields: votes by surname (``Able="600"``), counts, lot winners by surname."""
    ballot.refresh_from_db()
    by_surname = {c.person_name.split()[-1]: c.pk for c in ballot.candidacies.all()}
    data = {"version": ballot.version if version is None else version, "reason": reason}
    for surname, value in votes_by_surname.items():
        data[f"votes_{by_surname[surname]}"] = "" if value is None else str(value)
    for surname in lot:
        data[f"lot_{by_surname[surname]}"] = "on"
    for name, value in (
        ("ballot_papers_counted", counted),
        ("rejected_ballots", rejected),
        ("electorate", electorate),
    ):
        data[name] = "" if value is None else str(value)
    return data


def previewed(response) -> str:
    """The preview's fingerprint, which the confirm button sends back."""
    match = re.search(r'name="previewed" value="([^"]*)"', response.content.decode())
    assert match, "no preview fingerprint on the page"
    return match.group(1)


def preview_and_confirm(client: Client, ballot: Ballot, data: dict):
    """Press Preview, then Confirm on what was previewed; returns the confirm response."""
    shown = client.post(entry_url(ballot), {**data, "_preview": "1"})
    assert shown.status_code == 200, shown.content.decode()[:2000]
    return client.post(entry_url(ballot), {**data, "previewed": previewed(shown), "_confirm": "1"})


def row_html(response, candidacy_pk: int) -> str:
    """The HTML of one candidate's row on the ballot page."""
    html = response.content.decode()
    match = re.search(rf'<tr[^>]*id="row-{candidacy_pk}".*?</tr>', html, re.S)
    assert match, f"no row for candidacy {candidacy_pk}"
    return match.group(0)


def field_errors(response, field: str) -> list[str]:
    """Error messages Django shows for a field of the ballot page's form."""
    form = response.context["form"]
    return list(form.errors.get(field, []))


def text(response) -> str:
    """The page as text, whitespace collapsed, tags removed: what a reader sees."""
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", response.content.decode(), flags=re.S)
    html = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", html_lib.unescape(html)).strip()
