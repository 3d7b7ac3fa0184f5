// HTML for the parts of the live pages that change, from the API's answers.
// The server renders the same markup first (live/templates/live/_*.html); keep them alike.
// Every figure shown is the API's own: nothing here re-derives a result.

const TIME = new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/London", hour: "2-digit", minute: "2-digit" });
const STATUS = {
  AWAITING: "Awaiting count", COUNTING: "Counting", RECOUNT: "Recount",
  DECLARED: "Declared", UNCONTESTED: "Uncontested", POSTPONED: "Postponed",
};

/** Escape text for HTML. Every value from the API goes through this. */
export const esc = (value) =>
  String(value ?? "").replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
/** "Awaiting count", "Recount"...: a ballot's status as the page words it. */
export const statusLabel = (status) => STATUS[status] ?? status;
const time = (iso) => (iso ? TIME.format(new Date(iso)) : "");
const percent = (share) => (share == null ? "–" : `${(share * 100).toFixed(1)}%`);
const signed = (n) => (!n ? "0" : n > 0 ? `+${n}` : `\u2212${-n}`);
const swatch = (colour) => `<span class="swatch" style="--c: ${esc(colour)}" aria-hidden="true"></span>`;
const plural = (n) => (n === 1 ? "" : "s");
/** The id attribute of a ward's article, as Django's slugify makes it from the ballot id. */
export const ballotDomId = (id) => `ballot-${id.toLowerCase().replace(/[^\w\s-]/g, "").replace(/[\s_-]+/g, "-")}`;

/** A declared mayoralty's key point ("Labour hold Mayor of Mansfield: Andy Abrahams elected"); null before. */
export function mayorLine(b) {
  if (b.status !== "DECLARED" && b.status !== "UNCONTESTED") return null;
  const winners = b.candidacies.filter((c) => c.elected).map((c) => c.name).join(" and ");
  return `${b.changes.length ? b.changes[0].headline : b.label}: ${winners} elected`;
}

/** A council's card on the night's page: its call (or the count so far) and a small composition bar. */
export function card(e, councilUrl) {
  const call = e.control.called
    ? `${swatch(e.control.party?.colour ?? "#777")}${esc(e.control.headline)}`
    : `<span class="flag counting">Counting</span> ${e.seatsDeclared} of ${e.seatsDeclared + e.seatsToDeclare} seats declared`;
  let x = 0;
  const rects = e.composition.filter((r) => r.seats > 0).map((r) => {
    const rect = `<rect x="${x}" width="${r.seats}" height="10" fill="${esc(r.party.colour)}"></rect>`;
    x += r.seats;
    return rect;
  });
  const seats = e.composition.filter((r) => r.seats).map((r) => `<span>${esc(r.party.abbreviation)} ${r.seats}</span> `);
  return `<li class="card" id="card-${esc(e.council.slug)}" data-election="${esc(e.id)}">
  <h3><a href="${esc(councilUrl)}">${esc(e.council.name)}</a></h3>
  <p class="call">${call}</p>
  <svg class="minibar" viewBox="0 0 ${e.seatsTotal} 10" preserveAspectRatio="none" aria-hidden="true" focusable="false">${rects.join("")}<line x1="50%" x2="50%" y1="0" y2="10"></line></svg>
  <p class="seats">${seats.join("")}<span class="muted">of ${e.seatsTotal}; ${e.majority} for a majority</span></p>
</li>`;
}

/** The counting banner: "412 of 437 ballots declared". */
export function banner(s) {
  const called = `${s.councilsCalled} of ${s.councilsTotal} councils called`;
  return s.ballotsDeclared < s.ballotsTotal
    ? `<strong>Counting continues:</strong> ${s.ballotsDeclared} of ${s.ballotsTotal} ballots declared; ${called}`
    : `All ${s.ballotsTotal} ballots declared; ${called}`;
}

