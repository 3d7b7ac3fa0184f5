"""The live results pages in a real browser, against a real server process on PostgreSQL and Redis.

Playwright drives Debian's chromium (/usr/bin/chromium) at a uvicorn process
(as in test_live_servers.py); the data desk's declarations, corrections and
retractions go through ``results.services`` from this process, and the open
pages must show them without a reload. Screenshots at 1280 and 360 px of each
page go to artifacts/screenshots/ (or SCREENSHOTS_DIR), with the first-paint
times measured in the browser (live-first-paint.txt).

Needs PostgreSQL, Redis, chromium, playwright and axe-core (``npm ci`` in
tests/node): skipped without them unless REQUIRE_BROWSER=1 (as in CI).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections

from results import services
from results.models import Ballot, Event, Post

from .test_docs_queries import SEED_KEY_POINTS
from .test_live_servers import Server

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "tests" / "node" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or ROOT / "artifacts" / "screenshots")
DAY = "2023-05-04"
RUSHCLIFFE = f"/live/{DAY}/rushcliffe/"
BEACON = "local.rushcliffe.beacon.2023-05-04"
PROMPT = 2.0  # seconds: how soon an open page must show a change (the acceptance)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _missing() -> str | None:
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return "needs PostgreSQL: set DATABASE_URL"
    if not settings.REDIS_URL:
        return "needs Redis: set REDIS_URL"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium)"
    if not AXE.exists():
        return "axe-core is not installed (cd tests/node && npm ci)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


@pytest.fixture
def desk():
    """Run the data desk's service calls in a thread of their own.

    Playwright's sync API keeps an event loop in the test's thread, where the
    services' on-commit broadcast (async_to_sync) cannot run.
    """
    with ThreadPoolExecutor(1) as pool:

        def run(fn, *args, **kwargs):
            return pool.submit(fn, *args, **kwargs).result()

        yield run
        pool.submit(connections.close_all).result()


@pytest.fixture
def demo_server():
    """The demo loaded into the test database, and a server process serving it."""
    missing = _missing()
    if missing:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    call_command("load_demo", stdout=io.StringIO())
    server = Server().start()
    yield server
    server.stop()
    if output := server.output().strip():
        print(f"--- server said:\n{output}")


@pytest.fixture
def browser(demo_server):
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        # The test's own queries run beside Playwright's event loop: safe here, one thread.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                yield launched
            finally:
                launched.close()
                connections.close_all()  # the connections opened beside the event loop


def open_live(browser, server: Server, path: str, width: int = 1280):
    """Open a page in its own context and wait until its subscription is connected."""
    context = browser.new_context(
        viewport={"width": width, "height": 900}, base_url=f"http://127.0.0.1:{server.port}"
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path)
    page.wait_for_function("window.liveResults && window.liveResults.connected")
    page.errors = errors
    return page


def key_points(page) -> list[str]:
    return page.locator("#key-points li").all_inner_texts()


def ward_text(page, ballot_id: str) -> str:
    return page.locator(f'[data-ballot="{ballot_id}"]').inner_text()


WAITS: list[str] = []  # how long each change took to show, written to live-latency.txt


def within(page, condition: str, arg=None, seconds: float = PROMPT, label: str = "") -> float:
    """Wait for a JavaScript condition; fail if it takes longer than ``seconds``. Returns the wait."""
    started = time.monotonic()
    page.wait_for_function(condition, arg=arg, timeout=seconds * 1000)
    waited = time.monotonic() - started
    if label:
        WAITS.append(f"{label}: {waited * 1000:.0f} ms")
    return waited


def write_waits(name: str) -> None:
    (SCREENSHOTS / name).write_text("\n".join(WAITS) + "\n")
    print("\n".join(WAITS))
    WAITS.clear()


# The data desk's figures: a ward's winners are the first ``len(winners)`` names.
def declare(ballot_id: str, winners: list[str], *, correct: bool = False) -> None:
    ballot = Ballot.objects.get(ballot_paper_id=ballot_id)
    candidacies = list(ballot.candidacies.all())
    ranked = sorted(candidacies, key=lambda c: (c.person_name not in winners, c.person_name))
    # Plausible figures: no candidate above the valid papers, no more votes than papers x seats.
    votes = {c.pk: 900 - 50 * i for i, c in enumerate(ranked)}
    figures = {"electorate": 20000, "ballot_papers_counted": 9000, "rejected_ballots": 12}
    if correct:
        services.correct_ballot(ballot.pk, votes=votes, reason="figures transposed", **figures)
    else:
        services.declare_ballot(ballot.pk, votes=votes, **figures)


def rushcliffe_plan() -> list[tuple[str, list[str]]]:
    """Winners for Rushcliffe's undeclared wards so that the Conservatives end on exactly 23
    of 44 seats (the magic number) with Beacon, a one-seat ward, declared last."""
    ballots = Ballot.objects.filter(election__election_id=f"local.rushcliffe.{DAY}").exclude(
        status="declared"
    )
    plan, con_needed = [], 23 - 12 - 1  # 12 held now; Beacon's seat makes 23
    for b in ballots.order_by("ballot_paper_id").prefetch_related("candidacies__party"):
        if b.ballot_paper_id == BEACON:
            continue
        con = [c.person_name for c in b.candidacies.all() if c.party.ec_id == "PP52"]
        others = [c.person_name for c in b.candidacies.all() if c.party.ec_id != "PP52"]
        take = min(len(con), b.winner_count, con_needed)
        con_needed -= take
        plan.append((b.ballot_paper_id, con[:take] + others[: b.winner_count - take]))
    assert con_needed == 0, "the demo's Rushcliffe no longer fits this plan"
    return plan


def test_declarations_corrections_retractions_and_a_restart_reach_the_open_pages(browser, demo_server, desk):
    night = open_live(browser, demo_server, "/")
    council = open_live(browser, demo_server, RUSHCLIFFE)
    assert key_points(night)[0] == "Labour gain Mansfield"
    assert "No call yet" in council.locator("#summary").inner_text()
    cursor = night.evaluate("window.liveResults.cursor")

    # A declaration appears on the council page, in place, within 2 s.
    plan = desk(rushcliffe_plan)
    first_ward, first_winners = plan[0]
    desk(declare, first_ward, first_winners)
    within(
        council,
        "([id, name]) => document.querySelector(`[data-ballot='${id}']`).innerText.includes(name) &&"
        " document.querySelector(`[data-ballot='${id}'] .elected`) !== null",
        [first_ward, first_winners[0]],
        label="declaration -> council page",
    )
    assert "declared" in ward_text(council, first_ward).lower()

    for ballot_id, winners in plan[1:]:
        desk(declare, ballot_id, winners)
    # Beacon makes 23: the call, at the top of the key points and on the council page.
    desk(declare, BEACON, ["Donna Stevens"])
    within(
        night,
        "() => document.querySelector('#key-points li').innerText === 'Conservatives hold Rushcliffe'",
        label="declaration making the call -> key points",
    )
    within(
        council,
        "() => document.querySelector('#summary .headline').innerText.includes('Conservatives hold')",
        label="declaration making the call -> council page headline",
    )
    assert council.locator(f'[data-ballot="{BEACON}"] tr.elected th').inner_text().startswith("Donna Stevens")
    assert len([k for k in key_points(night) if "Rushcliffe" in k]) == 1

    # A correction replaces it: Labour took Beacon, so no party has 23.
    desk(declare, BEACON, ["Nigel Watson"], correct=True)
    within(
        night,
        "() => document.querySelector('#key-points li').innerText"
        " === 'Conservatives lose Rushcliffe to no overall control'",
        label="correction -> key points",
    )
    within(
        council,
        "() => document.querySelector(`[data-ballot='"
        + BEACON
        + "'] .elected`).innerText.includes('Nigel Watson')",
        label="correction -> council page ward",
    )
    assert [k for k in key_points(night) if "Rushcliffe" in k] == [
        "Conservatives lose Rushcliffe to no overall control"
    ]

    # A retraction removes it: Beacon is counting again, and the call is off.
    desk(lambda: services.retract_declaration(Ballot.objects.get(ballot_paper_id=BEACON), reason="wrong box"))
    within(
        night,
        "() => ![...document.querySelectorAll('#key-points li')].some(li => li.innerText.includes('Rushcliffe'))",
        label="retraction -> key points",
    )
    within(
        council,
        "() => document.querySelector(`[data-ballot='" + BEACON + "'] .elected`) === null",
        label="retraction -> council page ward",
    )
    assert "counting" in council.locator("#summary").inner_text().lower()

    # The server dies; the desk carries on; a new process comes up on the same port.
    erewash_card = night.locator("#card-erewash").inner_text()
    demo_server.kill()
    desk(declare, BEACON, ["Donna Stevens"])
    desk(declare, "local.erewash.greenwood.2023-05-04", ["Anthony Morgan"])
    demo_server.start()
    within(
        night,
        "() => document.querySelector('#key-points li').innerText === 'Conservatives hold Rushcliffe'",
        seconds=30,
        label="server restarted -> key points caught up",
    )
    within(
        council,
        "() => document.querySelector(`[data-ballot='" + BEACON + "'] .elected`) !== null",
        seconds=30,
    )
    within(
        night, "text => document.querySelector('#card-erewash').innerText !== text", erewash_card, seconds=30
    )

    # Every event after the pages' cursor applied once, in order, none missed.
    expected = [str(i) for i in Event.objects.filter(id__gt=int(cursor)).values_list("id", flat=True)]
    night.wait_for_function("n => window.liveResults.applied.length >= n", arg=len(expected))
    assert night.evaluate("window.liveResults.applied") == expected
    council_applied = council.evaluate("window.liveResults.applied")
    rushcliffe_events = [
        str(i)
        for i in Event.objects.filter(id__gt=int(cursor), council__slug="rushcliffe").values_list(
            "id", flat=True
        )
    ]
    assert council_applied == rushcliffe_events
    assert [k for k in key_points(night) if "Rushcliffe" in k] == ["Conservatives hold Rushcliffe"]
    assert council.locator(f'[data-ballot="{BEACON}"]').count() == 1
    assert night.errors == [] and council.errors == []
    write_waits("live-latency.txt")


def reloaded(page) -> None:
    """Mark the page; ``fresh`` below waits until a reload has dropped the mark."""
    page.evaluate("window.beforeReload = true")


FRESH = "() => window.beforeReload === undefined && window.liveResults && window.liveResults.connected"


def test_a_rehearsal_reloads_the_open_pages_with_its_banner_until_the_reset(browser, demo_server, desk):
    night = open_live(browser, demo_server, "/")
    council = open_live(browser, demo_server, RUSHCLIFFE)
    assert night.locator("#rehearsal").count() == 0 and council.locator("#rehearsal").count() == 0
    # Back to the eve (the demo is loaded with its night): a RESET, and every open page reloads.
    for page in (night, council):
        reloaded(page)
    desk(services.reset_to_eve, dt.date(2023, 5, 4))
    for page in (night, council):
        within(page, FRESH, seconds=10, label="reset -> page reloaded")
    # (text_content: the status badge is shown in capitals by CSS, "AWAITING COUNT".)
    assert "Awaiting" in council.locator(f'[data-ballot="{BEACON}"]').text_content()
    # A rehearsal starts: the pages reload with the banner, above everything, and say so in their title.
    for page in (night, council):
        reloaded(page)
    desk(services.start_rehearsal, dt.date(2023, 5, 4), label="Dress rehearsal")
    for page in (night, council):
        within(page, FRESH, seconds=10, label="rehearsal started -> page reloaded with its banner")
        banner = page.locator("#rehearsal")
        assert banner.is_visible()
        assert banner.inner_text().startswith("Rehearsal: test data, not real results.")
        assert "(Dress rehearsal)" in banner.inner_text()
        assert page.title().startswith("REHEARSAL, not real results: ")
        assert page.evaluate("document.body.firstElementChild.nextElementSibling.id") == "rehearsal"
    for width in (1280, 360):
        night.set_viewport_size({"width": width, "height": 900})
        night.screenshot(path=str(SCREENSHOTS / f"live-rehearsal-{width}.png"))
    # A declaration while rehearsing arrives flagged, in place, under the banner.
    desk(declare, BEACON, ["Donna Stevens"])
    within(council, f"() => document.querySelector(`[data-ballot='{BEACON}'] .elected`) !== null")
    assert council.locator("#rehearsal").is_visible()
    # The reset: every page reloads without the banner, back at the eve.
    for page in (night, council):
        reloaded(page)
    desk(services.reset_to_eve, dt.date(2023, 5, 4))
    for page in (night, council):
        within(page, FRESH, seconds=10, label="reset -> page reloaded without the banner")
        assert page.locator("#rehearsal").count() == 0
        assert not page.title().startswith("REHEARSAL")
    assert council.locator(f'[data-ballot="{BEACON}"] .elected').count() == 0
    assert night.errors == [] and council.errors == []
    write_waits("live-rehearsal-latency.txt")


PAGES = {
    "night": "/",
    "council": RUSHCLIFFE,
    "mayor": f"/live/{DAY}/mansfield/mayor/",
}


def first_paint_ms(page) -> float:
    """The browser's own first-contentful-paint time of the page, in milliseconds."""
    return page.evaluate(
        "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? "
        "performance.getEntriesByType('paint')[0].startTime"
    )


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations of the page, as "rule: target" lines."""
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {node['target']}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
        for node in v["nodes"]
    ]


def swatches_apart_from_their_names(page) -> list[str]:
    """The names in the scoreboard and composition tables whose colour swatch is not beside their first line."""
    return page.evaluate(
        """() => [...document.querySelectorAll('table.score tbody th, table.composition tbody th')].flatMap(th => {
            const swatch = th.querySelector('.swatch');
            const text = [...th.childNodes].find(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
            if (!swatch || !text) return [];
            const range = document.createRange();
            range.selectNodeContents(text);
            const first = range.getClientRects()[0], box = swatch.getBoundingClientRect();
            const middle = (box.top + box.bottom) / 2;
            return middle > first.top && middle < first.bottom && box.right <= first.left + 1 ? [] : [th.textContent];
        })"""
    )


def test_pages_first_paint_accessibility_and_screenshots(browser, demo_server):
    timings = []
    for width in (1280, 360):
        for name, path in PAGES.items():
            page = open_live(browser, demo_server, path, width=width)
            # First paint: the server-rendered page, before any script ran.
            timings.append(f"{name} {width}px: first contentful paint {first_paint_ms(page):.0f} ms")
            page.screenshot(path=str(SCREENSHOTS / f"live-{name}-{width}.png"), full_page=True)
            if width == 1280 and name in ("night", "council"):
                assert serious_violations(page) == [], name
            # Nothing scrolls sideways on a phone.
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), (
                name,
                width,
            )
            # Each party's colour sits on the first line of its name, never on a line of its own.
            assert swatches_apart_from_their_names(page) == [], (name, width)
            assert page.errors == []
            page.context.close()
    (SCREENSHOTS / "live-first-paint.txt").write_text("\n".join(timings) + "\n")
    print("\n".join(timings))


def test_the_night_page_is_complete_without_javascript(browser, demo_server):
    context = browser.new_context(java_script_enabled=False, base_url=f"http://127.0.0.1:{demo_server.port}")
    page = context.new_page()
    page.goto("/")
    points = key_points(page)
    # The seed's summary, council by council, most recently called first, then the mayors.
    assert points[:21] == list(SEED_KEY_POINTS)
    assert points[21:] == [
        "Labour hold Mayor of Leicester: Sir Peter Soulsby elected",
        "Labour hold Mayor of Mansfield: Andy Abrahams elected",
    ]
    assert len(points) == 23
    banner = page.locator("#banner").inner_text()
    assert banner == "Counting continues: 412 of 437 ballots declared; 21 of 23 councils called"
    first_post = page.locator("#posts article").first.inner_text()
    assert "Kevin Stanley" in first_post and "Reporter, BBC Radio Nottingham" in first_post
    # Keyboard: the skip link is the first stop, then the council links are reachable by Tab.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to results"
    context.close()


def test_posts_appear_update_and_go_on_the_open_page(browser, demo_server, desk):
    night = open_live(browser, demo_server, "/")
    image = f"http://127.0.0.1:{demo_server.port}/static/admin/img/icon-yes.svg"

    def publish():
        post = services.save_post(
            Post(),
            changes={
                "headline": "Recount called in Riverside",
                "body": "Candidates asked for a recount.\n\nIt starts at once.",
                "author_name": "Hugh Casswell",
                "author_role": "Political reporter",
                "author_outlet": "BBC Radio Nottingham",
                "breaking": True,
                "image_url": image,
                "image_caption": "The count at Rushcliffe",
                "image_credit": "BBC",
            },
        )
        services.publish_post(post)
        return post

    post = desk(publish)
    first = "document.querySelector('#posts article')"
    within(night, f"() => {first}.innerText.includes('Recount called in Riverside')", label="post published")
    article = night.locator("#posts article").first
    text = article.inner_text()
    assert "BREAKING" in text.upper() and "Hugh Casswell" in text
    assert "Political reporter, BBC Radio Nottingham" in text
    assert article.locator("figcaption").inner_text() == "The count at Rushcliffe\nImage source: BBC"
    assert article.locator("img").get_attribute("alt") == "The count at Rushcliffe"

    desk(lambda: services.save_post(post, changes={"headline": "Recount under way in Riverside"}))
    within(night, f"() => {first}.innerText.includes('Recount under way')", label="post updated")
    assert night.locator(f"#post-{post.uid}").count() == 1

    desk(lambda: services.withdraw_post(post, reason="duplicate"))
    within(night, f"() => document.getElementById('post-{post.uid}') === null", label="post withdrawn")
    assert night.locator("#posts article").first.inner_text().startswith("Labour's Andy Abrahams")
    assert night.errors == []
    write_waits("live-latency-posts.txt")
