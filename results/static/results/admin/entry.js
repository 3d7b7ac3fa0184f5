// Keyboard entry on the ballot page: Enter moves to the next box; on the last box it
// previews (never publishes). Focusing a box selects its figure, so typing replaces it.
(function () {
  "use strict";
  const form = document.getElementById("entry-form");
  if (!form) return;
  const boxes = () => Array.from(form.querySelectorAll("[data-entry]:not([disabled])"));

  form.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.isComposing || event.shiftKey || event.altKey) return;
    const target = event.target;
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

  form.addEventListener("focusin", function (event) {
    const target = event.target;
    if (target instanceof HTMLInputElement && target.type === "text" && target.matches("[data-entry]")) {
      target.select();
    }
  });
})();
