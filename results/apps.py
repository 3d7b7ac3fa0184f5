from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ResultsConfig(AppConfig):
    name = "results"
    verbose_name = "Election results"

    def ready(self):
        from electionsite import checks  # noqa: F401  (registers the project's deployment checks)


class ElectionAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with the data desk's site (overview, imports, throttled login) as the default."""

    default = False  # ResultsConfig stays the config of the "results" app
    default_site = "results.admin_site.ElectionAdminSite"
