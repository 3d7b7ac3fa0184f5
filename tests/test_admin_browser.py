"""The data desk's console in a real browser: Playwright driving Debian's chromium against a live server.

Run only these with ``pytest -m browser``. Without /usr/bin/chromium (or the
playwright package) they are skipped, unless REQUIRE_BROWSER=1 (as in CI),
which turns the skip into a failure. A screenshot of each step goes to
artifacts/screenshots/ (or SCREENSHOTS_DIR).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from results import drafts, services
from results.models import Ballot, Candidacy, Event

from . import factories as f
from .desk import PASSWORD, staff

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or ROOT / "artifacts" / "screenshots")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -r requirements-dev.txt)"
    return None


@pytest.fixture
def browser(live_server):
    """A headless chromium, for one test.

    Started after the test database is set up and stopped before it is
    flushed: while Playwright's sync API runs, this thread has an event loop,
    and Django hands the code here other database connection objects than
    its own (its connection handler is context-local). The test's data is
    therefore best created by fixtures listed before ``open_page``.
    """
    missing = _missing()
    if missing:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from django.db import connections
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        # The test's own queries run beside Playwright's event loop: safe here, one thread.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                yield launched
            finally:
                launched.close()
                connections.close_all()  # the connections opened beside the event loop


@pytest.fixture
def open_page(browser, live_server):
    """Open a fresh browser context (its own cookies: one per person) at the live server."""
    contexts = []

    def opener(width: int = 1280, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height}, base_url=live_server.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield opener
    for context in contexts:
        context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"admin-{name}.png"), full_page=True)


def log_in(page, username: str) -> None:
    page.goto("/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    page.locator("#user-tools").wait_for()  # logged in


def focused(page) -> str:
    """The name (or id) of the element that has the keyboard focus."""
    return page.evaluate("document.activeElement.name || document.activeElement.id")


def type_and_enter(page, value: str) -> None:
    page.keyboard.type(value)
    page.keyboard.press("Enter")


@pytest.fixture
def rushcliffe():
    """Three single-member wards, Conservative before the poll; Abbey already declared (a Labour gain)."""
    e = f.election("rushcliffe", seats_total=3, before={"PP52": (2, 0), "PP53": (1, 0)}, name="Rushcliffe")
    candidates = [("Helen Walsh", "PP53"), ("Rob Inglis", "PP52"), ("Jen Carter", "PP90")]
    wards = [f.ballot(e, name, candidates, previous={"PP52": 1}) for name in ("Abbey", "Bingham", "Cotgrave")]
    services.declare_ballot(wards[0], votes=f.votes(wards[0], Walsh=900, Inglis=700, Carter=120))
    return e, wards


@pytest.fixture
def desk():
    return staff("desk", password=True)


@pytest.fixture
def bob():
    return staff("bob", password=True)


def test_the_data_desk_declares_a_ward_with_the_keyboard_and_sees_control_change(rushcliffe, desk, open_page):
    e, (abbey, bingham, cotgrave) = rushcliffe
    page = open_page()
    page.goto("/admin/")
    shot(page, "01-login")
    log_in(page, "desk")

    page.click("#overview-link")
    page.locator("#overview").wait_for()
    row = page.locator('tr[data-election="local.rushcliffe.2023-05-04"]')
    assert row.locator(".ballots-declared").inner_text() == "1 of 3"
    assert row.locator(".control").inner_text().startswith("Not called yet")
    shot(page, "02-overview-before")

    row.locator(".work-list-link").click()
    page.locator("#result_list").wait_for()
    assert [link.inner_text() for link in page.locator("#result_list th.field-contest a").all()] == [
        "Bingham",
        "Cotgrave",
    ]
    shot(page, "03-work-list")

    page.click("text=Bingham")
    page.wait_for_load_state("load")
    # From here on, the keyboard only.
    by_surname = {c.person_name.split()[-1]: c.pk for c in bingham.candidacies.all()}
    assert focused(page) == f"votes_{by_surname['Carter']}"  # ballot-paper order: Carter, Inglis, Walsh
    type_and_enter(page, "150")
    assert focused(page) == f"votes_{by_surname['Inglis']}"
    type_and_enter(page, "1,010")
    assert focused(page) == f"votes_{by_surname['Walsh']}"
    type_and_enter(page, "1204")
    assert focused(page) == "ballot_papers_counted"
    type_and_enter(page, "2,380")
    assert focused(page) == "rejected_ballots"
    type_and_enter(page, "16")
    assert focused(page) == "electorate"
    page.keyboard.type("6100")
    shot(page, "04-votes-typed")
    page.keyboard.press("Enter")  # the last box: preview

    preview = page.locator("#preview")
    preview.wait_for()
    assert page.locator("#preview-winners").inner_text() == "Helen Walsh (Labour) 1204 votes"
    assert page.locator("#preview-changes").inner_text() == "Labour gain Bingham from Conservatives"
    assert re.sub(r"\s+", " ", page.locator(".control-change").inner_text()) == (
        "Control call changes: not called → Labour gain Rushcliffe"
    )
    assert focused(page) == "_confirm"
    assert Ballot.objects.get(pk=bingham.pk).status == "awaiting"  # nothing published by a preview
    shot(page, "05-preview")

    page.keyboard.press("Enter")  # confirm
    page.wait_for_url(f"**/admin/results/ballot/{cotgrave.pk}/change/")
    assert page.locator(".messagelist").inner_text() == (
        "Declared Bingham: Labour gain Bingham from Conservatives. Control: Labour gain Rushcliffe."
    )
    cotgrave_first = min(cotgrave.candidacies.all(), key=lambda c: c.person_name.split()[-1]).pk
    assert focused(page) == f"votes_{cotgrave_first}"  # the next ward of the work list, ready to type
    shot(page, "06-next-ward")

    bingham.refresh_from_db()
    assert (bingham.status, bingham.ballot_papers_counted, bingham.rejected_ballots, bingham.electorate) == (
        "declared",
        2380,
        16,
        6100,
    )
    assert sorted(
        Candidacy.objects.filter(ballot=bingham).values_list("person_name", "votes", "elected")
    ) == [
        ("Helen Walsh", 1204, True),
        ("Jen Carter", 150, False),
        ("Rob Inglis", 1010, False),
    ]
    assert Event.objects.filter(kind="ballot_declared", ballot=bingham).get().actor == desk

    page.goto("/admin/election-night/")
    row = page.locator('tr[data-election="local.rushcliffe.2023-05-04"]')
    assert row.locator(".ballots-declared").inner_text() == "2 of 3"
    assert row.locator(".seats-declared").inner_text() == "2 of 3"
    assert row.locator(".control-called").inner_text() == "Labour gain Rushcliffe"
    assert re.sub(r"\s+", " ", row.locator(".composition").inner_text()).strip() == "Lab 2 (+2) Con 0 (-2)"
    shot(page, "07-overview-after")


def test_a_second_editors_stale_declaration_is_refused(rushcliffe, desk, bob, open_page):
    _, (_, bingham, _) = rushcliffe
    desk_page, bob_page = open_page(), open_page()
    log_in(desk_page, "desk")
    log_in(bob_page, "bob")
    url = f"/admin/results/ballot/{bingham.pk}/change/"
    desk_page.goto(url)  # desk opens the ward first...
    bob_page.goto(url)
    for value in ("100", "700", "800"):  # ...but bob declares it first.
        type_and_enter(bob_page, value)
    for _ in range(3):
        bob_page.keyboard.press("Enter")  # leave the count boxes empty
    bob_page.locator("#confirm").wait_for()
    bob_page.keyboard.press("Enter")
    bob_page.locator(".messagelist").wait_for()  # declared, and on to the next ward

    for value in ("100", "800", "700"):
        type_and_enter(desk_page, value)
    for _ in range(3):
        desk_page.keyboard.press("Enter")
    conflict = desk_page.locator("#conflict")
    conflict.wait_for()
    assert re.match(
        r"Bingham was changed by bob at \d\d:\d\d:\d\d \(ballot declared\) after you opened it\. "
        r"Nothing of yours was saved: their figures are below next to yours\.",
        conflict.locator("p").inner_text(),
    )
    rows = [re.split(r"\t", r.inner_text()) for r in conflict.locator("tbody tr").all()]
    assert rows == [["Rob Inglis", "700", "800"], ["Helen Walsh", "800", "700"]]
    shot(desk_page, "08-stale-save-refused")
    assert sorted(
        Candidacy.objects.filter(ballot=bingham).values_list("person_name", "votes", "elected")
    ) == [
        ("Helen Walsh", 800, True),
        ("Jen Carter", 100, False),
        ("Rob Inglis", 700, False),
    ]
    assert list(
        Event.objects.filter(ballot=bingham, kind__startswith="ballot_").values_list(
            "kind", "actor__username"
        )
    ) == [("ballot_declared", "bob")]


def test_a_validation_error_is_shown_next_to_its_field(rushcliffe, desk, open_page):
    _, (_, bingham, _) = rushcliffe
    page = open_page()
    log_in(page, "desk")
    page.goto(f"/admin/results/ballot/{bingham.pk}/change/")
    for value in ("150", "1,010", "2,500", "2,380", "16"):
        type_and_enter(page, value)
    page.keyboard.press("Enter")  # electorate left empty: preview
    walsh = bingham.candidacies.get(person_name="Helen Walsh").pk
    error = page.locator(f"#row-{walsh} .field-error")
    error.wait_for()
    assert error.inner_text() == (
        "2,500 votes is more than the 2,364 valid ballot papers counted (2,380 counted, 16 rejected)."
    )
    assert page.locator(".field-error").count() == 1
    assert focused(page) == f"votes_{walsh}"  # the box to fix has the focus
    assert page.locator("#confirm").count() == 0
    shot(page, "09-validation-error")
    assert Ballot.objects.get(pk=bingham.pk).status == "awaiting"
    assert list(Candidacy.objects.filter(ballot=bingham).values_list("votes", flat=True)) == [
        None,
        None,
        None,
    ]


def box_values(page) -> list[str]:
    """What the vote and count boxes hold, in tab order."""
    return page.evaluate("Array.from(document.querySelectorAll('input.count-input')).map((box) => box.value)")


def test_typing_over_saved_figures_replaces_them(rushcliffe, desk, open_page):
    _, (_, bingham, _) = rushcliffe
    drafts.save_count_in_progress(
        bingham, votes=f.votes(bingham, Carter=800, Inglis=1010, Walsh=1204), electorate=6100
    )
    page = open_page()
    log_in(page, "desk")
    page.goto(f"/admin/results/ballot/{bingham.pk}/change/")
    # On load: the first box has the focus, and its saved figure is selected.
    assert focused(page) == f"votes_{f.pk(bingham, 'Carter')}"
    page.keyboard.type("800")  # the same figure again
    page.keyboard.press("Tab")  # Tab to the next box
    type_and_enter(page, "1300")  # over 1010
    page.keyboard.type("1204")  # reached with Enter
    shot(page, "10-typing-replaces-saved-figures")
    assert box_values(page) == ["800", "1300", "1204", "", "", "6100"]


def test_typing_over_a_declared_wards_figures_replaces_them(rushcliffe, desk, open_page):
    _, (abbey, _, _) = rushcliffe
    page = open_page()
    log_in(page, "desk")
    page.goto(f"/admin/results/ballot/{abbey.pk}/change/")
    assert focused(page) == f"votes_{f.pk(abbey, 'Carter')}"
    assert box_values(page)[:3] == ["120", "700", "900"]
    for figure in ("130", "710", "900"):
        type_and_enter(page, figure)
    shot(page, "11-typing-replaces-declared-figures")
    assert box_values(page)[:3] == ["130", "710", "900"]


class Counted:
    """Keystrokes sent and pages loaded in one tab: the cost of the honest path, measured."""

    def __init__(self, page):
        self.page = page
        self.keys = 0
        self.loads = 0
        page.on("load", self._loaded)

    def _loaded(self, _page) -> None:
        self.loads += 1

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)
        self.keys += len(text)

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)
        self.keys += 1

    def type_and_enter(self, text: str) -> None:
        self.type(text)
        self.press("Enter")


def in_viewport(page, selector: str) -> bool:
    """Whether the element is wholly inside the viewport as it is scrolled now."""
    return page.evaluate(
        """(selector) => {
            const box = document.querySelector(selector).getBoundingClientRect();
            return box.top >= 0 && box.left >= 0 && box.bottom <= window.innerHeight && box.right <= window.innerWidth;
        }""",
        selector,
    )


@pytest.fixture
def allestree():
    """A three-seat ward with nine candidates in a six-party council: the longest preview of the demo's kind."""
    e = f.election(
        "derby",
        seats_total=6,
        before={"PP52": (3, 3), "PP53": (2, 0), "PP90": (1, 0)},
        name="Derby",
    )
    parties = ["PP52", "PP53", "PP90"]
    names = [
        "Ann Able",
        "Bob Baker",
        "Cat Cole",
        "Dan Dodd",
        "Eve Eden",
        "Fay Ford",
        "Gus Gray",
        "Hal Hunt",
        "Ida Iles",
    ]
    ward = f.ballot(
        e, "Allestree", [(n, parties[i % 3]) for i, n in enumerate(names)], seats=3, previous={"PP52": 3}
    )
    return e, ward


