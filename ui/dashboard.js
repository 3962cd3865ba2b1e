// dashboard.js — the dashboard's behaviour: polls GET /stats once a second and GET /topology
// every 10 s, draws the charts and the topology as SVG, calls the REST API's actions and reads the
// tap (GET /connectors/{name}/tap) as a stream of NDJSON. docs/dashboard.md describes each part.
//
// No charting library: a line chart of 900 points is a few dozen lines of SVG; a library would be
// tens of kilobytes more in the binary, a build step (npm) and a supply chain to audit, for
// nothing the page needs.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const WINDOW = 900; // seconds of series the charts show: the worker's whole ring
const MIN_SPAN = 120; // seconds: the narrowest x axis of a chart
const POLL_MS = 1000;
const TOPOLOGY_MS = 10000;
const TAP_ROWS = 200; // rows kept in the tap table, newest first

const $ = (id) => document.getElementById(id);

// The worker's URL for `path`: from the origin, not relative to the page, whose address may hold
// credentials (https://user:password@host/ui), which fetch() refuses in a request's URL.
const api = (path) => location.origin + path;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function fmtRate(v) {
  if (v >= 100000) return (v / 1000).toFixed(0) + "k";
  if (v >= 10000) return (v / 1000).toFixed(1) + "k";
  if (v >= 100) return v.toFixed(0);
  return v.toFixed(v === Math.floor(v) ? 0 : 1);
}

function fmtBytes(b) {
  if (b < 0 || b === null || b === undefined) return "–";
  const u = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (b >= 1024 && i < u.length - 1) {
    b /= 1024;
    i++;
  }
  return (i ? b.toFixed(1) : b.toFixed(0)) + " " + u[i];
}

function fmtDuration(s) {
  s = Math.floor(s);
  if (s < 120) return s + " s";
  if (s < 7200) return Math.floor(s / 60) + " min";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}

function notice(text) {
  const n = $("notice");
  n.textContent = text || "";
  n.hidden = !text;
}

// -- charts ------------------------------------------------------------------------------------

// A chart of the connector's in, out and errors per second; the newest sample at the right edge.
function makeChart() {
  const box = el("div", { class: "chart" });
  const s = svg("svg", {
    viewBox: `0 0 ${WINDOW} 100`,
    preserveAspectRatio: "none",
    role: "img",
  });
  const lines = {};
  for (const k of ["in", "out", "errors"]) {
    lines[k] = svg("polyline", {
      class: "line-" + (k === "errors" ? "err" : k),
      "vector-effect": "non-scaling-stroke",
      points: "",
    });
    s.append(lines[k]);
  }
  const scale = el("span", { class: "scale" });
  const span = el("span", { class: "span" });
  const legend = el("span", { class: "legend" });
  box.append(s, scale, span, legend);
  return { box, svg: s, lines, scale, span, legend };
}

function drawChart(ch, c) {
  const ser = c.series || { in: [], out: [], errors: [] };
  let max = 1;
  for (const k of ["in", "out", "errors"]) for (const v of ser[k] || []) if (v > max) max = v;
  max *= 1.1;
  // The x axis spans what the worker holds (at least 2 minutes, at most its 15): a young worker's
  // chart is not a sliver at the right edge.
  const n = (ser.out || []).length;
  const span = Math.max(MIN_SPAN, n);
  for (const k of ["in", "out", "errors"]) {
    const v = ser[k] || [];
    const x0 = span - v.length;
    let pts = "";
    for (let i = 0; i < v.length; i++)
      pts += `${(((x0 + i) * WINDOW) / span).toFixed(1)},${(100 - (v[i] / max) * 100).toFixed(1)} `;
    ch.lines[k].setAttribute("points", pts);
  }
  ch.scale.textContent = fmtRate(max) + "/s";
  ch.span.textContent = n ? "last " + fmtDuration(n) : "no samples yet";
  // The rate the chart states (the worker's mean of the last 5 s): exposed for the tests too.
  const shown = c.type === "sink" ? c.rate.in : c.rate.out;
  ch.legend.textContent = `${c.type === "sink" ? "in" : "out"} ${fmtRate(shown)}/s`;
  ch.svg.dataset.shownRate = String(shown);
  ch.svg.setAttribute("aria-label", `records per second of ${c.name}: ${fmtRate(shown)}`);
}

// -- pipelines and connectors ------------------------------------------------------------------

