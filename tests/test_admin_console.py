"""The console's desk screens: the work list, the overview's live updates and presence, and small things."""

import re

import pytest
from django.test import Client

from .desk import client_for, staff


@pytest.fixture
def desk():
    return staff("desk")


def test_view_site_links_to_the_public_apis_graphiql(desk):
    page = client_for(desk).get("/admin/")
    assert re.findall(r'<a href="([^"]*)">View site</a>', page.content.decode()) == ["/graphql"]
    graphiql = Client().get("/graphql", HTTP_ACCEPT="text/html")
    assert graphiql.status_code == 200
    assert "graphiql" in graphiql.content.decode().lower()


def test_the_site_has_a_favicon():
    redirect = Client().get("/favicon.ico")
    assert (redirect.status_code, redirect["Location"]) == (302, "/static/results/favicon.ico")
    icon = Client().get(redirect["Location"])
    assert icon.status_code == 200
    assert b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file
