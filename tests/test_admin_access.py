"""Who may do what in the admin: the two election-night groups, and the login throttle."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from console import login_throttle
from results import services
from results.models import Candidacy, Event, Post

from . import factories as f
from .desk import PASSWORD, client_for, entry_url, form_data, staff, text


def test_the_groups_are_created_with_exactly_their_permissions():
    def codenames(name):
        return sorted(Group.objects.get(name=name).permissions.values_list("codename", flat=True))

    assert codenames("Data desk") == [
        "add_council",
        "add_party",
        "add_ward",
        "change_ballot",
        "change_candidacy",
        "change_council",
        "change_party",
        "change_ward",
        "import_data",
        "view_ballot",
        "view_candidacy",
        "view_compositionbefore",
        "view_council",
        "view_election",
        "view_event",
        "view_party",
        "view_previouswinner",
        "view_ward",
    ]
    assert codenames("Live editors") == [
        "add_post",
        "change_post",
        "delete_post",
        "view_ballot",
        "view_council",
        "view_election",
        "view_party",
        "view_post",
    ]


@pytest.fixture
def ballot():
    e = f.election(seats_total=1)
    return f.ballot(e, "North", [("Ann Able", "PP53"), ("Bob Baker", "PP52")])


@pytest.fixture
def post():
    p = services.save_post(Post(), changes={"headline": "Counting starts"})
    services.publish_post(p)
    p.refresh_from_db()
    return p


def test_the_data_desk_cannot_see_or_edit_posts(post):
    client = client_for(staff("desk"))
    assert client.get("/admin/results/post/").status_code == 403
    assert client.get(f"/admin/results/post/{post.pk}/change/").status_code == 403
    posted = client.post(
        f"/admin/results/post/{post.pk}/change/", {"headline": "Hijacked", "loaded_version": post.version}
    )
    assert posted.status_code == 403
    assert client.post("/admin/results/post/add/", {"headline": "New"}).status_code == 403
    withdrawn = client.post(f"/admin/results/post/{post.pk}/withdraw/", {"loaded_version": post.version})
    assert withdrawn.status_code == 403
    post.refresh_from_db()
    assert (post.headline, post.status, Post.objects.count()) == ("Counting starts", "published", 1)


def test_the_data_desk_cannot_edit_users_or_groups():
    desk = staff("desk")
    client = client_for(desk)
    group = Group.objects.get(name="Data desk")
    assert client.get("/admin/auth/user/").status_code == 403
    assert client.get(f"/admin/auth/user/{desk.pk}/change/").status_code == 403
    assert client.post(f"/admin/auth/user/{desk.pk}/change/", {"is_superuser": "on"}).status_code == 403
    assert client.get("/admin/auth/group/").status_code == 403
    assert client.post(f"/admin/auth/group/{group.pk}/change/", {"name": "Admins"}).status_code == 403
    desk.refresh_from_db()
    assert (desk.is_superuser, list(desk.groups.values_list("name", flat=True))) == (False, ["Data desk"])
    assert Group.objects.filter(name="Admins").exists() is False


def test_a_live_editor_cannot_change_results(ballot):
    client = client_for(staff("editor", "Live editors"))
    page = client.get(entry_url(ballot))
    assert page.status_code == 200  # to relate posts to ballots, editors may read them
    assert 'name="_confirm"' not in page.content.decode()
    assert 'name="_preview" id="preview-button"' not in page.content.decode()
    before = (Event.objects.count(), list(Candidacy.objects.values_list("votes", "elected")))
    for action in ("_confirm", "_preview", "_save"):
        response = client.post(entry_url(ballot), {**form_data(ballot, Able="10", Baker="5"), action: "1"})
        assert response.status_code == 403
    assert client.post(entry_url(ballot), {**form_data(ballot), "_status": "recount"}).status_code == 403
    candidacy = ballot.candidacies.get(person_name="Ann Able")
    renamed = client.post(
        f"/admin/results/candidacy/{candidacy.pk}/change/",
        {"person_name": "Anne Able", "party": candidacy.party_id},
    )
    assert renamed.status_code == 403
    assert client.get("/admin/import/").status_code == 403
    ballot.refresh_from_db()
    assert (ballot.status, ballot.version) == ("awaiting", 0)
    assert (Event.objects.count(), list(Candidacy.objects.values_list("votes", "elected"))) == before
    assert Candidacy.objects.filter(person_name="Anne Able").exists() is False


def test_the_data_desk_may_declare_and_correct_candidates_of_undeclared_ballots(ballot):
    client = client_for(staff("desk"))
    candidacy = ballot.candidacies.get(person_name="Ann Able")
    renamed = client.post(
        f"/admin/results/candidacy/{candidacy.pk}/change/",
        {"person_name": "Anne Able", "person_id": "", "party": candidacy.party_id, "description": ""},
    )
    assert renamed.status_code == 302
    candidacy.refresh_from_db()
    assert candidacy.person_name == "Anne Able"
    services.declare_ballot(ballot, votes=f.votes(ballot, Able=10, Baker=5))
    refused = client.post(
        f"/admin/results/candidacy/{candidacy.pk}/change/",
        {"person_name": "Ann Able", "person_id": "", "party": candidacy.party_id, "description": ""},
    )
    assert refused.status_code == 403  # its result is public: retract first
    candidacy.refresh_from_db()
    assert candidacy.person_name == "Anne Able"


def test_staff_outside_the_groups_see_nothing_of_election_night(ballot):
    client = client_for(staff("visitor", group=None))
    assert client.get("/admin/election-night/").status_code == 403
    assert client.get(entry_url(ballot)).status_code == 403
    assert client.get("/admin/import/").status_code == 403


# ---------------------------------------------------------------- login throttle


def login(client: Client, username: str, password: str, address: str = "10.1.2.3"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
    )


@pytest.fixture
def fresh_counts(settings):
    """Start from no recorded failures (the cache may be a Redis shared with earlier runs)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins
    pairs = [("desk", "10.1.2.3"), ("desk", "10.9.9.9"), ("other", "10.1.2.3")]
    for pair in pairs:
        login_throttle.reset(*pair)
    yield
    for pair in pairs:
        login_throttle.reset(*pair)


