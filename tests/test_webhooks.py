"""Webhooks and SSE in one process: signing, back-off, selections, bad input, the admin, the command,
the delivery loop against a local receiver, and SSE's refusals (the real-process tests are in
test_webhook_servers.py)."""

import asyncio
import hashlib
import hmac
import io
import json
import random
import re
import subprocess
import time
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import AsyncClient

from partners import keys
from push import retry, signing
from push import services as push
from push.delivery import Deliverer
from push.models import WebhookAttempt, WebhookEndpoint
from push.selection import validate_selection
from results import services
from results.models import Event

from . import factories as f
from .desk import client_for
from .webhook_receiver import Receiver

DOC = (Path(__file__).resolve().parent.parent / "docs" / "partners.md").read_text()
[PYTHON_VERIFY] = re.findall(r"<!-- code: verify-python -->\n```python\n(.*?)```", DOC, re.S)
[JS_VERIFY] = re.findall(r"<!-- code: verify-js -->\n```js\n(.*?)```", DOC, re.S)
SELECTION = "{ id kind ballot { id status } }"


@pytest.fixture(autouse=True)
def _local_receivers(settings):
    settings.WEBHOOK_ALLOW_HTTP_HOSTS = ["127.0.0.1"]


@pytest.fixture
def partner():
    return keys.create_partner("Derby Telegraph")


def council_with_ballots(slug="hookshire", wards=3):
    e = f.election(slug, seats_total=wards, before={"PP52": (wards, 0)})
    return [f.ballot(e, f"Ward {i}", [("Ann Able", "PP53"), ("Bob Baker", "PP52")]) for i in range(wards)]


def declare(ballot):
    return services.declare_ballot(ballot, votes=f.votes(ballot, Able=10, Baker=5))


def latest() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


# ---------------------------------------------------------------- signing


@pytest.mark.pure
def test_the_signature_is_hmac_sha256_of_timestamp_dot_body_with_the_secret():
    body = b'{"cursor":"7"}'
    expected = hmac.new(b"whsec_test", b"1683248400." + body, hashlib.sha256).hexdigest()
    assert signing.signature("whsec_test", 1683248400, body) == "v1=" + expected
    headers = signing.headers("whsec_test", "d-1", 1683248400, body)
    assert headers["Webhook-Id"] == "d-1"
    assert headers["Webhook-Timestamp"] == "1683248400"
    assert headers["Webhook-Signature"] == "v1=" + expected


@pytest.mark.pure
def test_verification_refuses_another_secret_a_changed_body_and_an_old_timestamp():
    now = 1683248400
    body = b'{"cursor":"7"}'
    good = signing.signature("whsec_a", now, body)
    assert signing.verify("whsec_a", str(now), body, good, now=now + 299)
    assert not signing.verify("whsec_b", str(now), body, good, now=now)
    assert not signing.verify("whsec_a", str(now), body + b" ", good, now=now)
    assert not signing.verify("whsec_a", str(now), body, good, now=now + 301)
    assert not signing.verify("whsec_a", "soon", body, good, now=now)
    assert signing.verify("whsec_a", str(now), body, f"v1=00ff, {good}", now=now)


@pytest.mark.pure
def test_secrets_are_long_random_and_prefixed():
    one, two = signing.new_secret(), signing.new_secret()
    assert one.startswith("whsec_") and len(one) == 49 and one != two


@pytest.mark.pure
def test_the_guides_python_verification_accepts_a_real_delivery_and_refuses_a_forgery():
    namespace: dict = {}
    exec(compile(PYTHON_VERIFY, "docs/partners.md", "exec"), namespace)  # noqa: S102 - the guide's own code
    verify = namespace["verify"]
    body = b'{"deliveryId":"x","cursor":"12","timestamp":1,"data":{}}'
    headers = signing.headers("whsec_guide", "x", int(time.time()), body)
    assert verify("whsec_guide", headers, body) is True
    assert verify("whsec_other", headers, body) is False
    assert verify("whsec_guide", headers, body.replace(b"12", b"13")) is False
    stale = signing.headers("whsec_guide", "x", int(time.time()) - 301, body)
    assert verify("whsec_guide", stale, body) is False


