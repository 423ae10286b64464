// thinktime view: one small page over the JSON routes (no framework, no build step).
// Pages: Runs (/), Questions (/questions), one question (/q/ID), Compare (/compare),
// Live (/live, /live/N). Every number shown comes from a /api route.
"use strict";

const ROOT = document.querySelector('meta[name="thinktime-root"]').content;
const VERDICTS = ["correct", "wrong", "unparseable", "empty", "truncated"];
const COLORS = ["#1f5fbf", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#0b7285", "#5c940d", "#e67700"];
const main = document.getElementById("main");
const tip = document.getElementById("tip");

// ---- small helpers -------------------------------------------------------------------------
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children.flat()) node.append(child instanceof Node ? child : String(child));
  return node;
}
const pct = (x) => (x === null || x === undefined ? "—" : (100 * x).toFixed(1) + "%");
const points = (x) => `${x >= 0 ? "+" : "−"}${Math.abs(100 * x).toFixed(1)}`; // a difference
function si(x) {
  if (x === null || x === undefined) return "—";
  const units = [[1e15, "P"], [1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
  for (const [size, unit] of units) if (Math.abs(x) >= size) return (x / size).toFixed(2) + unit;
  return Number(x).toFixed(x % 1 ? 2 : 0);
}
const num = (x, digits = 0) => (x === null || x === undefined ? "—" : Number(x).toFixed(digits));
function verdict(v) { return el("span", { class: "verdict " + (v || "") }, v || "—"); }
function link(path, params, text) {
  const query = new URLSearchParams(Object.entries(params || {}).filter(([, v]) => v !== null && v !== undefined && v !== ""));
  const href = ROOT + path + (query.toString() ? "?" + query : "");
  return el("a", { href, onclick: (e) => { if (e.button === 0 && !e.ctrlKey && !e.metaKey) { e.preventDefault(); go(href); } } }, text);
}
async function api(path) {
  const reply = await fetch(ROOT + path);
  const body = await reply.json();
  if (!reply.ok) throw new Error(body.error?.message ?? JSON.stringify(body));
  return body;
}
function params() { return new URLSearchParams(location.search); }
function storeName() { return params().get("store") || document.getElementById("store").value; }
function go(href) { history.pushState(null, "", href); route(); }
window.addEventListener("popstate", () => route());
function show(...nodes) { main.replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined)); }
const questionPath = (id) => "/q/" + id.split("/").map(encodeURIComponent).join("/");
function runLabel(r) { return `${r.model} · ${r.config}` + (r.task ? ` (${r.task})` : ""); }

// ---- tooltips ------------------------------------------------------------------------------
function hover(node, text) {
  node.addEventListener("mouseenter", () => { tip.textContent = text; tip.hidden = false; });
  node.addEventListener("mousemove", (e) => { tip.style.left = e.clientX + 14 + "px"; tip.style.top = e.clientY + 14 + "px"; });
  node.addEventListener("mouseleave", () => { tip.hidden = true; });
}

