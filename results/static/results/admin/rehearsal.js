// Every console page: keep the rehearsal banner true while the page stays open. Poll the
// banner's URL; when its slot's data-state differs from the one on screen (a rehearsal started,
// paused, resumed or was reset), swap the slot in place. No reload: a half-typed form survives.
(function () {
  "use strict";
  const script = document.currentScript;
  const url = script.dataset.url;
  const interval = Math.max(1000, parseFloat(script.dataset.pollSeconds || "3") * 1000);
  let failures = 0;

  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
      if (!response.ok || !response.headers.get("Content-Type")?.startsWith("text/html")) {
        throw new Error("HTTP " + response.status);
      }
      const template = document.createElement("template");
      template.innerHTML = await response.text();
      const fresh = template.content.getElementById("rehearsal-slot");
      const shown = document.getElementById("rehearsal-slot");
      if (!fresh) throw new Error("no banner in the answer");
      if (shown && fresh.dataset.state !== shown.dataset.state) shown.replaceWith(fresh);
      failures = 0;
    } catch (error) {
      failures += 1;
    }
    // Back off while the server is unreachable (or the session has ended), up to a minute.
    setTimeout(poll, Math.min(interval * Math.pow(2, failures), 60000));
  }

  setTimeout(poll, interval);
})();