@pytest.mark.pure
def test_the_guides_javascript_verification_accepts_a_real_delivery_and_refuses_a_forgery(tmp_path):
    node = subprocess.run(["which", "node"], capture_output=True, text=True).stdout.strip()
    if not node:
        pytest.skip("needs node")
    (tmp_path / "verify.mjs").write_text(JS_VERIFY)
    (tmp_path / "check.mjs").write_text(
        "import { verify } from './verify.mjs';\n"
        "const [secret, headers, body] = JSON.parse(process.argv[2]);\n"
        "console.log(JSON.stringify(verify(secret, headers, Buffer.from(body, 'utf8'))));\n"
    )
    body = '{"deliveryId":"x","cursor":"12","data":{"events":{"headline":"Labour gain Broxtowe £"}}}'
    headers = {
        k.lower(): v for k, v in signing.headers("whsec_js", "x", int(time.time()), body.encode()).items()
    }

    def run(secret, text):
        out = subprocess.run(
            [node, str(tmp_path / "check.mjs"), json.dumps([secret, headers, text])],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return json.loads(out.stdout)

    assert run("whsec_js", body) is True
    assert run("whsec_nope", body) is False
    assert run("whsec_js", body.replace("12", "13")) is False


# ---------------------------------------------------------------- back-off


@pytest.mark.pure
def test_the_back_off_doubles_from_the_base_up_to_the_cap_with_jitter_in_the_upper_half():
    class Top:
        def uniform(self, a, b):
            return b

    class Bottom:
        def uniform(self, a, b):
            return a

    tops = [retry.delay(n, base=1, cap=600, rng=Top()) for n in range(1, 13)]
    assert tops == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]
    bottoms = [retry.delay(n, base=1, cap=600, rng=Bottom()) for n in (1, 5, 11, 1000)]
    assert bottoms == [0.5, 8, 300, 300]
    rng = random.Random(16)
    waits = [retry.delay(4, base=1, cap=600, rng=rng) for _ in range(200)]
    assert min(waits) >= 4 and max(waits) <= 8 and len(set(waits)) == 200
    with pytest.raises(ValueError):
        retry.delay(0)


@pytest.mark.pure
def test_only_a_2xx_acknowledges_a_delivery():
    assert [retry.is_retryable(s) for s in (200, 204, 299)] == [False, False, False]
    assert [retry.is_retryable(s) for s in (None, 301, 400, 404, 429, 500, 503)] == [True] * 7


# ---------------------------------------------------------------- selections and bad input


def test_a_valid_selection_is_kept_trimmed():
    assert validate_selection("  { id kind ballot { id } }\n") == "{ id kind ballot { id } }"


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        ("id kind", "must be one selection set in braces"),
        ("{ id nope }", "Cannot query field 'nope' on type 'Event'"),
        ("{ id ballot { id }", "does not parse"),
        ("{ id } fragment F on Event { kind }", "is not valid"),
        ("{ id } } subscription X { events { id }", "no fragment definitions"),
        ("{ ballot }", "must have a selection of subfields"),
        (
            "{ ballot { election { council { elections { ballots { election { council { elections { ballots "
            "{ election { council { elections { id } } } } } } } } } } } } }",
            "nests fields 14 deep; at most 12 levels are allowed",
        ),
    ],
)
def test_a_bad_selection_is_refused_with_the_reason(selection, message):
    with pytest.raises(ValidationError) as caught:
        validate_selection(selection)
    assert message in " ".join(caught.value.messages)