@pytest.mark.parametrize(
    ("width", "height"), [(1280, 800), (1280, 680)]
)  # 1280x680: a 13-inch laptop's window
def test_the_preview_headline_and_confirm_are_both_in_view_when_confirm_has_the_focus(
    allestree, desk, open_page, width, height
):
    _, ward = allestree
    page = open_page(width, height)
    log_in(page, "desk")
    page.goto(f"/admin/results/ballot/{ward.pk}/change/")
    for votes in ("1500", "1400", "1300", "900", "800", "700", "300", "200", "100"):
        type_and_enter(page, votes)
    for count in ("3,100", "20"):
        type_and_enter(page, count)
    type_and_enter(page, "9,000")  # the last box: preview
    page.locator("#preview").wait_for()
    assert focused(page) == "_confirm"
    assert page.locator("#preview-winners li").count() == 3
    shot(page, f"12-preview-and-confirm-{width}x{height}")
    page.screenshot(path=str(SCREENSHOTS / f"admin-12-viewport-{width}x{height}.png"))  # what is on screen
    for selector in ("#preview h2", "#preview-headline", "#confirm"):
        assert in_viewport(page, selector), f"{selector} is outside the {width}x{height} viewport"
    assert Ballot.objects.get(pk=ward.pk).status == "awaiting"


