"""Partners' keys over HTTP: refused clearly without a valid key, counted, limited per minute."""

import io
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from partners import keys
from partners.models import ApiKey
from schema import access

GRJ = "application/graphql-response+json"
QUERY = '{"query": "{ parties { id } }"}'


def post(headers=None, *, address="127.0.0.1", accept=GRJ):
    return Client(REMOTE_ADDR=address).post(
        "/graphql", data=QUERY, content_type="application/json", HTTP_ACCEPT=accept, headers=headers or {}
    )


def partner_with_key(per_minute=600, **fields):
    partner = keys.create_partner(f"Outlet {uuid.uuid4().hex[:6]}", per_minute=per_minute, **fields)
    key, raw = keys.issue_key(partner, "tests")
    return partner, key, raw


@pytest.fixture
def keys_mode(settings):
    settings.PUBLIC_API = "keys"


def test_keys_mode_refuses_anonymous_requests_with_401_saying_what_to_do(keys_mode):
    response = post()
    assert response.status_code == 401
    assert response["Content-Type"] == f"{GRJ}; charset=utf-8"
    assert response["WWW-Authenticate"] == 'Bearer realm="graphql", charset="UTF-8"'
    assert response.json() == {
        "errors": [
            {
                "message": "An API key is required: send it in the X-API-Key header (over WebSocket, as "
                '{"apiKey": "..."} in the connection_init payload). Ask the newsroom for a key.',
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }


@pytest.mark.parametrize("header", ["X-API-Key", "Authorization"])
def test_a_valid_key_is_accepted_in_either_header(keys_mode, header):
    _, _, raw = partner_with_key()
    value = raw if header == "X-API-Key" else f"Bearer {raw}"
    response = post({header: value})
    assert response.status_code == 200
    assert {"id": "PP53"} in response.json()["data"]["parties"]
    assert response["RateLimit-Limit"] == "600"
    assert response["RateLimit-Remaining"] == "599"
    assert response["RateLimit-Policy"] == "600;w=60"
    assert 1 <= int(response["RateLimit-Reset"]) <= 60


def test_an_unknown_or_revoked_key_is_refused_with_401_and_a_suspended_partner_with_403(keys_mode):
    partner, key, raw = partner_with_key()
    unknown = post({"X-API-Key": "eln_not-a-key"})
    assert unknown.status_code == 401
    assert unknown.json()["errors"][0]["message"] == (
        "This API key is not valid: it is unknown or has been revoked. Check it, or ask the newsroom for a new one."
    )
    partner.active = False
    partner.save()
    suspended = post({"X-API-Key": raw})
    assert suspended.status_code == 403
    assert suspended.json() == {
        "errors": [
            {
                "message": "This partner's access is suspended. Contact the newsroom.",
                "extensions": {"code": "FORBIDDEN"},
            }
        ]
    }
    partner.active = True
    partner.save()
    assert post({"X-API-Key": raw}).status_code == 200
    keys.revoke_key(key)
    assert post({"X-API-Key": raw}).status_code == 401


def test_open_mode_still_accepts_keys_and_refuses_bad_ones():
    _, _, raw = partner_with_key(per_minute=50)
    assert post()["RateLimit-Limit"] == "1000000"  # anonymous: the per-address quota
    assert post({"X-API-Key": raw})["RateLimit-Limit"] == "50"
    assert post({"X-API-Key": "eln_wrong"}).status_code == 401


def test_rotation_keeps_both_keys_live_and_they_share_the_partners_quota(keys_mode):
    partner, old, old_raw = partner_with_key(per_minute=3)
    new, new_raw = keys.rotate_key(old)
    assert (new.label, new.partner_id) == ("tests", partner.pk)
    statuses = [post({"X-API-Key": raw}).status_code for raw in (old_raw, new_raw, old_raw, new_raw)]
    assert statuses == [200, 200, 200, 429]


def test_over_the_quota_is_429_with_retry_after_in_the_graphql_shape(keys_mode):
    _, _, raw = partner_with_key(per_minute=2)
    assert [post({"X-API-Key": raw}).status_code for _ in range(2)] == [200, 200]
    refused = post({"X-API-Key": raw})
    assert refused.status_code == 429
    assert refused["RateLimit-Remaining"] == "0"
    assert refused["Retry-After"] == refused["RateLimit-Reset"]
    assert refused.json() == {
        "errors": [
            {
                "message": f"Rate limit exceeded: 2 requests a minute. Retry after {refused['Retry-After']} seconds.",
                "extensions": {"code": "RATE_LIMITED"},
            }
        ]
    }


def test_anonymous_clients_have_a_quota_per_address(settings):
    settings.ANONYMOUS_PER_MINUTE = 2
    first = f"10.9.{uuid.uuid4().int % 250}.1"
    second = f"10.8.{uuid.uuid4().int % 250}.1"
    assert [post(address=first).status_code for _ in range(3)] == [200, 200, 429]
    assert post(address=second).status_code == 200


def test_a_forged_forwarded_header_does_not_escape_the_anonymous_quota(settings):
    settings.ANONYMOUS_PER_MINUTE = 1
    address = f"10.7.{uuid.uuid4().int % 250}.1"
    assert post(address=address).status_code == 200
    # No trusted proxy configured: X-Forwarded-For is anyone's to write, and ignored.
    assert post({"X-Forwarded-For": "203.0.113.9"}, address=address).status_code == 429


def test_uses_and_last_use_are_recorded_per_key(keys_mode):
    _, key, raw = partner_with_key()
    for _ in range(3):
        post({"X-API-Key": raw})
    access.flush_uses()  # what each process's watcher does every two seconds
    key.refresh_from_db()
    assert key.use_count == 3
    assert key.last_used_at is not None


def test_create_partner_prints_the_key_alone_on_its_last_line(keys_mode):
    out = io.StringIO()
    call_command("create_partner", "Derby Telegraph", "--per-minute", "120", stdout=out)
    last = out.getvalue().splitlines()[-1]
    assert last.startswith("eln_") and " " not in last
    key = ApiKey.objects.get(partner__name="Derby Telegraph")
    assert (key.partner.per_minute, key.prefix, key.digest) == (120, last[:12], keys.digest_of(last))
    assert last not in str(ApiKey.objects.values_list())  # only its digest is stored
    response = post({"X-API-Key": last})
    assert (response.status_code, response["RateLimit-Limit"]) == (200, "120")


def test_a_partner_added_in_the_admin_gets_a_key_shown_once():
    admin = get_user_model().objects.create_superuser("root", password="pw-root-2023")
    client = Client()
    client.force_login(admin)
    page = client.post(
        "/admin/partners/partner/add/",
        {
            "name": "Nottingham Post",
            "contact": "desk@example.org",
            "active": "on",
            "per_minute": "300",
            "max_subscriptions": "5",
            "notes": "",
            "keys-TOTAL_FORMS": "0",
            "keys-INITIAL_FORMS": "0",
            "keys-MIN_NUM_FORMS": "0",
            "keys-MAX_NUM_FORMS": "1000",
        },
        follow=True,
    ).content.decode()
    [shown] = __import__("re").findall(r"<code>(eln_[^<]+)</code>", page)
    key = ApiKey.objects.get(partner__name="Nottingham Post")
    assert key.digest == keys.digest_of(shown)
    assert client.get("/admin/partners/partner/").content.decode().count(shown) == 0  # once only


def test_partners_and_keys_are_for_superusers_only_in_the_admin():
    partner, key, raw = partner_with_key()
    User = get_user_model()
    staff = User.objects.create_user("desk", password="pw-desk-2023", is_staff=True)
    staff.user_permissions.set(
        __import__("django.contrib.auth.models", fromlist=["Permission"]).Permission.objects.filter(
            content_type__app_label="partners"
        )
    )
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/partners/partner/").status_code == 403
    admin = User.objects.create_superuser("root", password="pw-root-2023")
    client.force_login(admin)
    page = client.get(f"/admin/partners/partner/{partner.pk}/change/").content.decode()
    assert key.prefix in page
    assert raw not in page and key.digest not in page
    issued = client.post(
        "/admin/partners/partner/", {"action": "issue_key", "_selected_action": [partner.pk]}, follow=True
    ).content.decode()
    assert "shown only this once" in issued
    assert partner.keys.filter(revoked_at__isnull=True).count() == 2
    rotated = client.post(
        "/admin/partners/apikey/", {"action": "rotate", "_selected_action": [key.pk]}, follow=True
    ).content.decode()
    assert "shown only this once" in rotated
    assert partner.keys.filter(revoked_at__isnull=True, label="tests").count() == 2  # old and new, both live
    client.post("/admin/partners/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert partner.keys.filter(revoked_at__isnull=True).count() == 2