// ---- Runs page: the table and the two curves ----------------------------------------------
async function runsPage() {
  const store = storeName();
  const { runs } = await api(`/api/stores/${encodeURIComponent(store)}/runs`);
  const rows = runs.map((r) => el("tr", { "data-run": r.id },
    el("td", {}, r.id), el("td", { class: "l" }, r.task), el("td", { class: "l" }, r.model),
    el("td", { class: "l" }, link("/questions", { store, run: r.id }, r.config)), el("td", {}, r.n),
    el("td", {}, `${pct(r.accuracy)} [${pct(r.ci[0])}, ${pct(r.ci[1])}]`),
    el("td", {}, num(r.tokens)), el("td", {}, si(r.flops)), el("td", {}, num(r.seconds, 1)),
    el("td", { class: "l" }, VERDICTS.filter((v) => r.verdicts[v]).map((v) => [verdict(v), " " + r.verdicts[v] + "  "]))));
  const charts = el("div", { class: "charts" }, el("p", { class: "muted" }, "computing the curves (maj@k by resampling)…"));
  show(el("h1", {}, `Runs · ${store}`),
    el("table", { id: "runs" }, el("tr", {}, ["run", "task", "model", "config", "n", "accuracy [95% CI]", "tokens/q", "FLOPs/q", "seconds/q", "verdicts"].map((h, i) => el("th", { class: i > 0 && i < 4 || i === 9 ? "l" : "" }, h))), rows),
    el("h2", {}, "Accuracy vs compute"),
    el("p", { class: "muted" }, "One point per single-shot config; pools (self-consistency, best-of-n) at k = 1, 2, 4 … N samples. Ringed points and the dashed line: the Pareto frontier. Hover a point for its numbers."),
    charts);
  const { points } = await api(`/api/stores/${encodeURIComponent(store)}/curves`);
  const colors = new Map(runs.map((r, i) => [r.id, COLORS[i % COLORS.length]]));
  charts.replaceChildren(
    chart(points, "tokens", "completion tokens per question", colors),
    chart(points.filter((p) => p.flops !== null), "flops", "FLOPs per question", colors));
  charts.after(el("div", { class: "legend" }, runs.map((r) => el("span", { style: `--c:${colors.get(r.id)}` }, runLabel(r)))));
}

function chart(points, cost, label, colors) {
  const W = 560, H = 360, L = 56, R = 16, T = 28, B = 44;
  const root = svg("svg", { class: "chart", width: W, height: H, viewBox: `0 0 ${W} ${H}`, "data-cost": cost });
  root.append(svg("text", { x: L, y: 18, class: "title" }, `accuracy vs ${cost}`));
  if (!points.length) { root.append(svg("text", { x: L, y: H / 2 }, "no points")); return root; }
  // 1) scales: log cost on x, accuracy on y
  const xs = points.map((p) => Math.log10(Math.max(p[cost], 1e-9)));
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  if (x1 - x0 < 0.2) { x0 -= 0.1; x1 += 0.1; }
  const pad = (x1 - x0) * 0.06; x0 -= pad; x1 += pad;
  const ys = points.map((p) => p.accuracy);
  let y0 = Math.max(0, Math.min(...ys) - 0.05), y1 = Math.min(1, Math.max(...ys) + 0.05);
  if (y1 - y0 < 0.1) y1 = Math.min(1, y0 + 0.1);
  const X = (p) => L + ((Math.log10(Math.max(p[cost], 1e-9)) - x0) / (x1 - x0)) * (W - L - R);
  const Y = (a) => T + (1 - (a - y0) / (y1 - y0)) * (H - T - B);
  // 2) axes and grid
  for (let i = 0; i <= 4; i++) {
    const a = y0 + ((y1 - y0) * i) / 4;
    root.append(svg("line", { x1: L, x2: W - R, y1: Y(a), y2: Y(a), stroke: "#eee" }),
      svg("text", { x: L - 6, y: Y(a) + 4, "text-anchor": "end" }, pct(a)));
  }
  for (let e = Math.ceil(x0); e <= Math.floor(x1); e++) {
    const x = L + ((e - x0) / (x1 - x0)) * (W - L - R);
    root.append(svg("line", { x1: x, x2: x, y1: T, y2: H - B, stroke: "#eee" }),
      svg("text", { x, y: H - B + 16, "text-anchor": "middle" }, si(10 ** e)));
  }
  root.append(svg("text", { x: (L + W - R) / 2, y: H - 8, "text-anchor": "middle" }, label + " (log)"));
  // 3) each pool's k-curve as a line, then the Pareto frontier as a dashed line
  const byRun = new Map();
  for (const p of points) (byRun.get(p.run) || byRun.set(p.run, []).get(p.run)).push(p);
  for (const [run, series] of byRun) {
    if (series.length > 1) root.append(svg("polyline", { fill: "none", stroke: colors.get(run), "stroke-width": 1.5, opacity: 0.7,
      points: series.map((p) => `${X(p)},${Y(p.accuracy)}`).join(" ") }));
  }
  const frontier = points.filter((p) => p["pareto_" + cost]).sort((a, b) => a[cost] - b[cost]);
  if (frontier.length > 1) root.append(svg("polyline", { class: "frontier", points: frontier.map((p) => `${X(p)},${Y(p.accuracy)}`).join(" ") }));
  // 4) the points, with their numbers on hover
  for (const p of points) {
    const dot = svg("circle", { class: "pt" + (p["pareto_" + cost] ? " pareto" : ""), cx: X(p), cy: Y(p.accuracy), r: 5, fill: colors.get(p.run), "data-run": p.run, "data-k": p.k ?? "" });
    hover(dot, `${p.model} · ${p.config}${p.k ? `  k=${p.k}` : ""}\naccuracy ${pct(p.accuracy)} [${pct(p.ci[0])}, ${pct(p.ci[1])}]` +
      (p.pass_at_k !== null ? `\npass@k ${pct(p.pass_at_k)}` : "") + `\ntokens/q ${num(p.tokens)} · FLOPs/q ${si(p.flops)}` + (p["pareto_" + cost] ? "\non the Pareto frontier" : ""));
    root.append(dot);
  }
  return root;
}