const cards = new Map(); // pipeline id → {box, conns: Map(name → view)}

async function act(name, action) {
  const method = action === "restart" ? "POST" : "PUT";
  const url = api(`/connectors/${encodeURIComponent(name)}/${action}`);
  try {
    const r = await fetch(url, { method, credentials: "same-origin" });
    if (!r.ok) {
      let msg = `${action} ${name}: HTTP ${r.status}`;
      try {
        const j = await r.json();
        if (j && j.message) msg = `${action} ${name}: ${j.message}`;
      } catch (e) {
        /* the status says enough */
      }
      notice(msg);
    } else {
      notice("");
    }
  } catch (e) {
    notice(`${action} ${name}: ${e.message}`);
  }
  poll();
}

function makeConnector(c) {
  const v = {};
  v.box = el("div", { class: "connector", "data-connector": c.name });
  v.state = el("span", { class: "state" });
  v.title = el("span", { class: "name" }, c.name);
  v.kind = el("span", { class: "muted" }, `${c.type} · ${c.plugin}`);
  v.fig = {};
  const figures = el("div", { class: "figures" });
  const fig = (key, label, cls) => {
    const b = el("b", {}, "–");
    figures.append(el("span", { class: cls || "" }, label + " ", b));
    v.fig[key] = b;
  };
  fig("in", "in/s", "k-in");
  fig("out", "out/s", "k-out");
  fig("errors", "errors/s", "k-err");
  fig("totals", "total");
  fig("dlq", "dead letters");
  fig("lag", "lag");
  fig("buffer", "buffer");
  fig("restarts", "restarts");
  const actions = el("div", { class: "actions" });
  v.buttons = {};
  for (const a of ["pause", "resume", "restart", "stop"]) {
    const b = el("button", { type: "button", "data-action": a }, a);
    b.addEventListener("click", () => act(c.name, a));
    actions.append(b);
    v.buttons[a] = b;
  }
  v.chart = makeChart();
  v.trace = el("pre", { class: "trace" });
  v.trace.hidden = true;
  v.box.append(el("div", { class: "row" }, v.state, v.title, v.kind, actions), figures,
               v.chart.box, v.trace);
  return v;
}

function updateConnector(v, c) {
  v.box.dataset.state = c.state;
  v.box.dataset.rateIn = String(c.rate.in);
  v.box.dataset.rateOut = String(c.rate.out);
  v.box.dataset.rateErrors = String(c.rate.errors);
  v.state.className = "state state-" + c.state;
  v.state.textContent = c.state;
  v.fig.in.textContent = fmtRate(c.rate.in);
  v.fig.out.textContent = fmtRate(c.rate.out);
  v.fig.errors.textContent = fmtRate(c.rate.errors);
  v.fig.totals.textContent = `${c.totals.in} in, ${c.totals.out} out, ${c.totals.errors} errors`;
  v.fig.dlq.textContent = String(c.totals.dlq);
  v.fig.lag.textContent = c.lag === null || c.lag === undefined ? "–" : String(c.lag);
  v.fig.buffer.textContent = fmtBytes(c.buffer_bytes);
  v.fig.restarts.textContent = String(c.restarts);
  v.buttons.pause.disabled = c.state !== "RUNNING";
  v.buttons.resume.disabled = c.state !== "PAUSED";
  v.buttons.stop.disabled = c.state === "STOPPED" || inProcess;
  // In-process a run is one batch: the worker refuses stop and restart (409), Kafka mode has them.
  v.buttons.restart.disabled = inProcess;
  for (const a of ["restart", "stop"])
    v.buttons[a].title = inProcess ? `${a}: Kafka mode only (an in-process run is one batch)` : "";
  const trace = c.trace || (c.tasks || []).map((t) => t.trace).find((t) => t) || "";
  v.trace.textContent = trace;
  v.trace.hidden = !trace;
  drawChart(v.chart, c);
}

