"""Rehearsal on the demo: its night replayed at full speed, and zero counts, through the API."""

import datetime as dt
import io
from collections import Counter

import pytest
from django.core.management import call_command

from demo import seed
from results import services
from results.models import Event
from schema import schema

from .api import full_queries, without_log_positions
from .cleanup import wipe_results
from .test_docs_queries import QUERIES

# Whole-state documents, far beyond the public limits (schema/limits.py).
pytestmark = pytest.mark.usefixtures("unbounded_documents")

POLL = "2023-05-04"
SAMPLE_BALLOTS = [
    "mayor.mansfield.2023-05-04",
    "local.ashfield.huthwaite-and-brierley.2023-05-04",
    "local.rushcliffe.riverside.2023-05-04",
    "local.rushcliffe.beacon.2023-05-04",
]


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        call_command("load_demo", stdout=io.StringIO())
    yield
    with django_db_blocker.unblock():
        wipe_results()


def every_answer() -> dict:
    docs = full_queries(POLL, SAMPLE_BALLOTS, [c.slug for c in seed.COUNCILS])
    docs.update(
        {
            f"docs:{name}": text
            for name, (_, text) in QUERIES.items()
            if name not in ("partner-poll", "cursor")
        }
    )
    out = {}
    for name, doc in docs.items():
        variables = QUERIES[name[5:]][0] if name.startswith("docs:") else None
        result = schema.execute_sync(doc, variable_values=variables)
        assert not result.errors, (name, result.errors)
        # The cursor of the page's subscription is the log's, not the data's: a replay appends to it.
        # The pages' rehearsal banner is the switch itself, checked through the extensions below.
        data = {k: v for k, v in result.data.items() if k not in ("lastEventId", "rehearsal")}
        out[name] = {"data": data, "extensions": result.extensions or {}}
    return out


def test_replaying_the_demos_night_at_full_speed_into_an_empty_database_ends_as_the_loaded_demo(loaded):
    expected = every_answer()
    assert all(a["extensions"] == {} for a in expected.values())
    wipe_results()  # an empty database (rolled back with the test)
    out = io.StringIO()
    call_command("replay_night", "--speed", "max", stdout=out)
    assert out.getvalue().startswith(
        "Loaded the demo's eve of the poll (councils, candidates, compositions).\n"
        "Rehearsal started for the poll of 2023-05-04: everything published is flagged.\n"
    )
    replayed = every_answer()
    assert without_log_positions({k: a["data"] for k, a in replayed.items()}) == without_log_positions(
        {k: a["data"] for k, a in expected.items()}
    )
    # The same data, and every answer says it is a rehearsal.
    assert {a["extensions"]["rehearsal"]["active"] for a in replayed.values()} == {True}
    started = Event.objects.get(kind="rehearsal_started")
    night = Event.objects.filter(id__gt=started.pk)
    assert Counter(night.values_list("kind", flat=True)) == {
        "ballot_declared": 412,
        "control_called": 21,
        "post_published": 19,
        "ballot_status": 5,
    }
    assert set(Event.objects.filter(id__gte=started.pk).values_list("rehearsal", flat=True)) == {True}
    assert not Event.objects.filter(id__lt=started.pk, rehearsal=True).exists()


# Rushcliffe's Beacon ward, awaiting its count, in ballot paper order (by surname).
BEACON = [("Donna Stevens", "PP52"), ("Barbara Walsh", "PP90"), ("Nigel Watson", "PP53")]

BALLOT = """query($id: ID!) { ballot(id: $id) { id status zeroCounts
  candidacies { name party { id } votes share elected electedByLot } } }"""


def test_zero_counts_on_the_demo_show_its_25_undeclared_ballots_at_zero(loaded):
    services.set_zero_counts(dt.date(2023, 5, 4))
    beacon = schema.execute_sync(BALLOT, variable_values={"id": "local.rushcliffe.beacon.2023-05-04"})
    assert beacon.data == {
        "ballot": {
            "id": "local.rushcliffe.beacon.2023-05-04",
            "status": "AWAITING",
            "zeroCounts": True,
            "candidacies": [
                {
                    "name": name,
                    "party": {"id": party},
                    "votes": 0,
                    "share": 0.0,
                    "elected": False,
                    "electedByLot": False,
                }
                for name, party in BEACON
            ],
        }
    }
    assert beacon.extensions == {
        "rehearsal": {
            "active": False,
            "label": "",
            "startedAt": None,
            "pollDate": None,
            "zeroCounts": "2023-05-04",
        }
    }
    riverside = schema.execute_sync(BALLOT, variable_values={"id": "local.rushcliffe.riverside.2023-05-04"})
    assert riverside.data["ballot"]["status"] == "RECOUNT"
    assert {(c["votes"], c["elected"]) for c in riverside.data["ballot"]["candidacies"]} == {(0, False)}
    # Declared ballots keep their results: zero counts are never shown in place of a result.
    mansfield = schema.execute_sync(BALLOT, variable_values={"id": "mayor.mansfield.2023-05-04"})
    assert mansfield.data["ballot"]["zeroCounts"] is False
    assert mansfield.data["ballot"]["candidacies"][0] == {
        "name": "Andy Abrahams",
        "party": {"id": "PP53"},
        "votes": 9_987,
        "share": mansfield.data["ballot"]["candidacies"][0]["share"],
        "elected": True,
        "electedByLot": False,
    }
    day = schema.execute_sync('{ elections(pollDate: "2023-05-04") { ballots { zeroCounts status } } }')
    flags = Counter((b["zeroCounts"], b["status"]) for e in day.data["elections"] for b in e["ballots"])
    assert flags == {
        (False, "DECLARED"): 412,
        (True, "AWAITING"): 22,
        (True, "COUNTING"): 2,
        (True, "RECOUNT"): 1,
    }