// ---- Questions page: filters, sort and pages, all on the server ----------------------------
async function questionsPage() {
  const store = storeName(), q = params();
  const { runs } = await api(`/api/stores/${encodeURIComponent(store)}/runs`);
  if (!runs.length) { show(el("p", {}, "this store has no runs")); return; }
  const state = { store, run: q.get("run") || runs[0].id, verdict: q.get("verdict") || "", sort: q.get("sort") || "question",
    order: q.get("order") || "asc", page: q.get("page") || 1, size: q.get("size") || 50,
    solved_by: q.get("solved_by") || "", missed_by: q.get("missed_by") || "" };
  const query = new URLSearchParams(Object.entries(state).filter(([k, v]) => v !== "" && k !== "store"));
  const page = await api(`/api/stores/${encodeURIComponent(store)}/questions?${query}`);
  const update = (changes) => go(ROOT + "/questions?" + new URLSearchParams(Object.entries({ ...state, page: 1, ...changes }).filter(([, v]) => v !== "")));
  const select = (name, options, value) => el("select", { name, onchange: (e) => update({ [name]: e.target.value }) },
    options.map(([v, text]) => el("option", { value: v, selected: String(v) === String(value) }, text)));
  const runOptions = runs.map((r) => [r.id, runLabel(r)]);
  const controls = el("div", { class: "controls" },
    el("label", {}, "run ", select("run", runOptions, state.run)),
    el("label", {}, "verdict ", select("verdict", [["", "any"], ...VERDICTS.map((v) => [v, v])], state.verdict)),
    el("label", {}, "solved by ", select("solved_by", [["", "—"], ...runOptions], state.solved_by)),
    el("label", {}, "but not by ", select("missed_by", [["", "—"], ...runOptions], state.missed_by)),
    el("label", {}, "sort ", select("sort", ["question", "verdict", "agreement", "tokens", "flops", "seconds"].map((s) => [s, s]), state.sort)),
    select("order", [["asc", "ascending"], ["desc", "descending"]], state.order));
  const rows = page.questions.map((x) => el("tr", { "data-verdict": x.verdict },
    el("td", { class: "l" }, link(questionPath(x.question_id), { store }, x.question_id)), el("td", { class: "l" }, verdict(x.verdict)),
    el("td", {}, x.answer ?? "—"), el("td", {}, x.gold ?? "—"), el("td", {}, x.samples ? `${pct(x.agreement)} of ${x.samples}` : "—"),
    el("td", {}, x.tokens), el("td", {}, si(x.flops)), el("td", {}, num(x.seconds, 1))));
  const pages = Math.max(1, Math.ceil(page.total / page.size));
  const pager = el("div", { class: "pager" },
    el("button", { disabled: page.page <= 1, onclick: () => update({ page: page.page - 1 }) }, "‹ prev"),
    el("span", { id: "pageinfo" }, `page ${page.page} of ${pages} · ${page.total} questions`),
    el("button", { disabled: page.page >= pages, onclick: () => update({ page: page.page + 1 }) }, "next ›"));
  show(el("h1", {}, `Questions · ${store}`), controls, pager,
    el("table", { id: "questions" }, el("tr", {}, ["question", "verdict", "answer", "gold", "agreement", "tokens", "FLOPs", "seconds"].map((h, i) => el("th", { class: i < 2 ? "l" : "" }, h))), rows));
}