def test_enter_enter_declares_a_clean_ward_in_two_page_loads(rushcliffe, desk, open_page):
    _, (_, bingham, cotgrave) = rushcliffe
    page = open_page(1280, 800)
    log_in(page, "desk")
    page.goto(f"/admin/results/ballot/{bingham.pk}/change/")
    desk_ = Counted(page)
    for figure in ("150", "1,010", "1204", "2,380", "16", "6100"):
        desk_.type_and_enter(figure)
    page.locator("#preview").wait_for()
    assert in_viewport(page, "#preview-headline") and in_viewport(page, "#confirm")
    desk_.press("Enter")  # confirm
    page.wait_for_url(f"**/admin/results/ballot/{cotgrave.pk}/change/")
    page.locator(".messagelist").wait_for()
    shot(page, "13-declared-with-enter-enter")
    # The figures as the returning officer reads them, six Enters and one more to confirm.
    assert (desk_.keys, desk_.loads) == (30, 2)
    assert Ballot.objects.get(pk=bingham.pk).status == "declared"


def test_800800_is_stopped_by_the_plausibility_warning(rushcliffe, desk, open_page):
    _, (_, bingham, _) = rushcliffe
    drafts.save_count_in_progress(bingham, votes=f.votes(bingham, Carter=150, Inglis=1010, Walsh=800))
    page = open_page(1280, 800)
    log_in(page, "desk")
    page.goto(f"/admin/results/ballot/{bingham.pk}/change/")
    page.keyboard.press("Enter")  # Carter's 150 stands
    page.keyboard.press("Enter")  # Inglis's 1010 stands
    # Walsh's 800 typed again: suppose the box kept its figure (the old slip) and it became 800800.
    page.keyboard.type("800800")
    for _ in range(4):
        page.keyboard.press("Enter")  # the count boxes left empty, then preview
    warnings = page.locator("#warnings")
    warnings.wait_for()
    assert [li.inner_text() for li in warnings.locator("li").all()] == [
        "Helen Walsh has 800,800 votes, more than 10 times the next candidate's 1,010.",
        "Helen Walsh: 800,800 repeats the digits of the figure saved before 800: was the box cleared before typing?",
        "Helen Walsh: 800 → 800,800 is 1001.0 times the figure saved before.",
    ]
    assert focused(page) == "figures_checked"
    assert in_viewport(page, "#warnings") and in_viewport(page, "#confirm")
    shot(page, "14-800800-warned")
    page.keyboard.press("Enter")  # the habit: Enter, Enter
    page.keyboard.press("Enter")
    assert focused(page) == "figures_checked"  # still there: Enter does not tick, nor publish
    page.locator("#confirm").click()  # Confirm without the tick
    page.locator("#checked-error").wait_for()
    shot(page, "15-800800-refused")
    assert Ballot.objects.get(pk=bingham.pk).status == "awaiting"
    assert not Event.objects.filter(ballot=bingham, kind__startswith="ballot_").exists()  # nothing published


