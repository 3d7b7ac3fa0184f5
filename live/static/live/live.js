// The live pages' only script: subscribe to the API's events and update the page in place.
//
// How it works, for a front end of your own:
//  1. The server rendered the page from a documented query (docs/queries.md) that also
//     selected `lastEventId`, and put that cursor and the subscription's text in
//     <script id="live-config">.
//  2. We subscribe to `events(after: cursor)` over graphql-transport-ws with the npm
//     `graphql-ws` client. The server first replays anything published since the page
//     was rendered, then streams new events, each once and in order.
//  3. Each event carries the current state of what it changed (the ballot, its
//     election's call and composition, the post): we redraw just that part.
//  4. We remember the id of the last event applied. If the connection drops (or the
//     server restarts) we subscribe again from it: nothing is missed or applied twice.
//  5. Rehearsals: every event says `rehearsal: true` while the newsroom rehearses. A
//     REHEARSAL_STARTED, RESET or ZERO_COUNTS event changes what the whole page shows
//     (RESET: every result of the day is gone), so we reload; the server renders the
//     page afresh, with or without its rehearsal banner. The reload names the event
//     (`?at=<id>`): a new URL, so no cache (the browser's, a CDN's) answers with the page
//     from before it, and the server renders the page at that event or later.
import { createClient } from "./vendor/graphql-ws/client.js";
import * as render from "./render.js";

const config = JSON.parse(document.getElementById("live-config").textContent);
const status = document.getElementById("connection");
const graphqlUrl = new URL("/graphql", location.href);
const wsUrl = graphqlUrl.href.replace(/^http/, "ws");

// What the page has applied; the tests read it to check every event arrives once.
const state = (window.liveResults = { cursor: config.after, applied: [], connected: false });

// ---------------------------------------------------------------- the subscription

let retryDelay = 500; // ms, doubled after each failed attempt, at most 10 s

function subscribe() {
  // A new client per attempt, with its own retries off: we decide when and from where
  // to resubscribe, so the cursor in `after` is always the last event we applied.
  const client = createClient({ url: wsUrl, retryAttempts: 0, lazy: true });
  const variables = { after: state.cursor, councils: config.councils ?? null };
  const restart = (why) => {
    state.connected = false;
    showStatus("Reconnecting…");
    console.info(`live: reconnecting from event ${state.cursor} (${why})`);
    client.dispose();
    setTimeout(subscribe, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 10_000);
  };
  client.on("connected", () => {
    state.connected = true;
    retryDelay = 500;
    showStatus("Live", true);
  });
  client.subscribe({ query: config.subscription, variables }, {
    next: ({ data, errors }) => {
      if (errors) return console.error(errors);
      const event = data.events;
      if (state.cursor !== null && Number(event.id) <= Number(state.cursor)) return; // never twice
      if (RELOAD_ON.has(event.kind)) return reloadAt(event.id);
      if (event.rehearsal && !document.getElementById("rehearsal")) showRehearsal();
      apply(event);
      state.cursor = event.id;
      state.applied.push(event.id);
    },
    // A lost connection arrives here as a close event; a server-side error (e.g. a
    // subscriber too far behind) as a list of GraphQL errors. Either way: resume.
    // Except one: a cursor the server does not know means its event log is not the one
    // this page was rendered from (a restored database): only a fresh page is right.
    error: (err) => {
      if (Array.isArray(err) && err.some((e) => e.message?.startsWith("Unknown cursor"))) return location.reload();
      restart(err?.code ? `connection closed (${err.code})` : "error");
    },
    complete: () => restart("ended by the server"),
  });
}

const RELOAD_ON = new Set(["REHEARSAL_STARTED", "RESET", "ZERO_COUNTS"]);

/** Load the page again as it is at event `id` or later. */
function reloadAt(id) {
  const url = new URL(location.href);
  url.searchParams.set("at", id);
  location.replace(url);
}

// The `at` of a reload has done its work: the address bar shows the page's own URL again.
if (new URL(location.href).searchParams.has("at")) {
  const url = new URL(location.href);
  url.searchParams.delete("at");
  history.replaceState(history.state, "", url);
}

/** A rehearsal event reached a page rendered before it began (the reload is on its way). */
function showRehearsal() {
  document.body.insertAdjacentHTML("afterbegin", render.rehearsalBanner());
  if (!document.title.startsWith("REHEARSAL")) document.title = `REHEARSAL, not real results: ${document.title}`;
}

/** The masthead's status: "Live" while subscribed, "Reconnecting…" while not (in words, not colour). */
function showStatus(text, live = false) {
  status.hidden = false;
  status.textContent = text;
  status.classList.toggle("live", live);
}

