// The console: sign in, pick a database, browse its tables, run SQL and PQL, see the
// result as a table, a chart or JSON, watch the server. Everything goes through api.js.

import { Api, ApiError } from "./api.js";
import { $, h, clear, show, tabs, fmtInt, fmtMs } from "./dom.js";
import { Editor } from "./editor.js";
import { toJSON } from "./exact-json.js";
import { fromPql, fromSql, renderTable, toCsv } from "./results.js";
import { render as renderChart } from "./charts.js";
import { SchemaBrowser } from "./schema.js";
import { ServerPanel } from "./server-panel.js";

const HISTORY_MAX = 50;
const JSON_VIEW_MAX = 200_000;
const AUTO_REFRESH_MS = 5000;

const api = new Api({ onExpired: () => signedOut("Your session has expired. Sign in again.") });
const editor = new Editor($("editor-input"), $("editor-code"));
const state = {
  databases: [],
  databaseId: null,
  running: null,
  models: [],
  body: null,
  modelIndex: 0,
  page: 0,
  chartWidth: 0, // the width the chart on show was drawn at
  history: [],
  historyPos: -1,
  timer: null,
  runs: 0,
};

function setStatus(text) {
  $("status").textContent = text;
}

function describe(err) {
  if (!(err instanceof ApiError)) return err.message || String(err);
  const where = err.data.line && !/\bline \d/.test(err.message) ? ` (line ${err.data.line}, column ${err.data.column})` : "";
  return `${err.message}${where} — ${err.code}${err.requestId ? `, request ${err.requestId}` : ""}`;
}

// -- sign in and out ---------------------------------------------------------------------

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const user = $("signin-user").value.trim();
  const password = $("signin-password").value;
  const error = $("signin-error");
  if (!user || !password) {
    error.textContent = "Enter your email (or account name) and your password.";
    show(error, true);
    (user ? $("signin-password") : $("signin-user")).focus();
    return;
  }
  $("signin-submit").disabled = true;
  setStatus("Signing in…");
  try {
    await api.signIn(user, password);
  } catch (err) {
    $("signin-password").value = "";
    error.textContent = err instanceof ApiError && err.status === 401
      ? "Sign-in failed: that email or account name and password do not match."
      : err instanceof ApiError && err.status === 429
        ? "Too many sign-in attempts. Wait a moment and try again."
        : `Sign-in failed: ${describe(err)}`;
    show(error, true);
    setStatus("");
    $("signin-password").focus();
    return;
  } finally {
    $("signin-submit").disabled = false;
  }
  $("signin-password").value = "";
  show(error, false);
  signedIn();
});

function signedIn() {
  const s = api.session;
  $("who").textContent = `${s.user} (${s.role})`;
  show($("signin-view"), false);
  show($("console-view"), true);
  show($("session"), true);
  state.history = loadHistory();
  renderHistory();
  setStatus(`Signed in as ${s.user}.`);
  loadDatabases();
  editor.focus();
}

function signedOut(message) {
  abortRunning();
  stopAutoRefresh();
  state.databases = [];
  state.databaseId = null;
  state.models = [];
  state.body = null;
  clear($("database"));
  clear($("schema-body"));
  clear($("result-table"));
  clear($("result-chart"));
  $("result-json-text").textContent = "";
  for (const id of ["server-status", "server-databases", "server-queries", "server-metrics"]) clear($(id));
  show($("result"), false);
  show($("console-view"), false);
  show($("session"), false);
  show($("signin-view"), true);
  const error = $("signin-error");
  error.textContent = message || "";
  show(error, Boolean(message));
  setStatus(message || "Signed out.");
  $("signin-user").focus();
}

$("signout").addEventListener("click", async () => {
  clearHistory();
  await api.signOut();
  signedOut("");
});

// -- databases and tables ----------------------------------------------------------------

const schema = new SchemaBrowser(api, $("schema-body"), {
  onQuery: (q) => {
    setLanguage(q.language);
    if (q.table) $("pql-table").value = q.table;
    editor.value = q.text;
    run({ view: "view-chart" });
  },
  onTables: (tables) => {
    const select = clear($("pql-table"));
    for (const t of tables) select.append(h("option", { value: t }, t));
    if (!editor.value.trim() && tables.length) editor.value = `SELECT * FROM ${tables[0]} LIMIT 100`;
  },
  onError: (err) => setStatus(describe(err)),
});