def test_a_correction_without_a_reason_is_refused_and_its_preview_says_what_changed(
    rushcliffe, desk, open_page
):
    _, (abbey, _, _) = rushcliffe
    page = open_page(1280, 800)
    log_in(page, "desk")
    page.goto(f"/admin/results/ballot/{abbey.pk}/change/")
    for figure in ("120", "950", "900", "2,000", "10", "5,000"):  # Carter, Inglis, Walsh, then the count
        type_and_enter(page, figure)
    assert focused(page) == "reason"  # a correction's Enter chain ends in its reason
    page.keyboard.press("Enter")  # no reason
    error = page.locator(".errorlist li")
    error.wait_for()
    assert error.inner_text() == "Say why you are correcting this result: the reason is kept in its history."
    assert focused(page) == "reason"
    assert page.locator("#preview").count() == 0
    shot(page, "16-correction-without-reason")
    type_and_enter(page, "Inglis's second bundle was missed")
    diff = page.locator("#correction-diff li")
    diff.first.wait_for()
    assert [li.inner_text() for li in diff.all()] == [
        "Rob Inglis: 700 → 950",
        "Ballot papers counted: — → 2,000",
        "Rejected ballot papers: — → 10",
        "Electorate: — → 5,000",
        "Elected: Helen Walsh → Rob Inglis",
        "Seat change: Labour gain Abbey from Conservatives → Conservatives hold Abbey",
    ]
    assert in_viewport(page, "#preview-headline") and in_viewport(page, "#confirm")
    shot(page, "17-correction-preview")
    page.keyboard.press("Enter")
    page.locator(".messagelist").wait_for()
    history = page.locator("#history .diff li")
    assert [li.inner_text() for li in history.all()] == [
        "Rob Inglis: 700 → 950",
        "Ballot papers counted: — → 2,000",
        "Rejected ballot papers: — → 10",
        "Electorate: — → 5,000",
        "Elected: Helen Walsh → Rob Inglis",
        "Seat change: Labour gain Abbey from Conservatives → Conservatives hold Abbey",
    ]
    shot(page, "18-correction-in-history")
    assert Event.objects.filter(ballot=abbey, kind="ballot_corrected").get().payload["reason"] == (
        "Inglis's second bundle was missed"
    )