// ---------------------------------------------------------------- applying events

function apply(event) {
  if (config.page === "night") applyToNight(event);
  else applyToBallots(event);
}

const pollDate = config.variables?.date;
const councilUrl = (slug) => `/live/${pollDate}/${slug}/`;
const mayorUrl = (slug) => `/live/${pollDate}/${slug}/mayor/`;

/** Replace an element by new HTML, and flag it so the change is seen. A keyboard user's
 *  focus inside it moves to the same link in the new element, rather than being lost. */
function replace(element, html) {
  const focused = element.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
  element.insertAdjacentHTML("afterend", html);
  const fresh = element.nextElementSibling;
  element.remove();
  fresh.classList.add("updated");
  if (focused) fresh.querySelector(`a[href="${CSS.escape(focused)}"]`)?.focus();
  return fresh;
}

function applyToNight(event) {
  const e = event.election;
  if (e?.kind === "LOCAL") {
    const cardEl = document.getElementById(`card-${e.council.slug}`);
    if (cardEl) replace(cardEl, render.card(e, councilUrl(e.council.slug)));
    if (event.kind === "CONTROL_CALLED") keyPoint(e.id, e.control.called ? e.control.headline : null, councilUrl(e.council.slug), true);
  }
  if (e?.kind === "MAYOR" && event.ballot) {
    const line = render.mayorLine(event.ballot);
    keyPoint(e.id, line, mayorUrl(e.council.slug), false);
    const call = document.querySelector(`#mayor-${CSS.escape(e.council.slug)} .call`);
    if (call) call.textContent = line ?? render.statusLabel(event.ballot.status);
  }
  if (event.post) upsertPost(event.post);
  if (event.kind === "POST_WITHDRAWN") document.getElementById(`post-${event.postId}`)?.closest("li")?.remove();
  if (event.kind.startsWith("BALLOT") || event.kind === "CONTROL_CALLED") refetchTotalsSoon();
}

/** Key points: councils most recently called first, then the mayors. `text` null removes one. */
function keyPoint(electionId, text, url, isCouncil) {
  const list = document.getElementById("key-points");
  list.querySelector(`li[data-election="${CSS.escape(electionId)}"]`)?.remove();
  if (!text) return;
  const li = document.createElement("li");
  li.dataset.election = electionId;
  li.className = "fresh";
  li.innerHTML = `<a href="${render.esc(url)}">${render.esc(text)}</a>`;
  if (isCouncil) list.prepend(li);
  else list.append(li);
}

function upsertPost(p) {
  const existing = document.getElementById(`post-${p.id}`);
  if (existing) return replace(existing, render.post(p));
  const li = document.createElement("li");
  li.innerHTML = render.post(p);
  document.getElementById("posts").prepend(li);
}

// The scoreboard and banner are totals across councils: the API computes them, so we
// ask again (the night-page query over GET, which caches and CDNs may answer), at most
// once a second however many declarations arrive together.
let totalsTimer = null;
function refetchTotalsSoon(delay = 1000) {
  clearTimeout(totalsTimer);
  totalsTimer = setTimeout(async () => {
    const url = new URL(graphqlUrl);
    url.searchParams.set("query", config.refetch);
    url.searchParams.set("variables", JSON.stringify(config.variables));
    let data;
    try {
      // "no-cache": revalidate the browser's copy (its ETag: a 304 when nothing changed), never
      // reuse it unasked, as it may predate the event that prompted this refetch.
      const response = await fetch(url, {
        cache: "no-cache",
        headers: { Accept: "application/graphql-response+json" },
      });
      ({ data } = await response.json());
    } catch {
      return refetchTotalsSoon(5000); // the server is away: try again shortly
    }
    if (!data) return;
    const s = data.nationalSummary;
    document.getElementById("scoreboard").innerHTML = render.scoreboard(s);
    const bannerEl = document.getElementById("banner");
    bannerEl.innerHTML = render.banner(s);
    bannerEl.classList.toggle("done", s.ballotsDeclared === s.ballotsTotal);
  }, delay);
}

/** A council's or a mayor's page: redraw the ward and the council's summary. */
function applyToBallots(event) {
  if (event.ballot) {
    const wardEl = document.querySelector(`[data-ballot="${CSS.escape(event.ballot.id)}"]`);
    if (wardEl) replace(wardEl, render.ward(event.ballot));
  }
  const summary = document.getElementById("summary");
  if (summary && event.election && summary.dataset.election === event.election.id) {
    summary.innerHTML = render.councilSummary(event.election);
  }
}

subscribe();