// ---- One question: every run side by side --------------------------------------------------
async function questionPage(id) {
  const store = storeName();
  const detail = await api(`/api/stores/${encodeURIComponent(store)}/questions/${id.split("/").map(encodeURIComponent).join("/")}`);
  const asked = detail.answers.find((a) => a.question)?.question;
  show(el("h1", {}, `Question ${detail.question_id}`),
    ...(asked ? [el("p", { id: "question", class: "question" }, asked)] : []),
    el("p", {}, "gold answer: ", el("b", { id: "gold" }, detail.answers[0].gold ?? "—")),
    detail.answers.map((a) => answerBlock(a, store)));
}

function answerBlock(a, store) {
  const bill = el("div", { class: "kv bill" }, Object.entries(a.bill).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) =>
    el("span", {}, el("span", { class: "muted" }, k.replaceAll("_", " ") + " "), typeof v !== "number" ? v : Math.abs(v) >= 1e5 ? si(v) : Number.isInteger(v) ? v : v.toFixed(2))));
  const votes = el("table", { class: "votes" }, el("tr", {}, ["answer (class)", "votes", "score", "samples", "verdict"].map((h, i) => el("th", { class: i === 0 ? "l" : "" }, h))),
    a.votes.map((c) => el("tr", { class: c.chosen ? "chosen" : "" }, el("td", { class: "l" }, c.answer, c.chosen ? " ← chosen" : ""), el("td", {}, c.votes),
      el("td", {}, c.score === null ? "—" : c.score.toFixed(2)), el("td", {}, c.samples.map((i) => "#" + i).join(" ")), el("td", {}, verdict(c.verdict)))));
  const samples = a.samples.map((s) => el("details", { class: "sample", open: true, "data-sample": s.index, "data-verdict": s.verdict },
    el("summary", {}, `#${s.index} `, verdict(s.verdict), ` · answer ${s.answer ?? "—"} · ${s.completion_tokens ?? "—"} tokens · ${s.finish_reason ?? ""}`,
      s.score !== null ? ` · score ${s.score.toFixed(3)}` : "", s.vote_class !== null ? ` · class #${s.vote_class}` : "",
      s.confidence !== null && s.confidence !== undefined ? ` · lowest-group confidence ${s.confidence.toFixed(2)}` : ""),
    s.reasoning ? el("pre", { class: "text reasoning" }, s.reasoning) : null,
    el("pre", { class: "text" }, highlighted(s.text, s.highlight))));
  const head = a.run !== null && a.run !== undefined ? link("/questions", { store, run: a.run }, `${a.model} · ${a.config}`) : `${a.model} · ${a.config}`;
  return el("section", { class: "answer-block", "data-run": a.run ?? "" },
    el("h2", {}, head, " ", verdict(a.verdict)),
    el("div", { class: "kv" }, el("span", {}, "answer ", el("b", {}, a.answer ?? "—")), el("span", {}, "strategy ", a.strategy), el("span", {}, `${a.samples.length} samples`)),
    el("h3", {}, "The bill"), bill,
    el("h3", {}, "Votes by equivalence class"), a.votes.length ? votes : el("p", { class: "muted" }, "no sample gave an answer"),
    a.note ? el("p", { class: "note" }, a.note) : null,
    a.tree && a.tree.length ? treeBlock(a.tree) : null,
    a.details && Object.keys(a.details).length ? [el("h3", {}, "Strategy details"), el("pre", { class: "text details" }, JSON.stringify(a.details, null, 2))] : null,
    el("h3", {}, "Samples"), samples);
}