def test_bad_endpoints_are_refused_and_nothing_is_created(partner, settings):
    council_with_ballots()
    cases = [
        (dict(url="http://cms.example/hook"), "must use https://"),
        (dict(url="ftp://cms.example/hook"), "Not a valid URL"),
        (dict(url="https://user:pw@cms.example/hook"), "must not carry a user name"),
        (dict(councils=["hookshire", "atlantis"]), "Unknown council slugs: atlantis."),
        (dict(kinds=["BALLOT_EXPLODED"]), "Unknown event kind 'BALLOT_EXPLODED'"),
        (dict(after=10**9), "Unknown cursor 1000000000"),
        (dict(selection="{ secret }"), "Cannot query field 'secret'"),
    ]
    for change, message in cases:
        options = {"url": "https://cms.example/hook", "selection": SELECTION, **change}
        with pytest.raises(ValidationError) as caught:
            push.create_endpoint(partner, options.pop("url"), **options)
        assert message in " ".join(caught.value.messages), change
    assert WebhookEndpoint.objects.count() == 0
    settings.DEBUG = True  # a laptop's demo may deliver to plain http
    endpoint, _ = push.create_endpoint(partner, "http://cms.example/hook", selection=SELECTION)
    assert endpoint.url == "http://cms.example/hook"


def test_a_new_endpoint_starts_after_the_latest_event_with_its_filter_normalised(partner):
    council_with_ballots()
    endpoint, secret = push.create_endpoint(
        partner,
        "https://cms.example/hook",
        selection=SELECTION,
        councils=["hookshire", "hookshire"],
        kinds=["ballot_declared", "CONTROL_CALLED"],
    )
    assert (endpoint.delivered_cursor, endpoint.councils, endpoint.kinds) == (
        latest(),
        ["hookshire"],
        ["BALLOT_DECLARED", "CONTROL_CALLED"],
    )
    assert secret == endpoint.secret and secret.startswith("whsec_")


def test_a_delivery_id_is_stable_until_a_re_send_gives_new_ones(partner):
    [ballot] = council_with_ballots(wards=1)
    endpoint, _ = push.create_endpoint(partner, "https://cms.example/hook", selection=SELECTION, after=0)
    first = endpoint.delivery_id(5)
    assert WebhookEndpoint.objects.get().delivery_id(5) == first != endpoint.delivery_id(6)
    declare(ballot)
    push.pause(endpoint)
    endpoint = push.resend_from(endpoint, 3)
    assert (endpoint.delivered_cursor, endpoint.generation, endpoint.state) == (3, 1, "active")
    assert endpoint.delivery_id(5) != first
    with pytest.raises(ValidationError, match="Unknown cursor"):
        push.resend_from(endpoint, latest() + 1)
    assert WebhookEndpoint.objects.get().delivered_cursor == 3


# ---------------------------------------------------------------- the command


def command(*args) -> str:
    out = io.StringIO()
    call_command("webhooks", *args, stdout=out)
    return out.getvalue()


def test_the_command_adds_lists_pauses_resumes_and_re_sends(partner):
    council_with_ballots()
    out = command(
        "add",
        "Derby Telegraph",
        "https://cms.example/hook",
        "--selection",
        SELECTION,
        "--kind",
        "BALLOT_DECLARED",
    )
    endpoint = WebhookEndpoint.objects.get()
    assert out.splitlines()[-1] == endpoint.secret
    assert f"Endpoint {endpoint.pk} for Derby Telegraph" in out
    assert command("list").split("\t")[:3] == [str(endpoint.pk), "active", f"cursor {latest()}"]
    command("pause", str(endpoint.pk))
    assert WebhookEndpoint.objects.get().state == "paused"
    assert "resumed after cursor" in command("resume", str(endpoint.pk))
    command("resend", str(endpoint.pk), "--from", "0")
    assert (WebhookEndpoint.objects.get().delivered_cursor, WebhookEndpoint.objects.get().generation) == (
        0,
        1,
    )
    new_secret = command("rotate-secret", str(endpoint.pk)).splitlines()[-1]
    assert new_secret == WebhookEndpoint.objects.get().secret != endpoint.secret