def test_login_pauses_after_five_failures_for_a_username_and_address(fresh_counts):
    staff("desk", password=True)
    staff("other", password=True)
    client = Client()
    for _ in range(5):
        failed = login(client, "desk", "wrong")
        assert failed.status_code == 200
        assert "Please enter the correct username and password" in text(failed)
    refused = login(client, "desk", PASSWORD)
    assert refused.status_code == 429
    assert (
        "Too many failed logins as “desk” from this address. For safety, logging in is paused: "
        "try again in 15 minute(s), or ask an administrator to unlock it (Login lockouts, in the admin)."
    ) in text(refused)
    assert "_auth_user_id" not in client.session
    # Another username from the same address, and the same username elsewhere, are not paused.
    assert login(Client(), "other", PASSWORD).status_code == 302
    assert login(Client(), "desk", PASSWORD, address="10.9.9.9").status_code == 302
    # When the window ends the count is gone.
    login_throttle.reset("desk", "10.1.2.3")
    assert login(client, "desk", PASSWORD).status_code == 302


def test_a_successful_login_clears_the_failures(fresh_counts):
    staff("desk", password=True)
    for _ in range(4):
        login(Client(), "desk", "wrong")
    assert login_throttle.failures("desk", "10.1.2.3") == 4
    assert login(Client(), "desk", PASSWORD).status_code == 302
    assert login_throttle.failures("desk", "10.1.2.3") == 0
    for _ in range(4):
        login(Client(), "desk", "wrong")
    assert login(Client(), "desk", PASSWORD).status_code == 302


def test_usernames_differing_only_in_case_share_a_count(fresh_counts):
    staff("desk", password=True)
    for name in ("desk", "DESK", "Desk", "dEsk", "desK"):
        login(Client(), name, "wrong")
    assert login(Client(), "desk", PASSWORD).status_code == 429


