// The oneiro dashboard: plain JS over the service's JSON API and its event stream. No build step,
// nothing fetched from anywhere but this server. Writes send the bearer token the user gave (or
// the one in the URL fragment `#token=...` that `oneiro serve` prints; a fragment never reaches
// the server's logs), kept in this tab's sessionStorage only.
"use strict";

const PHASES = ["onset", "nrem", "rem", "evolution", "integration", "return"];
const STATUSES = ["staged", "validated", "expired", "refuted"];
const COLOURS = ["#3a5ba0", "#a33b3b", "#2f7d4f", "#a8741a", "#7a4aa0", "#2a8a8a", "#8a5a2a"];
const MAX_EVENTS = 200;
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function token() { return sessionStorage.getItem("oneiro-token") || ""; }

function notice(text) { $("notice").textContent = text || ""; }

async function api(path, options = {}) {
  const headers = { "content-type": "application/json", ...(options.headers || {}) };
  if (options.method && options.method !== "GET" && token()) headers.authorization = `Bearer ${token()}`;
  const response = await fetch(path, { ...options, headers });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) {
    const message = body && body.message ? `${body.code}: ${body.message}` : `HTTP ${response.status}`;
    throw new Error(message);
  }
  return body;
}

function when(ts) { return ts ? new Date(ts * 1000).toISOString().replace("T", " ").slice(0, 19) : "-"; }

// -- status and live progress ---------------------------------------------------------------
async function loadStatus() {
  const s = await api("/v1/status");
  const entries = Object.entries(s.entries).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  $("status").textContent = `${s.episodes} episodes; entries: ${entries}; embedder ${s.embedder.name}`;
}

function setMode(mode) {
  $("mode").textContent = mode;
  $("mode").className = `mode ${mode}`;
}

function renderPhases(current, state) {
  const list = $("phases");
  list.replaceChildren(...PHASES.map((p, i) => {
    const at = PHASES.indexOf(current);
    const cls = i < at || (i === at && state === "done") ? "done" : i === at ? "running" : "";
    return el("li", { class: cls, "data-phase": p }, p);
  }));
}

function logEvent(kind, data) {
  const list = $("events");
  const summary = kind === "dream_progress"
    ? `${data.phase} ${data.state}${data.operation ? " " + data.operation : ""} (${data.step}/${data.of})`
    : JSON.stringify(data);
  list.prepend(el("li", { "data-kind": kind }, `${new Date().toISOString().slice(11, 19)} ${kind}: ${summary}`));
  while (list.children.length > MAX_EVENTS) list.lastChild.remove();
}

function onProgress(data) {
  if (typeof data.phase !== "string") return;
  const done = data.state === "done" ? data.step : data.step - 1;
  $("bar-fill").style.width = `${Math.round((100 * done) / (data.of || PHASES.length))}%`;
  $("bar-fill").dataset.done = String(done);
  renderPhases(data.phase, data.state);
}

function connectEvents() {
  // EventSource reconnects by itself and sends Last-Event-ID, so nothing is missed across a drop.
  const source = new EventSource("/v1/events");
  source.addEventListener("mode_change", (e) => { const d = JSON.parse(e.data); setMode(d.mode); logEvent("mode_change", d); loadCycles(); });
  source.addEventListener("dream_progress", (e) => { const d = JSON.parse(e.data); onProgress(d); logEvent("dream_progress", d); });
  source.addEventListener("hypothesis", (e) => { logEvent("hypothesis", JSON.parse(e.data)); loadHypotheses(); });
  source.addEventListener("playbook", (e) => { logEvent("playbook", JSON.parse(e.data)); loadPlaybook(); });
  source.addEventListener("gap", () => refresh());
  source.addEventListener("dream_done", (e) => {
    const d = JSON.parse(e.data);
    logEvent("dream_done", d);
    setMode("awake");
    if (d.error) notice(`dream failed: ${d.error.code}: ${d.error.message}`);
    refresh();
  });
  source.onopen = () => document.body.dataset.stream = "open";
}