def test_the_overview_shows_a_declaration_from_another_browser_within_3_seconds(
    rushcliffe, desk, bob, open_page
):
    from django.core.cache import cache

    from results import presence

    cache.delete(presence.INDEX_KEY)
    _, (_, bingham, _) = rushcliffe
    watcher, typist = open_page(), open_page()
    log_in(watcher, "desk")
    log_in(typist, "bob")
    watcher.goto("/admin/election-night/")
    row = watcher.locator('tr[data-election="local.rushcliffe.2023-05-04"]')
    assert row.locator(".ballots-declared").inner_text() == "1 of 3"
    watcher.evaluate("window.notReloaded = true")

    typist.goto(f"/admin/results/ballot/{bingham.pk}/change/")
    # Within a poll or two, the overview says bob has Bingham open.
    watcher.wait_for_function(
        "document.querySelector('tr[data-election=\"local.rushcliffe.2023-05-04\"] .open-now')"
        ".textContent === 'Bingham (bob)'",
        timeout=3_000,
    )
    shot(watcher, "19-overview-shows-who-has-a-ward-open")
    for figure in ("150", "1,010", "1204", "2,380", "16", "6100"):
        type_and_enter(typist, figure)
    typist.locator("#confirm").wait_for()
    typist.keyboard.press("Enter")
    typist.locator(".messagelist").wait_for()
    declared_at = time.monotonic()
    watcher.wait_for_function(
        "document.querySelector('tr[data-election=\"local.rushcliffe.2023-05-04\"] .ballots-declared')"
        ".textContent === '2 of 3'",
        timeout=3_000,
    )
    seen_after = time.monotonic() - declared_at
    assert seen_after < 3
    assert watcher.evaluate("window.notReloaded") is True  # updated in place, not reloaded
    assert row.locator(".control-called").inner_text() == "Labour gain Rushcliffe"
    shot(watcher, "20-overview-updated-live")


