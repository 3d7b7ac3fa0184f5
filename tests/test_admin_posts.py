"""Live posts in the admin: drafts stay private; publish, update and withdraw go through the services."""

import re

import pytest

from results import services
from results.models import Event, Post

from . import factories as f
from .desk import client_for, staff, text


@pytest.fixture
def editor():
    return staff("editor", "Live editors")


def post_form(**overrides) -> dict:
    data = {
        "loaded_version": "",
        "headline": "Labour gain North East Derbyshire",
        "body": "Labour has taken control of North East Derbyshire from the Conservatives.",
        "author_name": "Anna Reporter",
        "author_role": "Reporter",
        "author_outlet": "BBC Radio Derby",
        "image_url": "",
        "image_caption": "",
        "image_credit": "",
        "councils": [],
        "ballots": [],
    }
    data.update(overrides)
    return data


def edit_form(post: Post, **overrides) -> dict:
    post.refresh_from_db()
    data = post_form(
        loaded_version=str(post.version),
        headline=post.headline,
        body=post.body,
        author_name=post.author_name,
        author_role=post.author_role,
        author_outlet=post.author_outlet,
    )
    if post.breaking:
        data["breaking"] = "on"
    data.update(overrides)
    return data


def change_url(post: Post) -> str:
    return f"/admin/results/post/{post.pk}/change/"


def test_a_new_post_is_saved_as_a_draft_that_is_not_public(editor):
    council = f.council("derby", "Derby")
    client = client_for(editor)
    response = client.post(
        "/admin/results/post/add/", post_form(councils=[council.pk], breaking="on", _continue="1")
    )
    post = Post.objects.get()
    assert response.status_code == 302
    assert response["Location"] == change_url(post)
    assert (post.status, post.version, post.breaking, post.published_at) == ("draft", 1, True, None)
    assert list(post.councils.values_list("slug", flat=True)) == ["derby"]
    assert list(Post.objects.published()) == []
    assert not Event.objects.filter(post=post).exists()
    page = client.get(change_url(post))
    assert "How it reads once published (draft: not public)" in text(page)
    assert "Draft “Labour gain North East Derbyshire” saved. It is not public." in text(page)


def test_the_author_defaults_to_the_editor_writing(editor):
    editor.first_name, editor.last_name = "Anna", "Reporter"
    editor.save()
    page = client_for(editor).get("/admin/results/post/add/")
    assert re.search(r'name="author_name" value="Anna Reporter"', page.content.decode())


def test_publishing_makes_the_post_public_and_records_an_event(editor):
    post = services.save_post(Post(), changes={"headline": "Derby remains in no overall control"})
    client = client_for(editor)
    response = client.post(change_url(post), edit_form(post, _publish="1"))
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.status == "published"
    assert post.published_at is not None
    assert list(Post.objects.published()) == [post]
    event = Event.objects.get(post__isnull=False)
    assert (event.kind, event.actor, event.payload["headline"]) == (
        "post_published",
        editor,
        "Derby remains in no overall control",
    )
    assert "Published “Derby remains in no overall control”: it is public now." in text(
        client.get(response["Location"])
    )


def test_saving_a_published_post_publishes_the_update(editor):
    post = services.save_post(Post(), changes={"headline": "Counting under way"})
    services.publish_post(post)
    client_for(editor).post(change_url(post), edit_form(post, headline="Counting under way in Derby"))
    post.refresh_from_db()
    assert post.headline == "Counting under way in Derby"
    assert list(Event.objects.filter(post=post).values_list("kind", "payload__headline")) == [
        ("post_published", "Counting under way"),
        ("post_updated", "Counting under way in Derby"),
    ]


def test_withdrawing_takes_the_post_down_with_a_reason(editor):
    post = services.save_post(Post(), changes={"headline": "Wrong call"})
    services.publish_post(post)
    client = client_for(editor)
    asked = client.get(f"/admin/results/post/{post.pk}/withdraw/")
    assert "“Wrong call” will no longer be public" in text(asked)
    post.refresh_from_db()
    done = client.post(
        f"/admin/results/post/{post.pk}/withdraw/",
        {"loaded_version": post.version, "reason": "called too early"},
    )
    assert done["Location"] == change_url(post)
    post.refresh_from_db()
    assert post.status == "withdrawn"
    assert list(Post.objects.published()) == []
    event = Event.objects.get(kind="post_withdrawn")
    assert (event.actor, event.payload["reason"]) == (editor, "called too early")