// -- playbook ---------------------------------------------------------------------------------
function diffBlock(text) {
  const pre = el("pre", { class: "diff" });
  for (const line of (text || "").split("\n")) {
    const cls = line.startsWith("@@") ? "hunk" : line.startsWith("+") && !line.startsWith("+++") ? "add"
      : line.startsWith("-") && !line.startsWith("---") ? "del" : "";
    pre.append(el("span", { class: cls }, line + "\n"));
  }
  return pre;
}

async function decide(id, verb) {
  try {
    notice("");
    await api(`/v1/playbook/revisions/${encodeURIComponent(id)}/${verb}`, { method: "POST", body: JSON.stringify({ by: "dashboard" }) });
    await loadPlaybook();
  } catch (err) { notice(`${verb} failed: ${err.message}`); }
}

async function loadPlaybook() {
  const pb = await api("/v1/playbook");
  $("playbook").textContent = pb.markdown;
  const revisions = pb.pending.map((r) => el("div", { class: "revision", "data-revision": r.id },
    el("div", {}, el("strong", {}, `${r.op} `), `${r.section}: ${r.text}`),
    el("div", { class: "muted" }, `${r.reason} (proposed by ${r.proposed_by}${r.cycle_id ? ", cycle " + r.cycle_id : ""})`),
    diffBlock(r.diff),
    el("div", { class: "actions" },
      el("button", { onclick: () => decide(r.id, "approve"), "data-action": "approve" }, "Approve"),
      el("button", { class: "secondary", onclick: () => decide(r.id, "reject"), "data-action": "reject" }, "Reject"))));
  $("revisions").replaceChildren(...(revisions.length ? revisions : [el("p", { class: "muted" }, "none pending")]));
}

// -- hypotheses -------------------------------------------------------------------------------
async function showEvidence(id) {
  const d = await api(`/v1/hypotheses/${encodeURIComponent(id)}`);
  const rows = d.evidence.map((j) => el("li", {}, `${j.evidence.polarity > 0 ? "confirms" : "refutes"} (${j.evidence.party || "?"}, ${when(j.evidence.recorded_at)}): ${j.episode ? j.episode.text : j.evidence.episode_id}`));
  $("evidence").replaceChildren(
    el("h3", {}, `Evidence for ${d.hypothesis.kind} ${id.slice(0, 12)}`),
    el("p", { class: "muted" }, `rests on ${d.sources.length} episode(s)`),
    rows.length ? el("ul", {}, ...rows) : el("p", { class: "muted" }, "no awake evidence yet"));
}

async function loadHypotheses() {
  const all = await api("/v1/hypotheses");
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const h of all) counts[h.status] = (counts[h.status] || 0) + 1;
  $("lifecycle").replaceChildren(...STATUSES.map((s) => el("span", { class: `status-${s}`, "data-status": s }, `${s} ${counts[s]}`)));
  $("hypotheses").replaceChildren(...all.map((h) => el("tr", { onclick: () => showEvidence(h.id), "data-hypothesis": h.id },
    el("td", { class: `status-${h.status}` }, h.status), el("td", {}, h.kind), el("td", {}, h.confidence.toFixed(2)),
    el("td", {}, h.confirmations), el("td", {}, h.refutations), el("td", {}, h.text))));
}

// -- journal ----------------------------------------------------------------------------------
async function showCycle(id) {
  const records = await api(`/v1/cycles/${encodeURIComponent(id)}/journal`);
  const phases = records.filter((r) => r.kind === "phase").map((r) => {
    const p = r.payload;
    const fmt = (o) => Object.entries(o || {}).filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join(", ") || "-";
    return el("tr", {}, el("td", {}, r.phase), el("td", {}, (p.operations || []).join(", ")),
      el("td", {}, fmt(p.did)), el("td", {}, fmt(p.left)));
  });
  const notes = records.filter((r) => r.kind !== "phase").map((r) => el("li", {}, `${r.phase || ""} ${r.kind}`));
  $("cycle-detail").replaceChildren(el("h3", {}, `Cycle ${id}`),
    el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "phase"), el("th", {}, "operations"), el("th", {}, "did"), el("th", {}, "left"))), el("tbody", {}, ...phases)),
    el("ul", { class: "events" }, ...notes));
}

