"""Open console pages learn of a rehearsal without a reload: every console page polls the banner's own
URL and swaps the banner in when it changed (results/static/results/admin/rehearsal.js; the swap in a
browser is tested in test_admin_browser.py)."""

import html as html_lib
import re

from django.test import Client

from results import services

from . import factories as f
from .desk import client_for, entry_url, staff

BANNER_URL = "/admin/rehearsal-banner/"


def slot(html: str) -> tuple[str, str]:
    """The banner's slot: (its data-state, the banner's text, "" when there is none)."""
    found = re.search(r'<div id="rehearsal-slot" data-state="([^"]*)">(.*?)\n</div>', html, re.S)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found.group(2))).strip()
    return html_lib.unescape(found.group(1)), text


def test_every_console_page_polls_the_banner_which_follows_the_rehearsal_until_the_reset():
    e = f.election("rehearsalshire", seats_total=1, before={"PP52": (1, 0)})
    ballot = f.ballot(e, "Ward", [("Ann Able", "PP53"), ("Bob Baker", "PP52")])
    desk = client_for(staff("desk"))

    page = desk.get(entry_url(ballot)).content.decode()
    assert (
        f'src="/static/results/admin/rehearsal.js" data-url="{BANNER_URL}" data-poll-seconds="3" defer'
        in page
    )
    assert slot(page) == ("", "")
    answer = desk.get(BANNER_URL)
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/html")
    assert "no-cache" in answer["Cache-Control"]
    assert slot(answer.content.decode()) == ("", "")

    services.start_rehearsal(f.POLL_DATE, label="Dress rehearsal")
    state, text = slot(desk.get(BANNER_URL).content.decode())
    assert re.fullmatch(r"active \d{4}-\d\d-\d\dT[\d:.+]+ Dress rehearsal", state)
    assert text.startswith("REHEARSAL: everything published since ")
    assert text.endswith(
        "(Dress rehearsal) is test data, flagged as such, until the reset to the eve of the poll."
    )
    # The page and the banner's URL render the one template: the same slot.
    assert slot(desk.get(entry_url(ballot)).content.decode()) == (state, text)

    services.set_replay_paused(True)  # publishes nothing, but the banner says it
    paused = slot(desk.get(BANNER_URL).content.decode())
    assert paused[0] == state + " paused" and paused[1].endswith("; the replay is paused.")

    services.reset_to_eve(f.POLL_DATE)
    assert slot(desk.get(BANNER_URL).content.decode()) == ("", "")

    # Staff only, as every console URL.
    anonymous = Client().get(BANNER_URL)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")
