"""Reference parties: the major registered parties, Independent, and Labour and Co-operative.

Importers create any other party they meet from its id and name; these rows
give the common ones their headline names and colours from the start.
"""

from django.db import migrations

PARTIES = [
    # ec_id, name, short_name, abbreviation, colour, is_independent
    ("PP52", "Conservative and Unionist Party", "Conservatives", "Con", "#0087DC", False),
    ("PP53", "Labour Party", "Labour", "Lab", "#E4003B", False),
    ("PP90", "Liberal Democrats", "Lib Dems", "LD", "#FAA61A", False),
    ("PP63", "Green Party", "Greens", "Grn", "#02A95B", False),
    ("PP7931", "Reform UK", "Reform UK", "Ref", "#12B6CF", False),
    ("PP119", "Co-operative Party", "Co-operative", "Coop", "#3F1D70", False),
    ("PP804", "Trade Unionist and Socialist Coalition", "TUSC", "TUSC", "#EC008C", False),
    ("ynmp-party:2", "Independent", "Independents", "Ind", "#AAAAAA", True),
]
JOINT = [("joint-party:53-119", "Labour and Co-operative Party", "PP53")]


def add_parties(apps, schema_editor):
    Party = apps.get_model("results", "Party")
    for ec_id, name, short, abbr, colour, independent in PARTIES:
        Party.objects.update_or_create(
            ec_id=ec_id,
            defaults=dict(
                name=name, short_name=short, abbreviation=abbr, colour=colour,
                is_independent=independent,
            ),
        )
    for ec_id, name, lead in JOINT:
        lead_party = Party.objects.get(ec_id=lead)
        Party.objects.update_or_create(
            ec_id=ec_id,
            defaults=dict(
                name=name, short_name=lead_party.short_name, abbreviation=lead_party.abbreviation,
                colour=lead_party.colour, lead_party=lead_party,
            ),
        )


class Migration(migrations.Migration):
    dependencies = [("results", "0001_initial")]
    operations = [migrations.RunPython(add_parties, migrations.RunPython.noop)]