function renderPipelines(stats) {
  const seen = new Set();
  const root = $("pipelines");
  for (const c of stats.connectors) {
    let card = cards.get(c.pipeline);
    if (!card) {
      const title = el("h2", {}, c.pipeline, el("small", {}, c.file));
      card = { box: el("div", { class: "pipeline", "data-pipeline": c.pipeline }, title),
               conns: new Map() };
      cards.set(c.pipeline, card);
      root.append(card.box);
    }
    let v = card.conns.get(c.name);
    if (!v) {
      v = makeConnector(c);
      card.conns.set(c.name, v);
      card.box.append(v.box);
    }
    updateConnector(v, c);
    seen.add(c.pipeline + "\n" + c.name);
  }
  // connectors and pipelines that went (deleted, reloaded away)
  for (const [pid, card] of cards) {
    for (const [name, v] of card.conns)
      if (!seen.has(pid + "\n" + name)) {
        v.box.remove();
        card.conns.delete(name);
      }
    if (!card.conns.size) {
      card.box.remove();
      cards.delete(pid);
    }
  }
  if (!stats.connectors.length && !root.querySelector(".empty"))
    root.append(el("p", { class: "muted empty" }, "No connectors in this worker."));
  else if (stats.connectors.length)
    for (const e of root.querySelectorAll(".empty")) e.remove();
}

function renderProcess(p) {
  $("rss").textContent = fmtBytes(p.rss_bytes);
  $("rss").dataset.bytes = String(p.rss_bytes);
  $("cpu").textContent = (p.cpu_percent || 0).toFixed(1) + " %";
  $("cpu").dataset.percent = String(p.cpu_percent || 0);
  $("uptime").textContent = fmtDuration(p.uptime_seconds || 0);
}

let lastStats = null;
let polling = null, inflight = false, again = false;
let inProcess = false; // GET / says: no Kafka cluster

async function loadWorker() {
  try {
    const r = await fetch(api("/"), { credentials: "same-origin" });
    if (r.ok) {
      const w = await r.json();
      inProcess = w.kafka_cluster_id === null;
      document.title = `sluice ${w.version}`;
      $("version").textContent = w.version;
    }
  } catch (e) {
    /* the stats poll reports an unreachable worker */
  }
}

// The series the page holds. The first answer of /stats has the whole window; the next ones ask
// only for the samples taken since (the whole window of every connector each second would be
// about 14 KB per connector), appended here. `samples` (the worker's count) says how many are new.
const held = { samples: -1, at: 0, full: true, conns: new Map(), proc: null };

function tail(a, n) {
  return n > 0 ? a.slice(-n) : [];
}

function appendSeries(old, got, fresh) {
  const out = {};
  for (const k of Object.keys(got)) out[k] = (old[k] || []).concat(tail(got[k], fresh)).slice(-WINDOW);
  return out;
}

// Merge a small answer into what is held; a connector seen for the first time, samples missed or
// a worker that started again make the next request ask for the whole window.
function merge(stats, asked, full) {
  const fresh = stats.samples - held.samples;
  let complete = full || (fresh >= 0 && fresh <= asked);
  if (!full && complete) {
    for (const c of stats.connectors) {
      const old = held.conns.get(c.name);
      if (old) c.series = appendSeries(old, c.series, fresh);
      else complete = false;
    }
    if (held.proc) stats.process.series = appendSeries(held.proc, stats.process.series, fresh);
  }
  held.conns = new Map(stats.connectors.map((c) => [c.name, c.series]));
  held.proc = stats.process.series;
  held.samples = stats.samples;
  held.full = !complete;
}

async function poll() {
  clearTimeout(polling);
  if (inflight) {
    again = true; // an action asked for fresh figures: right after this answer
    return;
  }
  inflight = true;
  try {
    const full = held.full;
    const since = (Date.now() - held.at) / 1000;
    const asked = full ? WINDOW : Math.min(WINDOW, Math.ceil(since) + 2);
    const at = Date.now();
    const r = await fetch(api(`/stats?window=${asked}`), { credentials: "same-origin" });
    if (!r.ok) throw new Error(`GET /stats: HTTP ${r.status}`);
    const stats = await r.json();
    held.at = at;
    merge(stats, asked, full);
    lastStats = stats;
    renderProcess(stats.process);
    renderPipelines(stats);
    refreshTapChoices();
    colourTopology();
    const s = $("conn");
    s.textContent = "updated " + new Date(stats.now_ms).toLocaleTimeString();
    s.dataset.ok = "1";
  } catch (e) {
    held.full = true;
    const s = $("conn");
    s.textContent = "worker unreachable: " + e.message;
    s.dataset.ok = "";
  }
  inflight = false;
  polling = setTimeout(poll, again ? 0 : POLL_MS);
  again = false;
}

// -- topology ----------------------------------------------------------------------------------