/** The scoreboard: councils controlled and seats won by party, with changes. */
export function scoreboard(s) {
  const rows = s.parties.filter((p) => p.councils || p.councilsChange || p.seats).map((p) =>
    `<tr><th scope="row">${swatch(p.party.colour)}${esc(p.party.shortName)}</th><td class="n">${p.councils}</td><td class="n">${signed(p.councilsChange)}</td><td class="n">${p.seats}</td><td class="n">${signed(p.seatsChange)}</td></tr>`);
  const noc = s.noOverallControl;
  return `<table class="score">
  <caption>Councils controlled and seats won, with changes since the last election (${s.councilsCalled} of ${s.councilsTotal} councils called)</caption>
  <thead><tr><th scope="col">Party</th><th scope="col" class="n">Councils</th><th scope="col" class="n">Change</th><th scope="col" class="n">Seats</th><th scope="col" class="n">Change</th></tr></thead>
  <tbody>${rows.join("")}<tr class="noc"><th scope="row">${swatch("#bbb")}No overall control</th><td class="n">${noc.councils}</td><td class="n">${signed(noc.councilsChange)}</td><td class="n">–</td><td class="n">–</td></tr></tbody>
</table>`;
}

/** One live post: headline, time, "Breaking", byline with role and outlet, body, image with caption. */
export function post(p) {
  const a = p.author;
  const outlet = a && (a.role || a.outlet) ? `<span class="outlet">${esc([a.role, a.outlet].filter(Boolean).join(", "))}</span>` : "";
  const image = p.image
    ? `<figure><img src="${esc(p.image.url)}" alt="${esc(p.image.caption)}" loading="lazy">${p.image.caption || p.image.credit
      ? `<figcaption>${esc(p.image.caption)}${p.image.credit ? ` <span class="credit">Image source: ${esc(p.image.credit)}</span>` : ""}</figcaption>` : ""}</figure>`
    : "";
  const body = p.body.split("\n\n").map((t) => t.trim()).filter(Boolean).map((t) => `<p>${esc(t)}</p>`).join("");
  return `<article class="post${p.breaking ? " breaking" : ""}" id="post-${esc(p.id)}" data-post="${esc(p.id)}">
  <h3>${esc(p.headline)}</h3>
  <p class="post-meta"><time datetime="${esc(p.publishedAt)}">${time(p.publishedAt)}</time>${p.breaking ? ' <strong class="flag">Breaking</strong>' : ""}</p>
  ${a ? `<p class="byline"><span class="author">${esc(a.name)}</span>${outlet}</p>` : ""}
  ${body}${image}
</article>`;
}

/** One ward (or a mayoralty): status, changes, candidates with votes, shares and winners. */
export function ward(b) {
  const meta = [`<span class="flag status">${esc(statusLabel(b.status))}</span> ${b.seats} seat${plural(b.seats)}`];
  if (b.declaredAt) meta.push(`, declared <time datetime="${esc(b.declaredAt)}">${time(b.declaredAt)}</time>`);
  if (b.turnout != null) meta.push(`; turnout ${percent(b.turnout)}`);
  const changes = b.changes.length
    ? `<ul class="changes">${b.changes.map((c) => `<li class="${c.kind.toLowerCase()}">${esc(c.headline)}</li>`).join("")}</ul>` : "";
  const rows = b.candidacies.map((c) => `<tr${c.elected ? ' class="elected"' : ""}><th scope="row">${esc(c.name)}${c.elected
    ? ` <strong class="flag won">Elected${c.electedByLot ? " by lot" : ""}</strong>` : ""}</th><td>${swatch(c.party.colour)}${esc(c.description || c.party.shortName)}</td><td class="n">${c.votes == null ? "–" : c.votes.toLocaleString("en-GB")}</td><td class="n">${percent(c.share)}</td></tr>`);
  return `<article class="ward ${b.status.toLowerCase()}" id="${ballotDomId(b.id)}" data-ballot="${esc(b.id)}">
  <h3>${esc(b.label)}</h3>
  <p class="ward-meta">${meta.join("")}</p>
  ${changes}
  <table class="candidates">
    <caption class="visually-hidden">Candidates in ${esc(b.label)}</caption>
    <thead><tr><th scope="col">Candidate</th><th scope="col">Party</th><th scope="col" class="n">Votes</th><th scope="col" class="n">Share</th></tr></thead>
    <tbody>${rows.join("")}</tbody>
  </table>
</article>`;
}

