from django.contrib import admin
from django.urls import include, path

from schema import schema
from schema.http import GraphQLHTTPView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("graphql", GraphQLHTTPView.as_view(schema=schema, graphql_ide="graphiql")),
    path("", include("live.urls")),
]
