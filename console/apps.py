from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "Data desk console"


class ElectionAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with the data desk's site (overview, imports, throttled login) as the default."""

    default = False  # ConsoleConfig stays the config of the "console" app
    default_site = "console.site.ElectionAdminSite"
