from django.contrib import admin
from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path

from schema import schema
from schema.http import GraphQLHTTPView


def favicon(request):
    """Browsers ask every site for /favicon.ico: send them the console's (a ballot box, ticked)."""
    response = HttpResponseRedirect(static("results/favicon.ico"))
    response["Cache-Control"] = "public, max-age=86400"
    return response


urlpatterns = [
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("graphql", GraphQLHTTPView.as_view(schema=schema, graphql_ide="graphiql")),
    path("", include("live.urls")),
]
