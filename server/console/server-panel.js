// The server panel: health (GET /health), the org's databases and their states, its recent
// queries with durations (GET /v2/queries) and the server's metrics (GET /metrics, the
// Prometheus text format). /health and /metrics are probed: a server without them (404)
// gets a note, not an error.

import { h, clear, fmtInt, fmtMs } from "./dom.js";
import { ApiError } from "./api.js";

const MAX_FAMILIES = 60;
const MAX_SAMPLES = 8;

function absent(err) {
  return err instanceof ApiError && (err.status === 404 || err.status === 405);
}

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

export class ServerPanel {
  constructor(api, els) {
    this.api = api;
    this.els = els; // {health, databases, queries, metrics}
    this.names = new Map();
  }

  async refresh() {
    const others = [this.health(), this.metrics()];
    await this.databases(); // first: the queries table names databases by name
    await Promise.all([this.queries(), ...others]);
  }

  async health() {
    const el = this.els.health;
    try {
      const resp = await this.api.call("GET", "/health", { raw: true, accept: "application/json, text/plain" });
      clear(el).append(h("p", { class: "ok" }, h("span", { class: "badge ok" }, "serving"), " ",
        resp.text.trim().slice(0, 200)));
    } catch (err) {
      clear(el).append(absent(err) ? note("This server has no /health endpoint. The console shows it once the server serves one.")
        : failure("Health check failed", err));
    }
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
      clear(el).append(absent(err) ? note("This server has no /metrics endpoint. The console shows its metrics once the server serves them.")
        : failure("Metrics could not be read", err));
      return;
    }
    const families = parseMetrics(resp.text);
    if (!families.length) {
      clear(el).append(note("/metrics answered, but with no metrics in the Prometheus text format."));
      return;
    }
    clear(el).append(h("div", { class: "table-scroll" }, h("table", { class: "grid", id: "server-metrics-table" },
      h("caption", { class: "visually-hidden" }, "Metrics"),
      h("thead", {}, h("tr", {}, ["Metric", "Type", "Samples"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, families.slice(0, MAX_FAMILIES).map((f) => h("tr", {},
        h("td", {}, h("span", { class: "mono" }, f.name), f.help ? h("span", { class: "options" }, f.help) : null),
        h("td", {}, f.type),
        h("td", { class: "mono" }, h("ul", { class: "samples" }, f.samples.slice(0, MAX_SAMPLES).map(([labels, v]) =>
          h("li", {}, `${labels ? labels + " " : ""}${v}`)), f.samples.length > MAX_SAMPLES
          ? h("li", {}, `… ${fmtInt(f.samples.length - MAX_SAMPLES)} more`) : null))))))));
    if (families.length > MAX_FAMILIES) el.append(note(`Showing ${MAX_FAMILIES} of ${families.length} metrics.`));
  }
}
