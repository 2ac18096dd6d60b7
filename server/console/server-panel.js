// The server panel: the server's version and readiness (GET /version, GET /ready), the org's
// databases and their states, its recent queries with durations (GET /v2/queries), and the
// server's metrics (GET /metrics, the Prometheus text format: headline figures, then every
// family). Routes of docs/http.md only.

import { h, clear, fmtInt, fmtMs } from "./dom.js";
import { ApiError } from "./api.js";

const MAX_FAMILIES = 60;
const MAX_SAMPLES = 8;

function note(text) {
  return h("p", { class: "note" }, text);
}

function failure(what, err) {
  return h("p", { class: "error" }, `${what}: ${err.message}${err.code ? ` (${err.code})` : ""}`);
}

/** Prometheus text exposition -> [{name, type, help, samples: [[labels, value]]}]. */
export function parseMetrics(text) {
  const families = new Map();
  const family = (name) => {
    if (!families.has(name)) families.set(name, { name, type: "untyped", help: "", samples: [] });
    return families.get(name);
  };
  const typed = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    let m = /^#\s*(HELP|TYPE)\s+(\S+)\s*(.*)$/.exec(line);
    if (m) {
      const f = family(m[2]);
      if (m[1] === "HELP") f.help = m[3];
      else {
        f.type = m[3];
        typed.push(m[2]);
      }
      continue;
    }
    if (line.startsWith("#")) continue;
    m = /^([A-Za-z_:][\w:]*)(\{.*\})?\s+([-+]?(?:\d[\d.eE+-]*|Inf|NaN))(?:\s+-?\d+)?$/.exec(line);
    if (!m) continue;
    // histogram/summary samples (name_bucket, name_sum, ...) belong to their family
    const owner = typed.find((n) => m[1] === n || (m[1].startsWith(n + "_") &&
      /^_(bucket|sum|count|total|created|info)$/.test(m[1].slice(n.length)))) || m[1];
    family(owner).samples.push([(m[1] !== owner ? m[1].slice(owner.length) : "") + (m[2] || ""), m[3]]);
  }
  return [...families.values()].filter((f) => f.samples.length);
}

/** The [labels, value] samples named `name + suffix`, wherever the parser filed them (a
 * counter's TYPE line may name it with or without `_total`); null when there are none. */
function series(byName, name, suffix = "") {
  const full = byName.get(name + suffix);
  if (full) return full.samples.filter(([l]) => !l.startsWith("_"));
  const family = byName.get(name);
  if (!family) return null;
  return family.samples.filter(([l]) => l === suffix || l.startsWith(suffix + "{")).map(([l, v]) => [l.slice(suffix.length), v]);
}

/** The sum of those samples whose labels pass `keep`; null when the metric is absent. */
function sum(byName, name, suffix = "", keep = () => true) {
  const found = series(byName, name, suffix);
  return found === null ? null : found.filter(([l]) => keep(l)).reduce((a, [, v]) => a + Number(v), 0);
}

const labelIs = (key, want) => (labels) => {
  const m = new RegExp(`[{,]${key}="([^"]*)"`).exec(labels);
  return m !== null && (typeof want === "function" ? want(m[1]) : m[1] === want);
};

/** Headline figures from roarbase's /metrics families (docs/http.md), in display order:
 * [[name, text]]. A figure whose metric the server does not expose is left out. */
export function summarize(families) {
  const byName = new Map(families.map((f) => [f.name, f]));
  const out = [];
  const add = (name, value, text = fmtInt) => {
    if (value !== null && !Number.isNaN(value)) out.push([name, text(value)]);
  };
  const count = (name, keep) => sum(byName, name, "_total", keep);
  const queries = count("roarbase_queries");
  add("Queries run", queries, (n) => `${fmtInt(n)} (SQL ${fmtInt(count("roarbase_queries", labelIs("language", "sql")))},`
    + ` PQL ${fmtInt(count("roarbase_queries", labelIs("language", "pql")))};`
    + ` ${fmtInt(count("roarbase_queries", labelIs("kind", "write")))} writes)`);
  const timed = sum(byName, "roarbase_query_duration_seconds", "_count");
  if (timed) add("Mean query time", (sum(byName, "roarbase_query_duration_seconds", "_sum") / timed) * 1000, fmtMs);
  const failed = count("roarbase_http_requests", labelIs("status", (s) => s.startsWith("5")));
  add("HTTP requests", count("roarbase_http_requests"),
    (n) => `${fmtInt(n)} (${fmtInt(failed)} server error${failed === 1 ? "" : "s"})`);
  add("gRPC calls", count("roarbase_grpc_calls"));
  const capacity = sum(byName, "roarbase_admission_capacity");
  add("In progress", sum(byName, "roarbase_requests_in_progress"),
    (n) => (capacity === null ? fmtInt(n) : `${fmtInt(n)} of ${fmtInt(capacity)} admitted`));
  add("Open databases", sum(byName, "roarbase_open_databases"));
  add("Records written", count("roarbase_ingest_rows"));
  add("Refused by limits", count("roarbase_rate_limited_requests"));
  add("Failed sign-ins", count("roarbase_auth_failures"));
  add("Memory (resident)", sum(byName, "process_resident_memory_bytes"), (b) => `${(b / 1048576).toFixed(1)} MiB`);
  return out;
}

export class ServerPanel {
  constructor(api, els) {
    this.api = api;
    this.els = els; // {status, databases, queries, metrics}
    this.names = new Map();
  }

  async refresh() {
    const others = [this.status(), this.metrics()];
    await this.databases(); // first: the queries table names databases by name
    await Promise.all([this.queries(), ...others]);
  }

