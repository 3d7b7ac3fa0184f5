"""The two roles of election night, as groups: "Data desk" and "Live editors".

- Data desk: results (ballots and their candidacies), imports, and the
  reference data (parties, councils, wards); elections and the event log to
  read. Not posts, users or groups.
- Live editors: posts; councils, ballots and elections to read (to relate a
  post to them), never to change.

Superusers manage users and group membership.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = {
    "Data desk": [
        "view_ballot", "change_ballot", "import_data",
        "view_candidacy", "change_candidacy",
        "view_party", "add_party", "change_party",
        "view_council", "add_council", "change_council",
        "view_ward", "add_ward", "change_ward",
        "view_election", "view_compositionbefore", "view_previouswinner", "view_event",
    ],
    "Live editors": [
        "view_post", "add_post", "change_post", "delete_post",
        "view_council", "view_ballot", "view_election", "view_party",
    ],
}


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; these groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        permissions = list(Permission.objects.filter(content_type__app_label="results", codename__in=codenames))
        missing = set(codenames) - {p.codename for p in permissions}
        if missing:
            raise RuntimeError(f"permissions not found for {name}: {sorted(missing)}")
        group.permissions.set(permissions)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("results", "0003_import_permission"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_groups, remove_groups)]
