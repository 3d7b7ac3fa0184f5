"""Until the data desk console lands, the admin shows results without letting anyone edit them."""

from django.contrib.auth import get_user_model
from django.test import Client

from results import services
from results.models import Ballot

from . import factories as f


def test_results_are_visible_but_not_editable_in_the_admin():
    e = f.election(seats_total=1)
    b = f.ballot(e, "North", [("Ann Able", "PP53"), ("Bob Baker", "PP52")])
    services.declare_ballot(b, votes=f.votes(b, Able=10, Baker=5))
    admin = get_user_model().objects.create_superuser("boss", password="pw")
    client = Client()
    client.force_login(admin)
    listing = client.get("/admin/results/ballot/?status__exact=declared")
    assert listing.status_code == 200
    assert b"local.testshire.north.2023-05-04" in listing.content
    page = client.get(f"/admin/results/ballot/{b.pk}/change/")
    assert page.status_code == 200
    assert b"Ann Able" in page.content
    assert b'name="_save"' not in page.content
    posted = client.post(f"/admin/results/ballot/{b.pk}/change/", {"status": "awaiting"})
    assert posted.status_code == 403
    assert Ballot.objects.get(pk=b.pk).status == "declared"
    assert client.get("/admin/results/ballot/add/").status_code == 403