let topology = null;
const NODE_W = 150, NODE_H = 40, GAP = 36, ROW = 56;

function clip(s, n) {
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}

function node(g, x, y, title, sub, cls, connector) {
  const n = svg("g", { class: "node " + (cls || ""), transform: `translate(${x},${y})` });
  if (connector) n.dataset.connector = connector;
  n.append(svg("rect", { width: NODE_W, height: NODE_H, rx: 5 }));
  const t = svg("text", { x: 8, y: 17 });
  t.textContent = clip(title, 22);
  const st = svg("text", { x: 8, y: 32, class: "sub" });
  st.textContent = clip(sub, 26);
  const tip = svg("title");
  tip.textContent = `${title} — ${sub}`;
  n.append(t, st, tip);
  g.append(n);
}

function edge(g, x1, y1, x2, y2, marker) {
  const mid = (x1 + x2) / 2;
  g.append(svg("path", {
    class: "edge",
    d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2 - 6},${y2}`,
    "marker-end": `url(#${marker})`,
  }));
}

function drawFile(f, index) {
  const wrap = el("div", { class: "topology-file", "data-file": f.file });
  wrap.append(el("h3", {}, f.file));
  let cols = 0, rows = 0;
  for (const p of f.pipelines) {
    cols = Math.max(cols, (p.source ? 1 : 0) + p.transforms.length + 2);
    rows += Math.max(1, p.sinks.length);
  }
  const width = cols * (NODE_W + GAP) + 10, height = rows * ROW + 10;
  const s = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height });
  const defs = svg("defs");
  const m = svg("marker", { id: "arrow-" + index, viewBox: "0 0 10 10", refX: 4, refY: 5,
                            markerWidth: 6, markerHeight: 6, orient: "auto-start-reverse" });
  m.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }));
  defs.append(m);
  s.append(defs);
  let y = 5;
  for (const p of f.pipelines) {
    const g = svg("g", { class: "pipeline-topology", "data-pipeline": p.id });
    const h = Math.max(1, p.sinks.length) * ROW;
    const cy = y + h / 2 - NODE_H / 2;
    let x = 5, prev = null;
    const link = (nx, ny) => {
      if (prev) edge(g, prev[0], prev[1], nx, ny + NODE_H / 2, "arrow-" + index);
    };
    if (p.source) {
      node(g, x, cy, p.source.connector, "source · " + p.source.plugin, "source",
           p.source.connector);
      prev = [x + NODE_W, cy + NODE_H / 2];
      x += NODE_W + GAP;
    }
    for (const t of p.transforms) {
      link(x, cy);
      node(g, x, cy, t.id, "transform · " + t.type, "transform");
      prev = [x + NODE_W, cy + NODE_H / 2];
      x += NODE_W + GAP;
    }
    link(x, cy);
    node(g, x, cy, p.topic || p.id, "topic", "topic");
    const topicOut = [x + NODE_W, cy + NODE_H / 2];
    x += NODE_W + GAP;
    p.sinks.forEach((sk, i) => {
      const sy = y + i * ROW + (ROW - NODE_H) / 2;
      edge(g, topicOut[0], topicOut[1], x, sy + NODE_H / 2, "arrow-" + index);
      const via = sk.transforms && sk.transforms.length
        ? " · via " + sk.transforms.map((t) => t.id).join(", ") : "";
      node(g, x, sy, sk.id, "sink · " + sk.plugin + via, "sink", sk.connector);
    });
    s.append(g);
    y += h;
  }
  wrap.append(s);
  return wrap;
}

function colourTopology() {
  if (!lastStats) return;
  const states = new Map(lastStats.connectors.map((c) => [c.name, c.state]));
  for (const n of document.querySelectorAll("#topology .node[data-connector]")) {
    const st = states.get(n.dataset.connector) || "UNASSIGNED";
    n.setAttribute("class", n.getAttribute("class").replace(/ state-\w+/, "") + " state-" + st);
  }
}

async function loadTopology() {
  try {
    const r = await fetch(api("/topology"), { credentials: "same-origin" });
    if (r.ok) {
      const t = await r.json();
      const text = JSON.stringify(t);
      if (!topology || text !== JSON.stringify(topology)) {
        topology = t;
        const root = $("topology");
        root.replaceChildren(...t.files.map(drawFile));
        if (!t.files.length) root.append(el("p", { class: "muted" }, "No pipelines."));
        colourTopology();
        refreshTapChoices();
      }
    }
  } catch (e) {
    /* the stats poll reports an unreachable worker */
  }
  setTimeout(loadTopology, TOPOLOGY_MS);
}

