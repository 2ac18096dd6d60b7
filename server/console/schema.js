// The schema browser: a database's tables (SHOW TABLES), each table's fields with their
// types and options (SHOW COLUMNS), its record count and the number of distinct values of
// each set, mutex, bool and time field (one PQL request: Count(All()), Count(Distinct(...))),
// with shortcuts that write and run a query: a field's top values (TopN) and its counts over
// time (a time field's quantum views, or a timestamp field's range).

import { h, clear, fmtInt } from "./dom.js";

// SQL column type -> what the field is (docs/sql.md, "Column types").
const KIND = {
  id: "mutex", string: "mutex", idset: "set", stringset: "set", idsetq: "time", stringsetq: "time",
  bool: "bool", int: "int", timestamp: "timestamp",
};
const ROWS_KINDS = new Set(["set", "mutex", "time", "bool"]);
const MAX_BUCKETS = 120;
const YEARS_BACK = 30;

export function fieldKind(type) {
  if (type.startsWith("decimal")) return "decimal";
  return KIND[type] || type;
}

function options(name, type, definition) {
  // the DDL after "name type", e.g. "min 0 max 150" or "timequantum 'YMD'"
  const prefix = `${name} ${type}`;
  return definition.toLowerCase().startsWith(prefix.toLowerCase()) ? definition.slice(prefix.length).trim() : "";
}

const pad = (n, w = 2) => String(n).padStart(w, "0");

/** Bucket starts (UTC) from `first` to past `last` by unit Y, M, D or H, as PQL times. */
export function buckets(first, last, unit) {
  const out = [];
  const d = new Date(Date.UTC(first.getUTCFullYear(), unit === "Y" ? 0 : first.getUTCMonth(),
    unit === "Y" || unit === "M" ? 1 : first.getUTCDate(), unit === "H" ? first.getUTCHours() : 0));
  const fmt = (t) => unit === "H"
    ? `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}T${pad(t.getUTCHours())}:00`
    : `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`;
  while (d <= last && out.length <= MAX_BUCKETS) {
    out.push(fmt(d));
    if (unit === "Y") d.setUTCFullYear(d.getUTCFullYear() + 1);
    else if (unit === "M") d.setUTCMonth(d.getUTCMonth() + 1);
    else if (unit === "D") d.setUTCDate(d.getUTCDate() + 1);
    else d.setUTCHours(d.getUTCHours() + 1);
  }
  out.push(fmt(d)); // the end of the last bucket
  return out;
}

/** The finest unit of the quantum (or any, for timestamps) that keeps the series short. */
export function unitFor(first, last, allowed = "YMDH") {
  const days = (last - first) / 86_400_000;
  const wanted = days > 3 * 366 ? "Y" : days > 62 ? "M" : days > 3 ? "D" : "H";
  const order = "YMDH";
  let unit = allowed[0] || "Y";
  for (const u of allowed) if (order.indexOf(u) <= order.indexOf(wanted)) unit = u;
  return unit;
}

export class SchemaBrowser {
  constructor(api, container, { onQuery, onTables, onError }) {
    this.api = api;
    this.el = container;
    this.onQuery = onQuery;
    this.onTables = onTables;
    this.onError = onError;
    this.databaseId = null;
    this.kinds = new Map(); // table -> {field: kind}, for reading PQL results
  }

  /** The kinds of a table's fields ({name: "set" | "mutex" | "bool" | ...}), looked up once. */
  async fieldKinds(table) {
    if (!this.kinds.has(table)) {
      const cols = await this.api.sql(this.databaseId, `SHOW COLUMNS FROM ${table}`);
      this.kinds.set(table, Object.fromEntries(cols.data.map(([name, type]) => [name, fieldKind(type)])));
    }
    return this.kinds.get(table);
  }

  async load(databaseId) {
    this.databaseId = databaseId;
    this.kinds.clear();
    clear(this.el).append(h("p", { class: "note" }, "Loading tables…"));
    let body;
    try {
      body = await this.api.sql(databaseId, "SHOW TABLES");
    } catch (err) {
      if (this.databaseId !== databaseId) return;
      clear(this.el).append(h("p", { class: "error" }, `Tables could not be listed: ${err.message}`));
      this.onTables([]);
      return;
    }
    if (this.databaseId !== databaseId) return;
    const tables = body.data.map((r) => r[0]);
    this.onTables(tables);
    clear(this.el);
    if (!tables.length) {
      this.el.append(h("p", { class: "note" }, "No tables yet. CREATE TABLE in the SQL editor makes one."));
      return;
    }
    const list = h("ul", { class: "tables" });
    for (const name of tables) {
      const details = h("details", { class: "table", "data-table": name },
        h("summary", {}, h("span", { class: "table-name" }, name), " ", h("span", { class: "count" })),
        h("div", { class: "fields" }, h("p", { class: "note" }, "Loading…")));
      details.addEventListener("toggle", () => {
        if (details.open && !details.dataset.loaded) {
          details.dataset.loaded = "1";
          this.loadTable(databaseId, name, details);
        }
      });
      list.append(h("li", {}, details));
    }
    this.el.append(list);
  }

