"""Published versions of a ballot: what changed from one to the next.

Each declaration, correction and retraction stores a snapshot of what it
published in its event (``services.ballot_snapshot``); these compare two.
"""

from __future__ import annotations

COUNT_LABELS = (
    ("ballot_papers_counted", "Ballot papers counted"),
    ("rejected_ballots", "Rejected ballot papers"),
    ("electorate", "Electorate"),
)


def _names(people) -> str:
    return ", ".join(people) or "nobody"


def version_changes(before: dict, after: dict) -> tuple[str, ...]:
    """What changed between two published versions of a ballot, one line per figure: old → new.

    Both are ballot snapshots as the events store them (``services.ballot_snapshot``):
    each candidate's votes, then the counts, then who is elected.
    """
    lines = []
    old = {c["person_name"]: c for c in before.get("candidacies", ())}
    new = {c["person_name"]: c for c in after.get("candidacies", ())}
    for name in sorted(
        old.keys() | new.keys(), key=lambda n: (n.split()[-1].casefold() if n.split() else "", n)
    ):
        was, now = old.get(name, {}).get("votes"), new.get(name, {}).get("votes")
        if was != now:
            lines.append(f"{name}: {_number(was)} → {_number(now)}")
    for key, label in COUNT_LABELS:
        if before.get(key) != after.get(key):
            lines.append(f"{label}: {_number(before.get(key))} → {_number(after.get(key))}")

    def elected(snapshot: dict) -> list[str]:
        return sorted(
            c["person_name"] + (" (by lot)" if c.get("elected_by_lot") else "")
            for c in snapshot.get("candidacies", ())
            if c.get("elected")
        )

    if elected(before) != elected(after):
        lines.append(f"Elected: {_names(elected(before))} → {_names(elected(after))}")
    return tuple(lines)


def _number(n) -> str:
    return "—" if n is None else f"{n:,}"
