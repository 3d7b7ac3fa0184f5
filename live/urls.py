"""/ is the latest night; /live/<date>/ a night; then a council's and a mayor's page."""

from django.urls import path, register_converter

from . import views


class DateConverter:
    """An ISO date in the path (2023-05-04), given to the view as a ``datetime.date``."""

    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value: str):
        import datetime as dt

        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(value) from exc  # not a day: the URL does not match (404)

    def to_url(self, value) -> str:
        return value.isoformat() if hasattr(value, "isoformat") else str(value)


register_converter(DateConverter, "isodate")

app_name = "live"
urlpatterns = [
    path("", views.night, name="latest"),
    path("live/<isodate:poll_date>/", views.night, name="night"),
    path("live/<isodate:poll_date>/<slug:slug>/", views.council, name="council"),
    path("live/<isodate:poll_date>/<slug:slug>/mayor/", views.mayor, name="mayor"),
]
