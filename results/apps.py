from django.apps import AppConfig


class ResultsConfig(AppConfig):
    name = "results"
    verbose_name = "Election results"

    def ready(self):
        from electionsite import checks  # noqa: F401  (registers the project's deployment checks)