// ---- a step search's tree: one nested list item per step drawn, pruned steps greyed -------
// Each step shows its score, the strategy's facts (weight, copies, visits…) and its text cut to
// one line (the whole text on hover, and below it on click); the chosen path is marked. Model
// text only ever enters the page as text nodes and attribute values, never as markup.
const SNIPPET = 90;
function treeBlock(nodes) {
  // 1) children of each node, in the order drawn (first steps hang from the question)
  const children = new Map();
  for (const n of nodes) {
    const key = n.parent ?? "root";
    (children.get(key) || children.set(key, []).get(key)).push(n);
  }
  const facts = (n) => Object.entries(n.facts || {}).filter(([, v]) => v !== null && v !== false && v !== "")
    .map(([k, v]) => v === true ? k : `${k} ${typeof v === "number" && !Number.isInteger(v) ? v.toFixed(3) : v}`);
  const snippet = (text) => { const line = text.replace(/\s+/g, " ").trim(); return line.length > SNIPPET ? line.slice(0, SNIPPET) + "…" : line || "(empty)"; };
  // 2) each step: a summary line that opens onto its full text, then its children
  const item = (n) => el("li", { class: `node ${n.kept ? "kept" : "pruned"}${n.chosen ? " chosen" : ""}`, "data-node": n.id, "data-step": n.step },
    el("details", {},
      el("summary", { title: n.text },
        el("span", { class: "score" }, n.score === null || n.score === undefined ? "—" : n.score.toFixed(3)), " ",
        el("span", { class: "snippet" }, snippet(n.text)),
        facts(n).length ? el("span", { class: "facts muted" }, " · " + facts(n).join(" · ")) : null,
        n.chosen && !(children.get(n.id) || []).some((c) => c.chosen) ? el("span", { class: "leaf" }, " ← answer") : null),
      el("pre", { class: "text" }, n.text)),
    children.has(n.id) ? branch(n.id) : null);
  const branch = (key) => el("ul", { class: "tree" }, children.get(key).map(item));
  const depth = Math.max(...nodes.map((n) => n.step));
  const kept = nodes.filter((n) => n.kept).length;
  return el("div", { class: "tree-block" },
    el("h3", {}, "Tree of steps"),
    el("p", { class: "muted" }, `${nodes.length} steps drawn over ${depth} levels, ${kept} kept, ${nodes.length - kept} pruned (grey); `,
      "the chosen path is marked, ending at the answer's leaf. Each line: score, step text (hover or click for all of it)."),
    children.has("root") ? branch("root") : null);
}

function highlighted(text, span) {
  if (!span) return [text];
  return [text.slice(0, span[0]), el("mark", { class: "answer" }, text.slice(span[0], span[1])), text.slice(span[1])];
}

// ---- Compare: two runs paired on the same questions ---------------------------------------
async function comparePage() {
  const store = storeName(), q = params();
  const { runs } = await api(`/api/stores/${encodeURIComponent(store)}/runs`);
  if (runs.length < 2) { show(el("h1", {}, "Compare"), el("p", {}, "this store has fewer than two runs")); return; }
  const a = q.get("a") || runs[0].id, b = q.get("b") || runs[1].id;
  const pair = await api(`/api/stores/${encodeURIComponent(store)}/compare?a=${a}&b=${b}`);
  const pick = (name, value) => el("select", { name, onchange: (e) => go(ROOT + "/compare?" + new URLSearchParams({ store, a, b, [name]: e.target.value })) },
    runs.map((r) => el("option", { value: r.id, selected: String(r.id) === String(value) }, runLabel(r))));
  const ids = (list) => el("p", {}, list.length ? list.map((id) => [link(questionPath(id), { store }, id), " "]) : "none");
  const [ra, rb] = [runs.find((r) => String(r.id) === String(a)), runs.find((r) => String(r.id) === String(b))];
  show(el("h1", {}, "Compare"), el("div", { class: "controls" }, el("label", {}, "A ", pick("a", a)), el("label", {}, "B ", pick("b", b))),
    el("table", { id: "paired" }, el("tr", {}, el("th", {}), el("th", {}, "B correct"), el("th", {}, "B not")),
      el("tr", {}, el("th", {}, "A correct"), el("td", {}, pair.both), el("td", {}, pair.only_a)),
      el("tr", {}, el("th", {}, "A not"), el("td", {}, pair.only_b), el("td", {}, pair.neither))),
    el("p", { class: "muted" }, `${pair.common} questions answered by both runs.`),
    el("p", { id: "difference" }, `B − A: ${points(pair.difference)} points, paired 95% CI [${points(pair.ci[0])}, ${points(pair.ci[1])}], McNemar p = ${pair.p_value.toPrecision(3)}`,
      pair.needed ? ` · a 5-point difference needs about ${pair.needed} questions` : ""),
    el("h2", {}, `Solved by A (${runLabel(ra)}) but not B`), ids(pair.only_a_ids),
    el("h2", {}, `Solved by B (${runLabel(rb)}) but not A`), ids(pair.only_b_ids));
}

