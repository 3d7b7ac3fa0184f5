from django.apps import AppConfig


class LiveConfig(AppConfig):
    """The reference live results pages, built only on the public GraphQL API."""

    name = "live"
    verbose_name = "Live results pages"
