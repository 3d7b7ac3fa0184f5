"""Published versions of a ballot: what changed from one to the next.

Each declaration, correction and retraction stores a snapshot of what it
published in its event (``services.ballot_snapshot``); these compare two.
"""

from __future__ import annotations

from collections import Counter

COUNT_LABELS = (
    ("ballot_papers_counted", "Ballot papers counted"),
    ("rejected_ballots", "Rejected ballot papers"),
    ("electorate", "Electorate"),
)


def _names(people) -> str:
    return ", ".join(people) or "nobody"


def _person(c: dict) -> str:
    """Who a candidacy is: their Democracy Club person id, or their name where the file gave none."""
    return f"id:{c['person_id']}" if c.get("person_id") else f"name:{c['person_name']}"


def _labels(*snapshots: dict) -> dict[str, str]:
    """Each person's name as the changes show it; two people of one name are told apart by id."""
    people: dict[str, dict] = {}
    for snapshot in snapshots:
        for c in snapshot.get("candidacies", ()):
            people[_person(c)] = c  # the later snapshot's name wins (a renamed candidate)
    names = Counter(c["person_name"] for c in people.values())
    return {
        key: c["person_name"]
        if names[c["person_name"]] == 1 or not c.get("person_id")
        else f"{c['person_name']} (person {c['person_id']})"
        for key, c in people.items()
    }


def _surname_order(label: str) -> tuple[str, str]:
    words = label.split(" (")[0].split()
    return (words[-1].casefold() if words else "", label)


def version_changes(before: dict, after: dict) -> tuple[str, ...]:
    """What changed between two published versions of a ballot, one line per figure: old → new.

    Both are ballot snapshots as the events store them (``services.ballot_snapshot``):
    each candidate's votes, then the counts, then who is elected. Candidates are
    matched by person id (by name only where they have none), so two people of
    one name stay apart and a renamed candidate is one person.
    """
    lines = []
    labels = _labels(before, after)
    old = {_person(c): c for c in before.get("candidacies", ())}
    new = {_person(c): c for c in after.get("candidacies", ())}
    for key in sorted(old.keys() | new.keys(), key=lambda k: _surname_order(labels[k])):
        was, now = old.get(key, {}).get("votes"), new.get(key, {}).get("votes")
        if was != now:
            lines.append(f"{labels[key]}: {_number(was)} → {_number(now)}")
    for key, label in COUNT_LABELS:
        if before.get(key) != after.get(key):
            lines.append(f"{label}: {_number(before.get(key))} → {_number(after.get(key))}")

    def elected(snapshot: dict) -> list[str]:
        return sorted(
            labels[_person(c)] + (" (by lot)" if c.get("elected_by_lot") else "")
            for c in snapshot.get("candidacies", ())
            if c.get("elected")
        )

    if elected(before) != elected(after):
        lines.append(f"Elected: {_names(elected(before))} → {_names(elected(after))}")
    return tuple(lines)


def _number(n) -> str:
    return "—" if n is None else f"{n:,}"
