"""The console's History pages, a page at a time; the ballot page's own URL name; an unknown id."""

import pytest
from django.contrib.admin.options import ModelAdmin
from django.urls import reverse

from console.admin.ballots import BallotAdmin
from console.admin.posts import PostAdmin
from results import services
from results.models import Post

from . import factories as f
from .desk import client_for, entry_url, form_data, staff, text


@pytest.fixture
def editor():
    return staff("editor", "Live editors")


def published_post_updated(times: int, editor) -> Post:
    post = services.save_post(Post(), changes={"headline": "Count begins"})
    services.publish_post(post, user=editor)
    for n in range(1, times + 1):
        post.refresh_from_db()
        services.save_post(
            post, changes={"headline": f"Update {n}"}, user=editor, expected_version=post.version
        )
    return post


def test_a_post_history_is_paginated_newest_first_with_p_as_on_the_change_list(editor, monkeypatch):
    monkeypatch.setattr(PostAdmin, "history_list_per_page", 2)
    post = published_post_updated(4, editor)  # five events: published, then four updates
    url = f"/admin/results/post/{post.pk}/history/"
    pages = [client_for(editor).get(url, {"p": n}) for n in (1, 2, 3)]
    shown = [[e.details[0] for e in page.context["history"]] for page in pages]
    assert shown == [["“Update 4”", "“Update 3”"], ["“Update 2”", "“Update 1”"], ["“Count begins”"]]
    assert [e.what for e in pages[1].context["history"]] == ["Post updated", "Post updated"]
    assert (pages[1].context["page_obj"].number, pages[1].context["page_obj"].paginator.count) == (2, 5)
    assert pages[1].context["page_obj"].paginator.num_pages == 3
    assert 'href="?p=3"' in pages[1].content.decode()
    assert "5 changes, newest first" in text(pages[1])
    # Past the end, or not a number: the last page, or the first (as Paginator.get_page gives them).
    assert [e.details[0] for e in client_for(editor).get(url, {"p": 9}).context["history"]] == [
        "“Count begins”"
    ]
    assert len(client_for(editor).get(url, {"p": "x"}).context["history"]) == 2


def test_a_ballot_history_pages_merge_the_event_log_and_the_admin_log(monkeypatch):
    monkeypatch.setattr(BallotAdmin, "history_list_per_page", 2)
    desk = staff("desk")
    e = f.election(seats_total=3, before={"PP52": (2, 0), "PP53": (1, 0)})
    north = f.ballot(e, "North", [("Ann Able", "PP53"), ("Bob Baker", "PP52")], previous={"PP52": 1})
    client = client_for(desk)
    client.post(
        entry_url(north), {**form_data(north, Able="60", Baker="40"), "_save": "1"}
    )  # the admin's log
    client.post(entry_url(north), {**form_data(north, Able="61", Baker="40"), "_save": "1"})
    url = f"/admin/results/ballot/{north.pk}/history/"
    first, second = client.get(url), client.get(url, {"p": 2})
    assert [(e.who, e.what, e.public) for e in first.context["history"]] == [
        ("desk", "Saved figures before declaring (not public), version 3: Ann Able 61, Bob Baker 40.", False),
        ("desk", "Saved figures before declaring (not public), version 2: Ann Able 60, Bob Baker 40.", False),
    ]
    assert [(e.who, e.what, e.public) for e in second.context["history"]] == [
        ("an import or a script", "Previous winners set: Conservatives 1", True),
    ]
    assert second.context["page_obj"].paginator.count == 3
    # A live editor may not see figures saved before the declaration: nor are they counted.
    hidden = client_for(staff("editor", "Live editors")).get(url)
    assert [e.what for e in hidden.context["history"]] == ["Previous winners set: Conservatives 1"]
    assert hidden.context["page_obj"].paginator.count == 1


def test_the_ballot_page_is_a_named_view_of_the_ballot_admin_at_its_change_url():
    desk = staff("desk")
    e = f.election(seats_total=3)
    north = f.ballot(e, "North", [("Ann Able", "PP53"), ("Bob Baker", "PP52")])
    entry = reverse("admin:results_ballot_entry", args=[north.pk])
    assert entry == reverse("admin:results_ballot_change", args=[north.pk]) == entry_url(north)
    page = client_for(desk).get(entry)
    assert page.status_code == 200
    assert page.templates[0].name == "admin/results/ballot/entry.html"
    assert page.resolver_match.url_name == "results_ballot_entry"
    # Reached through the admin's hooks (get_urls), not by replacing its change page.
    assert BallotAdmin.change_view is ModelAdmin.change_view


@pytest.mark.parametrize(
    "path",
    [
        "/admin/results/ballot/987654/change/",
        "/admin/results/ballot/987654/candidates/",
        "/admin/results/ballot/987654/history/",
        "/admin/results/post/987654/history/",
        "/admin/results/post/987654/withdraw/",
        "/admin/results/candidacy/987654/change/",
    ],
)
def test_an_unknown_id_says_so_and_goes_back_to_the_index_as_django_does(path):
    user = staff("both", None)
    user.is_superuser = True
    user.save()
    response = client_for(user).get(path, follow=True)
    assert response.redirect_chain == [("/admin/", 302)]
    kind = "post" if "/post/" in path else "candidacy" if "/candidacy/" in path else "ballot"
    assert [str(m) for m in response.context["messages"]] == [
        f"{kind} with ID “987654” doesn’t exist. Perhaps it was deleted?"
    ]