// ---- Live: a server's recent answers (thinktime serve --view) ------------------------------
async function livePage(id) {
  if (id) {
    const detail = await api(`/api/live/${encodeURIComponent(id)}`);
    show(el("h1", {}, `Live answer ${id}`), detail.answers.map((a) => answerBlock(a, null)));
    return;
  }
  const reply = await api("/api/live");
  if (!reply.enabled) { show(el("h1", {}, "Live"), el("p", {}, "Not a live server: start one with `thinktime serve --view` to see its recent answers here.")); return; }
  show(el("h1", {}, `Live · the last ${reply.size} answers`),
    el("table", { id: "live" }, el("tr", {}, ["#", "time", "model", "strategy", "question", "answer", "samples", "tokens"].map((h) => el("th", { class: "l" }, h))),
      reply.answers.map((r) => el("tr", {}, el("td", {}, link("/live/" + r.id, {}, r.id)), el("td", {}, new Date(r.at * 1000).toLocaleTimeString()),
        el("td", { class: "l" }, r.model), el("td", { class: "l" }, r.strategy), el("td", { class: "l" }, r.question.slice(0, 120)),
        el("td", {}, r.answer ?? "—"), el("td", {}, r.samples), el("td", {}, r.completion_tokens)))));
}

// ---- routing -------------------------------------------------------------------------------
async function route() {
  const path = location.pathname.slice(ROOT.length) || "/";
  const page = path.startsWith("/q/") ? "question" : path.startsWith("/live") ? "live" : path.startsWith("/questions") ? "questions" : path.startsWith("/compare") ? "compare" : "runs";
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.nav === page || (page === "question" && a.dataset.nav === "questions")));
  const store = params().get("store");
  if (store) document.getElementById("store").value = store;
  try {
    if (page !== "live" && !document.getElementById("store").value) { show(el("p", {}, "No store named: run `thinktime view STORE.db`.")); return; }
    if (page === "question") await questionPage(decodeURIComponent(path.slice(3)));
    else if (page === "questions") await questionsPage();
    else if (page === "compare") await comparePage();
    else if (page === "live") await livePage(path.slice(6));
    else await runsPage();
  } catch (error) {
    show(el("p", { class: "error" }, String(error.message || error)));
  }
}

async function start() {
  const picker = document.getElementById("store");
  const stores = await api("/api/stores");
  picker.replaceChildren(...stores.map((s) => el("option", { value: s.name }, `${s.name} (${s.results} results)`)));
  picker.closest("label").hidden = stores.length === 0;
  picker.addEventListener("change", () => go(ROOT + "/?store=" + encodeURIComponent(picker.value)));
  // links in the header keep the chosen store
  document.querySelectorAll("nav a").forEach((a) => a.addEventListener("click", (e) => {
    e.preventDefault(); go(a.getAttribute("href") + (picker.value ? "?store=" + encodeURIComponent(picker.value) : ""));
  }));
  await route();
}
start();