async function loadCycles() {
  const cycles = await api("/v1/cycles?limit=50");
  $("cycles").replaceChildren(...cycles.map((c) => el("tr", { onclick: () => showCycle(c.id), "data-cycle": c.id },
    el("td", {}, c.id), el("td", {}, c.status), el("td", {}, c.reason), el("td", {}, when(c.started_at)))));
}

// -- plots ------------------------------------------------------------------------------------
function plot(svg, series, empty) {
  const W = 420, H = 160, L = 34, B = 18, T = 8, R = 90;
  const points = Object.values(series).flat();
  svg.replaceChildren();
  const ns = "http://www.w3.org/2000/svg";
  const add = (tag, attrs, text) => {
    const n = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    svg.append(n); return n;
  };
  if (!points.length) { add("text", { x: 12, y: H / 2 }, empty); svg.dataset.points = "0"; return; }
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1), y0 = Math.min(0, ...ys), y1 = Math.max(...ys, y0 + 1e-9);
  const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R), sy = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - B - T);
  add("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#bbb" });
  add("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#bbb" });
  add("text", { x: 2, y: T + 6 }, y1.toPrecision(2)); add("text", { x: 2, y: H - B }, y0.toPrecision(2));
  add("text", { x: L, y: H - 4 }, "cycle 1"); add("text", { x: W - R - 30, y: H - 4 }, `cycle ${Math.max(...xs)}`);
  Object.entries(series).forEach(([name, pts], i) => {
    const colour = COLOURS[i % COLOURS.length];
    add("polyline", { points: pts.map(([x, y]) => `${sx(x)},${sy(y)}`).join(" "), fill: "none", stroke: colour, "stroke-width": 1.5 });
    for (const [x, y] of pts) add("circle", { cx: sx(x), cy: sy(y), r: 2.2, fill: colour });
    add("text", { x: W - R + 6, y: T + 10 + 11 * i, fill: colour }, name.slice(0, 16));
  });
  svg.dataset.points = String(points.length);
}

async function loadPlots() {
  const [cycles, residuals, strategy] = await Promise.all([
    api("/v1/cycles?limit=500"), api("/v1/journal?kind=residual_patterns"), api("/v1/journal?kind=evolution.strategy")]);
  const order = new Map(cycles.slice().reverse().map((c, i) => [c.id, i + 1]));
  const at = (r) => order.get(r.cycle_id) || 0;
  const bias = {};
  for (const r of residuals) for (const t of r.payload.tested || []) (bias[t.context] ||= []).push([at(r), Math.abs(t.bias)]);
  plot($("plot-residuals"), bias, "no residual patterns tested yet");
  const fitness = strategy.filter((r) => typeof r.payload.mean_imagined_fitness === "number").map((r) => [at(r), r.payload.mean_imagined_fitness]);
  plot($("plot-fitness"), fitness.length ? { fitness } : {}, "no evolution step yet (REM imagined no returns)");
  const mix = {};
  for (const r of strategy) for (const [name, c] of Object.entries(r.payload.after || {})) (mix[name] ||= []).push([at(r), c]);
  plot($("plot-strategies"), mix, "no strategy mix yet");
}

// -- wiring -----------------------------------------------------------------------------------
async function refresh() {
  try {
    await Promise.all([loadStatus(), loadPlaybook(), loadHypotheses(), loadCycles(), loadPlots()]);
    document.body.dataset.loaded = "yes";
  } catch (err) { notice(err.message); }
}

function initToken() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    sessionStorage.setItem("oneiro-token", decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname);
  }
  $("token").value = token();
  $("token").addEventListener("change", (e) => sessionStorage.setItem("oneiro-token", e.target.value.trim()));
}

async function startDream() {
  try {
    notice("");
    renderPhases(null, null);
    $("bar-fill").style.width = "0%";
    const state = await api("/v1/dreams", { method: "POST", body: JSON.stringify({ reason: "dashboard" }) });
    if (state.running) setMode("dream");
  } catch (err) { notice(`dream refused: ${err.message}`); }
}

async function wake() {
  try { await api("/v1/dreams/wake", { method: "POST" }); } catch (err) { notice(`wake failed: ${err.message}`); }
}

initToken();
renderPhases(null, null);
$("dream").addEventListener("click", startDream);
$("wake").addEventListener("click", wake);
connectEvents();
refresh();