  async loadTable(databaseId, table, details) {
    const box = details.querySelector(".fields");
    try {
      const cols = await this.api.sql(databaseId, `SHOW COLUMNS FROM ${table}`);
      const fields = cols.data.filter((r) => r[0] !== "_id").map(([name, type, def]) => ({
        name, type, kind: fieldKind(type), options: options(name, type, def || ""),
      }));
      this.kinds.set(table, Object.fromEntries(fields.map((f) => [f.name, f.kind])));
      const counted = fields.filter((f) => ROWS_KINDS.has(f.kind));
      const pql = ["Count(All())", ...counted.map((f) => `Count(Distinct(field=${f.name}))`)].join(" ");
      const counts = (await this.api.pql(databaseId, table, pql)).results;
      counted.forEach((f, i) => { f.distinct = counts[i + 1]; });
      details.querySelector(".count").textContent = `${fmtInt(counts[0])} records`;
      details.dataset.records = String(counts[0]);
      clear(box).append(this.fieldTable(table, fields));
    } catch (err) {
      delete details.dataset.loaded;
      clear(box).append(h("p", { class: "error" }, `Could not load ${table}: ${err.message}`));
    }
  }

  fieldTable(table, fields) {
    return h("table", { class: "fields-table" },
      h("caption", { class: "visually-hidden" }, `Fields of ${table}`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Field and type"),
        h("th", { scope: "col", class: "num" }, "Distinct"),
        h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
      h("tbody", {}, fields.map((f) => h("tr", { "data-field": f.name },
        h("th", { scope: "row" }, h("span", { class: "field-name" }, f.name), " ",
          h("span", { class: `type type-${f.kind}` }, f.type),
          f.options ? h("span", { class: "options" }, f.options) : null),
        h("td", { class: "num" }, f.distinct === undefined ? "" : fmtInt(f.distinct)),
        h("td", { class: "actions" },
          ROWS_KINDS.has(f.kind) ? h("button", { type: "button", class: "small link", "aria-label": `Top values of ${f.name}`,
            onclick: () => this.onQuery({ language: "pql", table, text: `TopN(${f.name}, n=10)` }) }, "Top") : null,
          f.kind === "time" || f.kind === "timestamp" ? h("button", { type: "button", class: "small link",
            "aria-label": `${f.name} over time`, onclick: () => this.overTime(table, f) }, "Over time") : null)))));
  }

  /** Write and run the per-period counts of a time or timestamp field. */
  async overTime(table, field) {
    try {
      const text = field.kind === "time" ? await this.timeFieldSeries(table, field) : await this.timestampSeries(table, field);
      if (text) this.onQuery({ language: "pql", table, text });
    } catch (err) {
      this.onError(err);
    }
  }

  async timestampSeries(table, field) {
    const [min, max] = (await this.api.pql(this.databaseId, table,
      `Min(field=${field.name}) Max(field=${field.name})`)).results;
    if (!min.count) {
      this.onError(new Error(`${field.name} has no values yet`));
      return null;
    }
    const first = new Date(min.timestampValue);
    const last = new Date(max.timestampValue);
    const starts = buckets(first, last, unitFor(first, last));
    return starts.slice(0, -1).map((a, i) => `Count(Row(${a} <= ${field.name} < ${starts[i + 1]}))`).join("\n");
  }

  async timeFieldSeries(table, field) {
    const quantum = (/timequantum\s+'([YMDH]+)'/i.exec(field.options) || [])[1] || "YMD";
    const now = new Date().getUTCFullYear();
    const years = [];
    for (let y = now - YEARS_BACK; y <= now + 1; y++) years.push(y);
    const scan = years.map((y) => `Count(UnionRows(Rows(${field.name}, from=${y}-01-01, to=${y + 1}-01-01)))`).join(" ");
    const counts = (await this.api.pql(this.databaseId, table, scan)).results.map(Number);
    const found = years.filter((_, i) => counts[i] > 0);
    if (!found.length) {
      this.onError(new Error(`${field.name} has no time views between ${years[0]} and ${now + 1}`));
      return null;
    }
    const first = new Date(Date.UTC(found[0], 0, 1));
    const last = new Date(Date.UTC(found[found.length - 1], 11, 31));
    const starts = buckets(first, last, unitFor(first, last, quantum));
    return starts.slice(0, -1)
      .map((a, i) => `Count(UnionRows(Rows(${field.name}, from=${a}, to=${starts[i + 1]})))`).join("\n");
  }
}
