// Keyboard entry on the ballot page: Enter moves to the next box; on the last box it
// previews (never publishes). Focusing a box selects its figure, so typing replaces it:
// typing "800" into a box holding 800 must give 800, never 800800.
(function () {
  "use strict";
  const form = document.getElementById("entry-form");
  if (!form) return;
  const boxes = () => Array.from(form.querySelectorAll("[data-entry]:not([disabled])"));
  const isCountBox = (el) => el instanceof HTMLInputElement && el.type === "text" && el.matches("[data-entry]");

  function selectAll(box) {
    box.select();
  }

  // A click focuses, then its mouseup would drop the selection: keep it, for that first click only.
  let justFocused = null;
  form.addEventListener("mouseup", function (event) {
    if (event.target === justFocused) event.preventDefault();
    justFocused = null;
  });

  // Registered before anything is focused below, so no focus escapes it (on load, Tab, Enter, a click).
  form.addEventListener("focusin", function (event) {
    if (isCountBox(event.target)) {
      justFocused = event.target;
      selectAll(event.target);
    }
  });

  form.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.isComposing || event.shiftKey || event.altKey) return;
    const target = event.target;
    // "Figures checked": Enter there moves to Confirm once ticked, and never submits by itself.
    if (target instanceof HTMLInputElement && target.name === "figures_checked") {
      event.preventDefault();
      const confirm = document.getElementById("confirm");
      if (target.checked && confirm) confirm.focus();
      return;
    }
    if (!(target instanceof HTMLElement) || !target.matches("[data-entry]")) return;
    event.preventDefault();
    const list = boxes();
    const next = list[list.indexOf(target) + 1];
    if (next) {
      next.focus();
    } else {
      form.requestSubmit(document.getElementById("default-action"));
    }
  });

  // Land on the box that needs typing (the browser may skip autofocus, e.g. coming back in history).
  const wanted = document.querySelector("[autofocus]");
  if (wanted && (document.activeElement === document.body || !document.activeElement)) {
    wanted.focus();
  }
  // Autofocus may have focused the box before this script ran: select its figure now.
  if (isCountBox(document.activeElement)) selectAll(document.activeElement);

  // Presence: tell the desk this ward is open here (the overview shows it), and show who else has it open.
  const presenceUrl = form.dataset.presenceUrl;
  const ballot = form.dataset.ballot;
  const others = document.getElementById("open-elsewhere");
  const token = form.querySelector("[name=csrfmiddlewaretoken]");
  if (presenceUrl && ballot && token) {
    const send = function (leave) {
      const body = new URLSearchParams({ ballot: ballot, csrfmiddlewaretoken: token.value });
      if (leave) {
        body.set("leave", "1");
        navigator.sendBeacon(presenceUrl, body);
        return;
      }
      fetch(presenceUrl, { method: "POST", body: body, credentials: "same-origin" })
        .then((response) => (response.ok ? response.json() : { others: [] }))
        .then(function (answer) {
          if (!others) return;
          others.hidden = answer.others.length === 0;
          others.textContent = answer.others.length
            ? "Also open now for " + answer.others.join(", ") + ": agree who types this ward."
            : "";
        })
        .catch(function () {});
    };
    send(false);
    setInterval(send, (parseFloat(form.dataset.heartbeatSeconds) || 10) * 1000, false);
    window.addEventListener("pagehide", function () { send(true); });
  }
})();