def test_the_desk_adds_and_withdraws_a_candidate_before_the_declaration(rushcliffe, desk, open_page):
    _, (_, bingham, _) = rushcliffe
    page = open_page()
    log_in(page, "desk")
    page.goto(f"/admin/results/ballot/{bingham.pk}/change/")
    page.click("#candidates-link")
    page.locator("#add-candidate").wait_for()
    page.fill("#id_add-person_name", "Pat Green")
    page.select_option("#id_add-party", label="Green Party (PP63)")
    page.click("#add-candidate button[type=submit]")
    page.locator(".messagelist").wait_for()
    shot(page, "21-candidate-added")
    walsh = bingham.candidacies.get(person_name="Helen Walsh")
    row = page.locator(f"#candidate-{walsh.pk}")
    row.locator("input[name=reason]").fill("died on 28 April; poll countermanded")
    row.locator("button.danger-button").click()
    page.locator(".messagelist").wait_for()
    shot(page, "22-candidate-withdrawn")
    bingham.refresh_from_db()
    assert bingham.status == "postponed"
    assert sorted(bingham.candidacies.values_list("person_name", flat=True)) == [
        "Jen Carter",
        "Pat Green",
        "Rob Inglis",
    ]
    assert [e.payload["change"] for e in Event.objects.filter(ballot=bingham, kind="nominations")] == [
        "added",
        "withdrawn",
    ]


