// The election-night overview, live: poll for events after the cursor the page shows; when
// there are any, swap in the table the server renders again. Each answer also says which
// wards other editors have open now. No reload, so nothing on screen flickers or scrolls.
(function () {
  "use strict";
  const live = document.getElementById("overview-live");
  if (!live) return;
  const status = document.getElementById("live-status");
  const url = live.dataset.updatesUrl;
  const interval = Math.max(500, parseFloat(live.dataset.pollSeconds || "2") * 1000);
  let cursor = live.dataset.cursor || "0";
  let failures = 0;

  function showOpenNow(openNow) {
    if (!openNow) return;
    live.querySelectorAll("tr[data-election]").forEach(function (row) {
      const cell = row.querySelector(".open-now");
      if (cell) cell.textContent = openNow[row.dataset.election] || "";
    });
  }

  async function poll() {
    try {
      const response = await fetch(url + "?after=" + encodeURIComponent(cursor), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const news = await response.json();
      // A rehearsal started or was reset: reload, so the page's banner says which it is.
      if (news.changed && "rehearsal" in news && String(news.rehearsal) !== live.dataset.rehearsal) {
        location.reload();
        return;
      }
      if (news.changed && news.html !== null) {
        live.innerHTML = news.html;
        live.dataset.cursor = String(news.cursor);
      }
      cursor = String(news.cursor);
      showOpenNow(news.open_now);
      failures = 0;
      if (status) status.textContent = "Live: updates as declarations land.";
    } catch (error) {
      failures += 1;
      if (status) status.textContent = "Not connected (" + error.message + "): retrying…";
    }
    // Back off while the server is unreachable, up to half a minute.
    setTimeout(poll, Math.min(interval * Math.pow(2, failures), 30000));
  }

  setTimeout(poll, interval);
})();
