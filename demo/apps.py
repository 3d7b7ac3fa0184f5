from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo's data and commands (``load_demo``, ``demo_admin``, ``generate_demo``): not the domain."""

    name = "demo"
    verbose_name = "Demo"