def test_two_person_mode_refuses_self_confirmation(rushcliffe, desk, bob, open_page, settings):
    settings.TWO_PERSON_CHECK = True
    _, (_, bingham, cotgrave) = rushcliffe
    desk_page, bob_page = open_page(1280, 800), open_page(1280, 800)
    log_in(desk_page, "desk")
    log_in(bob_page, "bob")
    url = f"/admin/results/ballot/{bingham.pk}/change/"
    figures = ("150", "1,010", "1204", "2,380", "16", "6100")

    desk_page.goto(url)
    for figure in figures:
        type_and_enter(desk_page, figure)
    assert desk_page.locator("#confirm").inner_text() == "Send for a second editor's check"
    desk_page.keyboard.press("Enter")
    desk_page.wait_for_url(f"**/admin/results/ballot/{cotgrave.pk}/change/")
    assert desk_page.locator(".messagelist").inner_text() == (
        "Sent Bingham for a second editor's check: not public until another editor types the same figures."
    )
    assert Ballot.objects.get(pk=bingham.pk).status == "awaiting"

    desk_page.goto(url)  # the same editor tries to confirm their own figures
    assert (
        "You sent these figures for a second editor's check" in desk_page.locator("#two-person").inner_text()
    )
    for _ in figures:
        desk_page.keyboard.press("Enter")  # their own figures are in the boxes
    desk_page.locator("#confirm").wait_for()
    desk_page.keyboard.press("Enter")
    refused = desk_page.locator('[data-section="checked_by"]')
    refused.wait_for()
    assert refused.inner_text() == (
        "You typed the figures of Bingham waiting for a check: a second editor must type them again to publish them."
    )
    shot(desk_page, "23-two-person-self-confirmation-refused")
    assert Ballot.objects.get(pk=bingham.pk).status == "awaiting"
    assert not Event.objects.filter(ballot=bingham, kind__startswith="ballot_").exists()  # nothing published

    bob_page.goto(url)  # the second editor types blind
    assert box_values(bob_page) == ["", "", "", "", "", ""]
    assert bob_page.locator("#two-person").inner_text().startswith("desk typed Bingham at ")
    for figure in figures:
        type_and_enter(bob_page, figure)
    assert bob_page.locator("#confirm").inner_text() == "Confirm: publish if they match"
    shot(bob_page, "24-two-person-second-editor")
    bob_page.keyboard.press("Enter")
    bob_page.wait_for_url(f"**/admin/results/ballot/{cotgrave.pk}/change/")
    assert bob_page.locator(".messagelist").inner_text() == (
        "Declared Bingham (typed by desk, checked by you): Labour gain Bingham from Conservatives. "
        "Control: Labour gain Rushcliffe."
    )
    event = Event.objects.get(ballot=bingham, kind="ballot_declared")
    assert (event.actor, event.payload["typed_by"]) == (bob, "desk")


@pytest.fixture
def eve():
    """A council on the eve of its poll (nothing declared: a rehearsal may start)."""
    e = f.election("gedling", seats_total=2, before={"PP52": (2, 0)}, name="Gedling")
    return [
        f.ballot(e, name, [("Ann Able", "PP53"), ("Bob Baker", "PP52")]) for name in ("Arnold", "Carlton")
    ]


def test_an_open_console_page_shows_a_rehearsal_and_its_reset_without_a_reload(eve, desk, open_page):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    page = open_page()
    log_in(page, "desk")
    page.goto(f"/admin/results/ballot/{eve[0].pk}/change/")
    page.keyboard.type("150")  # half-typed, unsaved: a reload would lose it
    page.evaluate("window.notReloaded = true")
    assert page.locator(".rehearsal-banner").count() == 0
    # The services run beside Playwright's event loop, as another process's would.
    with ThreadPoolExecutor(1) as other:
        try:
            other.submit(services.start_rehearsal, f.POLL_DATE, label="Dress rehearsal").result()
            banner = page.locator(".rehearsal-banner")
            banner.wait_for(timeout=8_000)  # polled every 3 s
            assert "REHEARSAL: everything published since" in banner.inner_text()
            assert "(Dress rehearsal)" in banner.inner_text()
            shot(page, "21-rehearsal-banner-on-an-open-page")
            other.submit(services.reset_to_eve, f.POLL_DATE).result()
            page.wait_for_function("document.querySelector('.rehearsal-banner') === null", timeout=8_000)
        finally:
            other.submit(connections.close_all).result()
    assert page.evaluate("window.notReloaded") is True
    assert page.evaluate("document.activeElement.value") == "150"