async function loadDatabases() {
  const select = $("database");
  try {
    state.databases = await api.list("/v2/databases");
  } catch (err) {
    if (!api.signedIn) return;
    clear(select).append(h("option", { value: "" }, "—"));
    clear($("schema-body")).append(h("p", { class: "error" }, err instanceof ApiError && err.reason === "FORBIDDEN"
      ? "Your role cannot list databases; the console needs an account with the root, manager or backend role."
      : `Databases could not be listed: ${describe(err)}`));
    return;
  }
  clear(select);
  for (const db of state.databases) {
    const running = db.database_status === "RUNNING";
    select.append(h("option", { value: db.id, disabled: !running }, running ? db.name : `${db.name} (${db.database_status})`));
  }
  const remembered = sessionStorage.getItem("roarbase.database");
  const usable = state.databases.filter((d) => d.database_status === "RUNNING");
  const pick = usable.find((d) => d.id === remembered) || usable[0];
  if (!pick) {
    clear($("schema-body")).append(h("p", { class: "note" }, "No running database. Create one with POST /v2/databases."));
    return;
  }
  select.value = pick.id;
  useDatabase(pick.id);
}

function useDatabase(id) {
  state.databaseId = id;
  sessionStorage.setItem("roarbase.database", id);
  show($("result"), false);
  schema.load(id);
}

$("database").addEventListener("change", (e) => useDatabase(e.target.value));
$("schema-refresh").addEventListener("click", () => state.databaseId && schema.load(state.databaseId));

// -- the editor --------------------------------------------------------------------------

function language() {
  return $("lang-pql").checked ? "pql" : "sql";
}

function setLanguage(lang) {
  $(`lang-${lang}`).checked = true;
  show($("pql-table-wrap"), lang === "pql");
  editor.setLanguage(lang);
}

for (const id of ["lang-sql", "lang-pql"]) $(id).addEventListener("change", () => setLanguage(language()));

$("editor-input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    run();
  } else if (e.altKey && (e.key === "ArrowUp" || e.key === "ArrowDown")) {
    e.preventDefault();
    stepHistory(e.key === "ArrowUp" ? 1 : -1);
  }
});
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && state.running) {
    e.preventDefault();
    cancel();
  }
});
$("run").addEventListener("click", () => run());
$("cancel").addEventListener("click", () => cancel());

// -- history (this tab only: sessionStorage, cleared on sign-out) -----------------------

function historyKey() {
  return `roarbase.history.${api.session?.accountId || ""}`;
}

function loadHistory() {
  try {
    const items = JSON.parse(sessionStorage.getItem(historyKey()) || "[]");
    return Array.isArray(items) ? items : [];
  } catch {
    return [];
  }
}

function remember(entry) {
  state.history = [entry, ...state.history.filter((x) => x.text !== entry.text || x.language !== entry.language)]
    .slice(0, HISTORY_MAX);
  state.historyPos = -1;
  sessionStorage.setItem(historyKey(), JSON.stringify(state.history));
  renderHistory();
}

function clearHistory() {
  sessionStorage.removeItem(historyKey());
  state.history = [];
  renderHistory();
}

function recall(entry) {
  setLanguage(entry.language);
  if (entry.table) $("pql-table").value = entry.table;
  editor.value = entry.text;
}

function stepHistory(delta) {
  const pos = state.historyPos + delta;
  if (pos < -1 || pos >= state.history.length) return;
  state.historyPos = pos;
  if (pos >= 0) recall(state.history[pos]);
}

function renderHistory() {
  const list = clear($("history-list"));
  if (!state.history.length) list.append(h("li", { class: "note" }, "Queries you run appear here."));
  for (const entry of state.history) {
    list.append(h("li", {}, h("button", { type: "button", class: "history-item", onclick: () => {
      recall(entry);
      editor.focus();
    } }, h("span", { class: "badge" }, entry.language.toUpperCase()), " ", entry.text.replace(/\s+/g, " ").slice(0, 160))));
  }
}

$("history-clear").addEventListener("click", clearHistory);

// -- running -----------------------------------------------------------------------------

function abortRunning() {
  if (state.running) state.running.controller.abort();
}

function cancel() {
  if (!state.running) return;
  state.running.cancelled = true;
  state.running.controller.abort();
}

function busy(on) {
  $("run").disabled = on;
  $("cancel").disabled = !on;
  $("result").setAttribute("aria-busy", String(on));
}