// -- the tap -----------------------------------------------------------------------------------

let tapAbort = null;

// The stages of a connector: a source's and its pipeline's transforms, or a sink's and its own.
function stagesOf(name) {
  for (const f of (topology && topology.files) || [])
    for (const p of f.pipelines) {
      if (p.source && p.source.connector === name)
        return ["source", ...p.transforms.map((t) => t.id)];
      for (const sk of p.sinks)
        if (sk.connector === name) return [...(sk.transforms || []).map((t) => t.id), "sink"];
    }
  return ["source", "sink"];
}

function fillSelect(sel, values) {
  const cur = sel.value;
  const have = [...sel.options].map((o) => o.value);
  if (have.join("\n") === values.join("\n")) return;
  sel.replaceChildren(...values.map((v) => el("option", { value: v }, v)));
  if (values.includes(cur)) sel.value = cur;
}

function refreshTapChoices() {
  if (!lastStats) return;
  fillSelect($("tap-connector"), lastStats.connectors.map((c) => c.name));
  fillSelect($("tap-stage"), stagesOf($("tap-connector").value));
}

function cellJSON(v) {
  if (v === undefined) return "";
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s.length > 500 ? s.slice(0, 499) + "…" : s;
}

function addTapRow(o) {
  const body = $("tap-table").tBodies[0];
  const headers = (o.headers || []).map((h) => `${h.key}=${cellJSON(h.value)}`).join(", ");
  const ts = o.timestamp ? new Date(o.timestamp).toLocaleTimeString() : "";
  const row = el("tr", {},
    el("td", {}, ts),
    el("td", {}, o.topic === null || o.topic === undefined ? "" : String(o.topic)),
    el("td", {}, o.partition === null || o.partition === undefined ? "–" : String(o.partition)),
    el("td", {}, o.offset === null || o.offset === undefined ? "–" : String(o.offset)),
    el("td", { class: "json" }, cellJSON(o.key)),
    el("td", { class: "json" }, cellJSON(o.value)),
    el("td", { class: "json" }, headers));
  if (o.skipped) row.title = `${o.skipped} records passed unseen before this one (sampled)`;
  body.prepend(row);
  while (body.rows.length > TAP_ROWS) body.deleteRow(body.rows.length - 1);
}

function tapDone(text) {
  tapAbort = null;
  $("tap-start").disabled = false;
  $("tap-stop").disabled = true;
  $("tap-status").textContent = text;
}

async function tapStart(ev) {
  ev.preventDefault();
  if (tapAbort) return;
  const name = $("tap-connector").value, stage = $("tap-stage").value;
  if (!name) return;
  const limit = Math.max(1, Math.min(100000, parseInt($("tap-limit").value, 10) || 100));
  const url = api(`/connectors/${encodeURIComponent(name)}/tap?stage=${encodeURIComponent(stage)}` +
                  `&limit=${limit}`);
  tapAbort = new AbortController();
  $("tap-start").disabled = true;
  $("tap-stop").disabled = false;
  $("tap-status").textContent = "watching…";
  let seen = 0;
  try {
    const r = await fetch(url, { signal: tapAbort.signal, credentials: "same-origin",
                                 headers: { Accept: "application/x-ndjson" } });
    if (!r.ok) {
      let msg = `HTTP ${r.status}`;
      try {
        msg = (await r.json()).message || msg;
      } catch (e) {
        /* the status says enough */
      }
      tapDone("tap refused: " + msg);
      return;
    }
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        addTapRow(JSON.parse(line));
        seen++;
        $("tap-status").textContent = `${seen} record${seen === 1 ? "" : "s"}`;
      }
    }
    tapDone(`${seen} record${seen === 1 ? "" : "s"}; the tap ended`);
  } catch (e) {
    tapDone(e.name === "AbortError" ? `${seen} records; stopped` : "tap: " + e.message);
  }
}

function tapStop() {
  if (tapAbort) tapAbort.abort();
}

$("tap-form").addEventListener("submit", tapStart);
$("tap-stop").addEventListener("click", tapStop);
$("tap-connector").addEventListener("change", refreshTapChoices);

loadWorker().then(poll);
loadTopology();