def test_the_command_refuses_bad_input_clearly_and_changes_nothing(partner):
    council_with_ballots()
    with pytest.raises(CommandError, match="No partner named 'Nobody'"):
        command("add", "Nobody", "https://cms.example/hook")
    with pytest.raises(CommandError, match="Cannot query field 'nope'"):
        command("add", "Derby Telegraph", "https://cms.example/hook", "--selection", "{ nope }")
    with pytest.raises(CommandError, match="must use https://"):
        command("add", "Derby Telegraph", "http://cms.example/hook")
    with pytest.raises(CommandError, match="No webhook endpoint with id 99"):
        command("pause", "99")
    assert WebhookEndpoint.objects.count() == 0
    command("add", "Derby Telegraph", "https://cms.example/hook")
    endpoint = WebhookEndpoint.objects.get()
    with pytest.raises(CommandError, match="Unknown cursor"):
        command("resend", str(endpoint.pk), "--from", str(latest() + 5))
    assert WebhookEndpoint.objects.get().generation == 0


# ---------------------------------------------------------------- the admin


@pytest.fixture
def root():
    return client_for(get_user_model().objects.create_superuser("root", password=None))


def test_the_admin_refuses_a_bad_endpoint_with_the_reason_and_creates_nothing(root, partner):
    council_with_ballots()
    form = {
        "partner": partner.pk,
        "url": "http://cms.example/hook",
        "selection": "{ id nope }",
        "councils_text": "hookshire, atlantis",
        "kinds_text": "BALLOT_DECLARED",
    }
    page = root.post("/admin/push/webhookendpoint/add/", form).content.decode()
    assert "must use https://" in page
    assert "Cannot query field &#x27;nope&#x27; on type &#x27;Event&#x27;" in page
    assert "Unknown council slugs: atlantis." in page
    assert WebhookEndpoint.objects.count() == 0
    form.update(url="https://cms.example/hook", selection=SELECTION, councils_text="hookshire")
    response = root.post("/admin/push/webhookendpoint/add/", form, follow=True)
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.councils, endpoint.kinds, endpoint.delivered_cursor) == (
        ["hookshire"],
        ["BALLOT_DECLARED"],
        latest(),
    )
    assert f"<code>{endpoint.secret}</code>" in response.content.decode()
    assert (
        endpoint.secret not in root.get(f"/admin/push/webhookendpoint/{endpoint.pk}/change/").content.decode()
    )