/** Two stacked bars, seats before the poll and now (with the seats still to declare), and the half line. */
function chart(e) {
  const total = e.seatsTotal || 1;
  const bar = (rows, y) => {
    let x = 0;
    return rows.filter((r) => r.seats > 0).map((r) => {
      const width = (r.seats / total) * 500; // the chart is 500 units wide
      const label = width >= 60
        ? `<text x="${(x + 6).toFixed(2)}" y="${y + 23}" class="seg-label${r.colour ? "" : " dark"}">${r.abbreviation ? `${esc(r.abbreviation)} ${r.seats}` : `To declare ${r.seats}`}</text>` : "";
      const rect = `<rect x="${x.toFixed(2)}" y="${y}" width="${width.toFixed(2)}" height="34" ${r.colour ? `fill="${esc(r.colour)}" class="seg"` : 'class="seg undeclared"'}></rect>`;
      x += width;
      return rect + label;
    }).join("");
  };
  const row = (r, seats) => ({ label: r.party.shortName, abbreviation: r.party.abbreviation, colour: r.party.colour, seats });
  const before = [...e.composition].sort((a, b) => b.seatsBefore - a.seatsBefore).map((r) => row(r, r.seatsBefore));
  const now = [...e.composition.map((r) => row(r, r.seats)), { label: "To declare", abbreviation: "", colour: "", seats: e.seatsToDeclare }];
  const text = (rows) => rows.filter((r) => r.seats > 0).map((r) => `${esc(r.label)} ${r.seats}`).join(", ");
  return `<figure class="chart">
  <svg viewBox="0 0 500 130" role="img" aria-labelledby="chart-title chart-desc" focusable="false">
    <title id="chart-title">Seats by party, before the poll and now</title>
    <desc id="chart-desc">Before: ${text(before)}. Now: ${text(now)}. ${e.majority} seats for a majority.</desc>
    <text x="0" y="14" class="axis">Before the poll</text>${bar(before, 20)}
    <text x="0" y="80" class="axis">Now</text>${bar(now, 86)}
    <line x1="250" x2="250" y1="16" y2="124" class="majority"></line>
  </svg>
  <figcaption>The line marks half the council: a party past it has a majority (${e.majority} of ${e.seatsTotal} seats). Dashed grey: seats still to declare.</figcaption>
</figure>`;
}

/** A council's summary: the call, the magic number, seats to declare, the chart and its table. */
export function councilSummary(e) {
  const headline = e.control.called
    ? `${swatch(e.control.party?.colour ?? "#bbb")}<strong>${esc(e.control.headline)}</strong>`
    : '<span class="flag counting">Counting</span> <strong>No call yet</strong>';
  const rows = e.composition.map((r) =>
    `<tr><th scope="row">${swatch(r.party.colour)}${esc(r.party.shortName)}</th><td class="n">${r.seats}</td><td class="n">${r.seatsBefore}</td><td class="n">${signed(r.change)}</td><td class="n wide">${r.seatsWon}</td><td class="n wide">${r.seatsNotUp}</td><td class="n">${r.seatsNeeded}</td></tr>`);
  return `<p class="headline">${headline}</p>
<ul class="facts">
  <li><strong>${e.majority}</strong> seats for a majority (the magic number) of ${e.seatsTotal}</li>
  <li><strong>${e.seatsDeclared}</strong> seats declared, <strong>${e.seatsToDeclare}</strong> still to declare</li>
  <li><strong>${e.ballotsDeclared}</strong> of ${e.ballotsTotal} wards declared</li>
</ul>
${chart(e)}
<table class="composition">
  <caption>Seats by party</caption>
  <thead><tr><th scope="col">Party</th><th scope="col" class="n">Seats</th><th scope="col" class="n">Before</th><th scope="col" class="n">Change</th><th scope="col" class="n wide">Won</th><th scope="col" class="n wide">Not up</th><th scope="col" class="n">Needs</th></tr></thead>
  <tbody>${rows.join("")}</tbody>
</table>`;
}

/** The rehearsal banner, as live/templates/live/_rehearsal.html words it (for a page whose
 *  rehearsal began after it was rendered). */
export function rehearsalBanner() {
  return '<div id="rehearsal" class="rehearsal" role="region" aria-label="Rehearsal"><p><strong>Rehearsal: test data, not real results.</strong> What this page shows now is a rehearsal of election night, until the newsroom resets it.</p></div>';
}