async function run({ view } = {}) {
  if (state.running || !state.databaseId) return;
  const text = editor.value.trim();
  if (!text) {
    setStatus("Type a query first.");
    return;
  }
  const lang = language();
  const table = $("pql-table").value;
  if (lang === "pql" && !table) {
    setStatus("PQL runs against a table: pick one.");
    return;
  }
  const job = { controller: new AbortController(), started: performance.now(), cancelled: false };
  state.running = job;
  busy(true);
  setStatus("Running…");
  remember({ language: lang, table: lang === "pql" ? table : "", text });
  try {
    const body = lang === "sql"
      ? await api.sql(state.databaseId, text, job.controller.signal)
      : await api.pql(state.databaseId, table, text, job.controller.signal);
    const ms = performance.now() - job.started;
    const kinds = lang === "pql" ? await schema.fieldKinds(table).catch(() => ({})) : {};
    showResult(lang === "sql" ? fromSql(body) : fromPql(text, body, kinds), body, ms, view);
  } catch (err) {
    const ms = performance.now() - job.started;
    if (err.name === "AbortError") {
      if (job.cancelled) showMessage(`Cancelled after ${fmtMs(ms)}.`, false);
    } else {
      showMessage(describe(err), true);
    }
  } finally {
    if (state.running === job) {
      state.running = null;
      busy(false);
    }
    $("result").dataset.runs = String(++state.runs); // how many runs have finished (tests wait on it)
  }
}

function showMessage(text, isError) {
  state.models = [];
  show($("result"), true);
  $("result-meta").textContent = "";
  const el = $("result-error");
  el.textContent = text;
  el.classList.toggle("info", !isError);
  show(el, true);
  show($("result-tabs"), false);
  for (const id of ["result-table", "result-chart", "result-json", "export", "result-pick", "result-pick-label"]) show($(id), false);
  setStatus(text);
}

const resultTabs = tabs($("result-tabs"), () => paint());

function showResult(models, body, ms, view) {
  state.models = models;
  state.body = body;
  state.modelIndex = 0;
  state.page = 0;
  show($("result"), true);
  show($("result-error"), false);
  show($("result-tabs"), true);
  show($("export"), true);
  const pick = clear($("result-pick"));
  models.forEach((m, i) => pick.append(h("option", { value: String(i) }, `${i + 1}: ${m.title.slice(0, 60)}`)));
  show(pick, models.length > 1);
  show($("result-pick-label"), models.length > 1);
  const rows = models.reduce((n, m) => n + m.rows.length, 0);
  const server = body["execution-time"] !== undefined ? ` (server ${fmtMs(Number(body["execution-time"]) / 1000)})` : "";
  $("result-meta").textContent = `${fmtInt(rows)} ${rows === 1 ? "row" : "rows"} · ${fmtMs(ms)}${server}`;
  const json = toJSON(body, 2);
  $("result-json-text").textContent = json.length > JSON_VIEW_MAX
    ? json.slice(0, JSON_VIEW_MAX) + `\n… (${fmtInt(json.length - JSON_VIEW_MAX)} more characters: export as CSV for everything)`
    : json;
  resultTabs.select(view && models[0]?.chart ? view : currentView());
  setStatus(`Done: ${$("result-meta").textContent}.`);
}

function currentView() {
  return $("result-tabs").querySelector('[aria-selected="true"]').id;
}

function paint() {
  const model = state.models[state.modelIndex];
  if (!model) return;
  const view = currentView();
  if (view === "view-table") {
    state.page = renderTable($("result-table"), model, state.page, (p) => {
      state.page = p;
      paint();
    });
  } else if (view === "view-chart") {
    const box = $("result-chart");
    state.chartWidth = box.clientWidth;
    clear(box).append(renderChart(model.chart, state.chartWidth));
  }
}

// A chart is drawn at its box's width (so its text stays readable): redraw it when the box
// changes width — a window resized, a phone turned.
new ResizeObserver(() => {
  const box = $("result-chart");
  if (!box.hidden && box.clientWidth && Math.abs(box.clientWidth - state.chartWidth) > 24) paint();
}).observe($("result-chart"));

$("result-pick").addEventListener("change", (e) => {
  state.modelIndex = Number(e.target.value);
  state.page = 0;
  paint();
});

$("export").addEventListener("click", () => {
  const model = state.models[state.modelIndex];
  if (!model) return;
  const url = URL.createObjectURL(new Blob([toCsv(model)], { type: "text/csv;charset=utf-8" }));
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const a = h("a", { href: url, download: `roarbase-${stamp}.csv`, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
});

// -- the server panel --------------------------------------------------------------------

const panel = new ServerPanel(api, {
  status: $("server-status"), databases: $("server-databases"), queries: $("server-queries"), metrics: $("server-metrics"),
});

function stopAutoRefresh() {
  clearInterval(state.timer);
  state.timer = null;
  $("server-auto").checked = false;
}

tabs($("console-view").querySelector(".tabs"), (id) => {
  if (id === "tab-server") panel.refresh();
});
$("server-refresh").addEventListener("click", () => panel.refresh());
$("server-auto").addEventListener("change", (e) => {
  clearInterval(state.timer);
  state.timer = e.target.checked ? setInterval(() => {
    if (api.signedIn && !$("panel-server").hidden) panel.refresh();
  }, AUTO_REFRESH_MS) : null;
});

setLanguage("sql");
$("signin-user").focus();