def test_the_admin_shows_lag_and_recent_attempts_and_re_sends_from_a_cursor(root, partner):
    ballots = council_with_ballots()
    endpoint, _ = push.create_endpoint(
        partner, "https://cms.example/hook", selection=SELECTION, kinds=["BALLOT_DECLARED"]
    )
    for ballot in ballots:
        declare(ballot)
    WebhookAttempt.objects.create(
        endpoint=endpoint,
        cursor=latest(),
        delivery_id=endpoint.delivery_id(latest()),
        attempt=2,
        at="2023-05-05T01:02:03Z",
        status_code=503,
        duration_ms=41,
        error="HTTP 503",
        ok=False,
    )
    page = root.get(f"/admin/push/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert re.search(r"3 events behind, oldest \d+ s ago", page)
    assert (
        "<td>2023-05-05 01:02:03</td><td>" in page
        and "<td>2</td><td>503</td><td>41</td><td>HTTP 503</td>" in page
    )
    form = {
        "partner": partner.pk,
        "url": endpoint.url,
        "selection": SELECTION,
        "councils_text": "",
        "kinds_text": "BALLOT_DECLARED",
        "resend_from": "0",
    }
    root.post(f"/admin/push/webhookendpoint/{endpoint.pk}/change/", form)
    endpoint.refresh_from_db()
    assert (endpoint.delivered_cursor, endpoint.generation) == (0, 1)


def test_the_admin_actions_pause_and_resume(root, partner):
    endpoint, _ = push.create_endpoint(partner, "https://cms.example/hook", selection=SELECTION)
    url = "/admin/push/webhookendpoint/"
    root.post(url, {"action": "pause_endpoints", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert (endpoint.state, endpoint.paused_reason) == ("paused", "Paused by root.")
    assert "Paused</strong> Paused by root." in root.get(url).content.decode()
    root.post(url, {"action": "resume_endpoints", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert (endpoint.state, endpoint.paused_reason) == ("active", "")


@pytest.mark.parametrize("count", [2, 12])
def test_the_endpoint_list_takes_the_same_queries_for_two_endpoints_or_twelve(
    root, partner, count, django_assert_num_queries
):
    for n in range(count):
        push.create_endpoint(partner, f"https://cms.example/hook/{n}", selection=SELECTION)
    root.get("/admin/push/webhookendpoint/")  # warm the session
    with django_assert_num_queries(6):
        assert root.get("/admin/push/webhookendpoint/").status_code == 200


def test_staff_who_are_not_superusers_cannot_see_endpoints(partner):
    staff = get_user_model().objects.create_user("desk", is_staff=True)
    assert client_for(staff).get("/admin/push/webhookendpoint/").status_code == 403


# ---------------------------------------------------------------- the delivery loop, in process


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_the_deliverer_sends_each_event_in_order_signed_and_retries_a_failure(settings):
    settings.WEBHOOK_RETRY_BASE = 0.05
    settings.WEBHOOK_RETRY_CAP = 0.2
    ballots = await sync_to_async(council_with_ballots)("loopshire", 3)
    partner = await sync_to_async(keys.create_partner)("Loop Gazette")
    with Receiver(lambda n: 500 if n <= 2 else 200) as receiver:
        endpoint, secret = await sync_to_async(push.create_endpoint)(
            partner, receiver.url, selection=SELECTION, kinds=["BALLOT_DECLARED"]
        )
        for ballot in ballots:
            await sync_to_async(declare)(ballot)
        expected = [
            e.pk
            async for e in Event.objects.filter(
                id__gt=endpoint.delivered_cursor, kind="ballot_declared"
            ).order_by("id")
        ]
        deliverer = Deliverer(scan_interval=0.1, flush_interval=0.05)
        task = asyncio.create_task(deliverer.run())
        try:
            async with asyncio.timeout(20):
                while (await WebhookEndpoint.objects.aget(pk=endpoint.pk)).delivered_cursor != expected[-1]:
                    await asyncio.sleep(0.05)
        finally:
            deliverer.stop()
            await task
    assert [int(b["cursor"]) for b in receiver.bodies()] == [expected[0]] * 3 + expected[1:]
    assert [b["deliveryId"] for b in receiver.bodies()][:3] == [endpoint.delivery_id(expected[0])] * 3
    for headers, body, _, _ in receiver.received:
        assert signing.verify(secret, headers["Webhook-Timestamp"], body, headers["Webhook-Signature"])
    row = await WebhookEndpoint.objects.aget(pk=endpoint.pk)
    assert (row.delivered_cursor, row.failures, row.failing_since) == (expected[-1], 0, None)
    attempts = [(a.cursor, a.attempt, a.status_code, a.ok) async for a in row.attempts.order_by("id")]
    assert attempts == [
        (expected[0], 1, 500, False),
        (expected[0], 2, 500, False),
        (expected[0], 3, 200, True),
        (expected[1], 1, 200, True),
        (expected[2], 1, 200, True),
    ]


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_a_slow_endpoint_catching_up_does_not_hold_up_another():
    ballots = await sync_to_async(council_with_ballots)("slowshire", 6)
    partner = await sync_to_async(keys.create_partner)("Slow and Fast")
    start = await sync_to_async(latest)()
    for ballot in ballots:
        await sync_to_async(declare)(ballot)

    def slow(n):
        time.sleep(1)
        return 200

    with Receiver(slow) as tortoise, Receiver() as hare:
        for receiver in (tortoise, hare):  # both replay the same backlog of six declarations
            await sync_to_async(push.create_endpoint)(
                partner, receiver.url, selection=SELECTION, kinds=["BALLOT_DECLARED"], after=start
            )
        deliverer = Deliverer(scan_interval=0.1, flush_interval=0.05)
        task = asyncio.create_task(deliverer.run())
        try:
            async with asyncio.timeout(30):
                while len(hare.received) < 6:
                    await asyncio.sleep(0.02)
                slow_so_far = len(tortoise.received)
        finally:
            deliverer.stop()
            await task
    # The fast endpoint had all six while the slow one was at its first few (one at a time,
    # they would take turns: the sixth only after the slow one's fifth or sixth).
    assert slow_so_far <= 4


# ---------------------------------------------------------------- SSE, in process


def sse_post(client, body, **headers):
    return client.post(
        "/graphql",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Accept": "text/event-stream", **headers},
    )


@pytest.mark.anyio
async def test_a_query_over_sse_is_one_next_event_then_complete():
    client = AsyncClient()
    response = await sse_post(client, {"query": "{ parties { id } }"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache, no-transform"
    text = "".join(
        [chunk.decode() if isinstance(chunk, bytes) else chunk async for chunk in response.streaming_content]
    )
    assert text.startswith('event: next\ndata: {"data":{"parties":[')
    assert text.endswith("\n\nevent: complete\ndata: \n\n")


@pytest.mark.anyio
async def test_sse_refuses_bad_requests_before_streaming(settings):
    client = AsyncClient()
    bad_cursor = await sse_post(client, {"query": "subscription { events { id } }"}, **{"Last-Event-ID": "x"})
    assert (bad_cursor.status_code, json.loads(bad_cursor.content)["errors"][0]["message"]) == (
        400,
        "Last-Event-ID must be the id of the last event received (a whole number).",
    )
    invalid = await sse_post(client, {"query": "subscription { events { nope } }"})
    assert invalid.status_code == 400
    assert json.loads(invalid.content)["errors"][0]["message"] == "Cannot query field 'nope' on type 'Event'."
    not_json = await client.post(
        "/graphql", data="{", content_type="application/json", headers={"Accept": "text/event-stream"}
    )
    assert not_json.status_code == 400
    settings.PUBLIC_API = "keys"
    no_key = await sse_post(client, {"query": "subscription { events { id } }"})
    assert (no_key.status_code, json.loads(no_key.content)["errors"][0]["extensions"]["code"]) == (
        401,
        "UNAUTHENTICATED",
    )


@pytest.mark.anyio
async def test_sse_streams_count_against_the_subscription_cap(settings):
    partner = await sync_to_async(keys.create_partner)("Capped", max_subscriptions=0)
    _, raw = await sync_to_async(keys.issue_key)(partner)
    response = await sse_post(
        AsyncClient(), {"query": "subscription { events { id } }"}, **{"X-API-Key": raw}
    )
    assert response.status_code == 429
    error = json.loads(response.content)["errors"][0]
    assert error["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
    assert error["message"].startswith("Subscription limit reached: this key's partner may hold 0 at once.")


@pytest.mark.anyio
async def test_an_sse_stream_ends_with_forbidden_when_its_key_is_revoked(monkeypatch):
    from schema import access

    monkeypatch.setattr(access, "KEY_CHECK_INTERVAL", 0.2)
    partner = await sync_to_async(keys.create_partner)("Revoked Gazette")
    key, raw = await sync_to_async(keys.issue_key)(partner)
    response = await sse_post(
        AsyncClient(), {"query": "subscription { events { id } }"}, **{"X-API-Key": raw}
    )
    assert response.status_code == 200
    stream = aiter(response.streaming_content)
    await sync_to_async(keys.revoke_key)(key)
    chunks = []
    async with asyncio.timeout(10):
        async for chunk in stream:
            chunks.append(chunk.decode() if isinstance(chunk, bytes) else chunk)
    assert "".join(chunks) == (
        'event: next\ndata: {"errors": [{"message": "API key revoked or partner suspended: connection ended.", '
        '"extensions": {"code": "FORBIDDEN"}}]}\n\nevent: complete\ndata: \n\n'
    )