def test_a_stale_post_save_is_refused_with_who_changed_it_and_what(editor):
    post = services.save_post(Post(), changes={"headline": "Turnout low in Mansfield", "body": "About 25%."})
    loaded = edit_form(post, body="About 25% so far.")
    bob = staff("bob", "Live editors")
    client_for(bob).post(change_url(post), edit_form(post, headline="Turnout low across Mansfield"))
    page = client_for(editor).post(change_url(post), loaded)
    assert page.status_code == 200
    shown = text(page)
    assert re.search(
        r"“Turnout low across Mansfield” was changed by bob at \d\d:\d\d:\d\d \(changed Headline\.\) "
        r"after you opened it\. Nothing of yours was saved: their version is below next to yours\.",
        shown,
    )
    assert page.context["adminform"].form.conflict.rows == (
        ("Headline", "Turnout low across Mansfield", "Turnout low in Mansfield"),
        ("Body", "About 25%.", "About 25% so far."),
    )
    post.refresh_from_db()
    assert (post.headline, post.body) == ("Turnout low across Mansfield", "About 25%.")


def test_a_stale_withdrawal_is_refused(editor):
    post = services.save_post(Post(), changes={"headline": "Early call"})
    services.publish_post(post)
    post.refresh_from_db()
    seen = post.version
    services.save_post(post, changes={"headline": "Early call, confirmed"}, user=staff("bob", "Live editors"))
    done = client_for(editor).post(f"/admin/results/post/{post.pk}/withdraw/", {"loaded_version": seen})
    assert done.status_code == 302
    post.refresh_from_db()
    assert post.status == "published"
    message = [m.message for m in done.wsgi_request._messages][0]
    assert re.fullmatch(
        r"“Early call, confirmed” was changed by bob at \d\d:\d\d:\d\d \(post updated\) after you opened it\. "
        r"Nothing of yours was saved: reload the page to see their change\.",
        message,
    )


def test_the_post_page_shows_its_history(editor):
    post = services.save_post(Post(), changes={"headline": "Recount in Allestree"})
    services.publish_post(post, user=editor)
    client_for(editor).post(change_url(post), edit_form(post, headline="Recount under way in Allestree"))
    page = client_for(editor).get(change_url(post))
    # The admin's log entry is written just after the service's event, so it is listed first.
    assert [(e.who, e.what, e.public) for e in page.context["history"]] == [
        ("editor", "Changed Headline.", False),
        ("editor", "Post updated", True),
        ("editor", "Post published", True),
    ]
    history_page = client_for(editor).get(f"/admin/results/post/{post.pk}/history/")
    assert [e.what for e in history_page.context["history"]] == [
        "Changed Headline.",
        "Post updated",
        "Post published",
    ]


def test_only_a_draft_can_be_deleted(editor):
    draft = services.save_post(Post(), changes={"headline": "Draft"})
    published = services.save_post(Post(), changes={"headline": "Out"})
    services.publish_post(published)
    client = client_for(editor)
    assert client.post(f"/admin/results/post/{published.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post(f"/admin/results/post/{draft.pk}/delete/", {"post": "yes"}).status_code == 302
    assert list(Post.objects.values_list("headline", flat=True)) == ["Out"]


def test_publishing_from_the_form_is_logged_as_published(editor):
    post = services.save_post(Post(), changes={"headline": "Polls closed"})
    client_for(editor).post(change_url(post), edit_form(post, headline="Polls have closed", _publish="1"))
    page = client_for(editor).get(change_url(post))
    assert [(e.who, e.what, e.public) for e in page.context["history"]] == [
        ("editor", "Changed Headline. Published.", False),
        ("editor", "Post published", True),
    ]


def test_a_live_editor_finds_councils_and_ballots_to_relate_a_post_to(editor):
    e = f.election("derby", seats_total=1, name="Derby")
    allestree = f.ballot(e, "Allestree", [("Ann Able", "PP53"), ("Bob Baker", "PP52")])
    client = client_for(editor)

    def search(field, term):
        response = client.get(
            "/admin/autocomplete/",
            {"app_label": "results", "model_name": "post", "field_name": field, "term": term},
        )
        assert response.status_code == 200
        return [r["text"] for r in response.json()["results"]]

    assert search("ballots", "Allestree") == ["local.derby.allestree.2023-05-04"]
    assert search("councils", "Der") == ["Derby"]
    response = client.post(
        "/admin/results/post/add/",
        post_form(councils=[e.council.pk], ballots=[allestree.pk], _publish="1"),
    )
    assert response.status_code == 302
    post = Post.objects.get()
    assert (post.status, list(post.ballots.all()), list(post.councils.all())) == (
        "published",
        [allestree],
        [e.council],
    )
    assert Event.objects.get(post=post).payload["ballots"] == ["local.derby.allestree.2023-05-04"]