  /** Version and readiness; a server still opening its databases answers /ready 503. */
  async status() {
    const el = this.els.status;
    const [version, ready] = await Promise.allSettled([this.api.get("/version"), this.api.get("/ready")]);
    let line = h("p", { class: "status-line" });
    if (ready.status === "fulfilled") {
      const r = ready.value;
      const n = Number(r.open_databases);
      line.append(h("span", { class: "badge ok" }, "ready"), ` ${fmtInt(n)} database${n === 1 ? "" : "s"} open`);
      if (r.failed_databases.length) {
        line.append("; ", h("span", { class: "badge warn" }, "failed to open"), ` ${r.failed_databases.join(", ")}`);
      }
    } else if (ready.reason instanceof ApiError && ready.reason.reason === "NOT_READY") {
      line.append(h("span", { class: "badge warn" }, "starting"), ` ${ready.reason.message}`);
    } else {
      line = failure("Readiness could not be read", ready.reason);
    }
    if (version.status === "fulfilled") line.append(` · roarbase ${version.value.version}`);
    clear(el).append(line);
  }

  async databases() {
    const el = this.els.databases;
    try {
      const dbs = await this.api.list("/v2/databases");
      this.names = new Map(dbs.map((d) => [d.id, d.name]));
      clear(el).append(dbs.length ? h("div", { class: "table-scroll" }, h("table", { class: "grid", id: "server-db-table" },
        h("caption", { class: "visually-hidden" }, "Databases"),
        h("thead", {}, h("tr", {}, ["Name", "Status", "Id", "Created (UTC)", "Description"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, dbs.map((d) => h("tr", {},
          h("td", {}, d.name),
          h("td", {}, h("span", { class: `badge ${d.database_status === "RUNNING" ? "ok" : "warn"}` }, d.database_status)),
          h("td", { class: "mono" }, d.id),
          h("td", {}, d.created_at || ""),
          h("td", {}, d.description || "")))))) : note("No databases."));
    } catch (err) {
      clear(el).append(failure("Databases could not be listed", err));
    }
  }

  async queries() {
    const el = this.els.queries;
    try {
      const body = await this.api.get("/v2/queries?limit=50");
      const rows = body.resources;
      clear(el).append(rows.length ? h("div", { class: "table-scroll" }, h("table", { class: "grid", id: "server-query-table" },
        h("caption", { class: "visually-hidden" }, "Recent queries, newest first"),
        h("thead", {}, h("tr", {}, ["Started (UTC)", "Database", "Language", "Statement", "Duration", "Status"]
          .map((c, i) => h("th", { scope: "col", class: i === 4 ? "num" : null }, c)))),
        h("tbody", {}, rows.map((q) => h("tr", { "data-status": q.status },
          h("td", { class: "nowrap" }, q.started_at.replace("T", " ").replace("Z", "")),
          h("td", {}, this.names.get(q.database_id) || q.database_id),
          h("td", {}, q.language.toUpperCase() + (q.table ? ` · ${q.table}` : "")),
          h("td", { class: "mono statement", title: q.statement }, q.statement.length > 140 ? q.statement.slice(0, 139) + "…" : q.statement),
          h("td", { class: "num nowrap" }, q.duration_ms === null ? `${fmtMs(q.elapsed_ms)} so far` : fmtMs(q.duration_ms)),
          h("td", {}, h("span", { class: `badge ${q.status === "ok" ? "ok" : q.status === "running" ? "info" : "warn"}` },
            q.status === "error" ? `error: ${q.error_code}` : q.status)))))))
        : note("No queries yet since the server started."));
    } catch (err) {
      clear(el).append(failure("Recent queries could not be listed", err));
    }
  }

  async metrics() {
    const el = this.els.metrics;
    let resp;
    try {
      resp = await this.api.call("GET", "/metrics", { raw: true, accept: "text/plain" });
    } catch (err) {
      clear(el).append(err instanceof ApiError && err.status === 403
        ? note("The server shows its metrics to root and manager accounts (any account on the server's own machine).")
        : failure("Metrics could not be read", err));
      return;
    }
    const families = parseMetrics(resp.text);
    if (!families.length) {
      clear(el).append(note("/metrics answered, but with no metrics in the Prometheus text format."));
      return;
    }
    const figures = summarize(families);
    clear(el).append(
      figures.length ? h("dl", { class: "figures", id: "server-figures" }, figures.map(([name, text]) =>
        h("div", {}, h("dt", {}, name), h("dd", {}, text)))) : null,
      h("details", { id: "server-metrics-all" }, h("summary", {}, `All metrics (${fmtInt(families.length)} families)`),
        h("div", { class: "table-scroll" }, h("table", { class: "grid", id: "server-metrics-table" },
          h("caption", { class: "visually-hidden" }, "Metrics"),
          h("thead", {}, h("tr", {}, ["Metric", "Type", "Samples"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, families.slice(0, MAX_FAMILIES).map((f) => h("tr", {},
            h("td", {}, h("span", { class: "mono" }, f.name), f.help ? h("span", { class: "options" }, f.help) : null),
            h("td", {}, f.type),
            h("td", { class: "mono" }, h("ul", { class: "samples" }, f.samples.slice(0, MAX_SAMPLES).map(([labels, v]) =>
              h("li", {}, `${labels ? labels + " " : ""}${v}`)), f.samples.length > MAX_SAMPLES
              ? h("li", {}, `… ${fmtInt(f.samples.length - MAX_SAMPLES)} more`) : null)))))),
          families.length > MAX_FAMILIES ? note(`Showing ${MAX_FAMILIES} of ${families.length} metrics.`) : null)));
  }
}