def test_anonymous_visitors_are_sent_to_the_login_page(ballot):
    for url in (entry_url(ballot), "/admin/election-night/", "/admin/import/"):
        response = Client().get(url)
        assert (response.status_code, response["Location"]) == (302, f"/admin/login/?next={url}")


def test_a_browser_that_logged_in_before_is_never_locked_out_by_others_failing_at_its_address(fresh_counts):
    staff("desk", password=True)
    own = Client()
    assert login(own, "desk", PASSWORD).status_code == 302
    own.post("/admin/logout/")
    # Someone else at the same address (the newsroom's NAT) fails as "desk" again and again.
    intruder = Client()
    for _ in range(8):
        login(intruder, "desk", "wrong")
    assert login(intruder, "desk", PASSWORD).status_code == 429
    # The user's own browser logs in as ever.
    assert login(own, "desk", PASSWORD).status_code == 302


def test_a_browser_that_logged_in_before_is_paused_by_its_own_failures(fresh_counts):
    staff("desk", password=True)
    own = Client()
    assert login(own, "desk", PASSWORD).status_code == 302
    own.post("/admin/logout/")
    for _ in range(5):
        assert login(own, "desk", "wrong").status_code == 200
    assert login(own, "desk", PASSWORD).status_code == 429
    # Its failures were its own: the account is not locked for another browser.
    assert login(Client(), "desk", PASSWORD).status_code == 302
    # The cookie is signed, and names "desk" only.
    request = own.get("/admin/login/").wsgi_request
    assert login_throttle.device_of(request, "desk") is not None
    assert login_throttle.device_of(request, "other") is None
    forged = Client()
    forged.cookies[login_throttle.DEVICE_COOKIE] = "forged:value"
    assert login_throttle.device_of(forged.get("/admin/login/").wsgi_request, "desk") is None


def test_an_address_trying_many_usernames_is_paused(fresh_counts, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 3
    staff("desk", password=True)
    staff("other", password=True)
    trusted = Client()
    assert login(trusted, "other", PASSWORD).status_code == 302
    trusted.post("/admin/logout/")
    for name in ("alice", "bob", "carol"):
        assert login(Client(), name, "guess").status_code == 200
    assert login(Client(), "desk", PASSWORD).status_code == 429
    assert login(Client(), "desk", PASSWORD, address="10.9.9.9").status_code == 302
    assert login(trusted, "other", PASSWORD).status_code == 302


def test_staff_see_lockouts_in_the_admin_and_unlock_them(fresh_counts):
    from django.contrib.auth import get_user_model

    from results.models import LoginThrottle

    staff("desk", password=True)
    for _ in range(5):
        login(Client(), "desk", "wrong")
    assert login(Client(), "desk", PASSWORD).status_code == 429
    root = client_for(get_user_model().objects.create_superuser("root", password=None))
    page = root.get("/admin/results/loginthrottle/?state=locked")
    assert page.status_code == 200
    listed = text(page)
    assert "desk" in listed and "10.1.2.3" in listed
    locked = LoginThrottle.objects.get(scope="username_address")
    done = root.post(
        "/admin/results/loginthrottle/",
        {"action": "unlock", "_selected_action": [locked.pk], "index": 0},
    )
    assert done.status_code == 302
    assert not LoginThrottle.objects.filter(scope="username_address").exists()
    assert login(Client(), "desk", PASSWORD).status_code == 302
    # The election-night groups do not see them.
    assert client_for(staff("desk2")).get("/admin/results/loginthrottle/").status_code == 403


def test_the_lockouts_page_takes_the_same_queries_for_two_lockouts_or_twenty(fresh_counts):
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    root = client_for(get_user_model().objects.create_superuser("root", password=None))

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert root.get("/admin/results/loginthrottle/?state=locked").status_code == 200
        return len(ctx.captured_queries)

    def lock(n: int) -> None:
        for _ in range(5):
            login_throttle.record_failure(f"user{n}", f"10.0.0.{n}")

    lock(0)
    lock(1)
    two = queries()
    for n in range(2, 20):
        lock(n)
    assert queries() == two == 6
