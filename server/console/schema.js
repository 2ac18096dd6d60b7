// The schema browser: a database's tables (SHOW TABLES), each table's fields with their
// types and options (SHOW COLUMNS, read by column name), its record count and the number of distinct values of
// each set, mutex, bool and time field (one PQL request: Count(All()), Count(Distinct(...))),
// with shortcuts that write and run a query: a field's top values (TopN) and its counts over
// time (a time field's quantum views, or a timestamp field's range).

import { h, clear, fmtInt } from "./dom.js";

// What a field is, from SHOW COLUMNS' internal_type (docs/sql.md, "SHOW"): its rows can be
// counted (set, mutex, time, bool) or it holds values (int, decimal, float*, timestamp).
const ROWS_KINDS = new Set(["set", "mutex", "time", "bool"]);
const MAX_BUCKETS = 120;
const YEARS_BACK = 30;

/** A SQL answer's rows as objects keyed by its schema's column names. */
export function records(body) {
  const names = body.schema.fields.map((f) => f.name);
  return body.data.map((row) => Object.fromEntries(names.map((n, i) => [n, row[i]])));
}

const given = (v) => v !== null && v !== undefined && v !== "";

/** Seconds in the largest unit TTL takes that holds them whole: 172800 -> "2d". */
function duration(seconds) {
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) {
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/** A SHOW COLUMNS row's options as DDL would write them: "min 0 max 150", "timequantum 'YMD'". */
export function options(col) {
  const out = [];
  if (given(col.min)) out.push(`min ${col.min}`);
  if (given(col.max)) out.push(`max ${col.max}`);
  if (given(col.timeunit)) out.push(`timeunit '${col.timeunit}'`);
  if (given(col.epoch) && Number(col.epoch) !== 0) {
    out.push(`epoch '${new Date(Number(col.epoch) * 1000).toISOString().replace(".000Z", "Z")}'`);
  }
  if (given(col.timequantum)) out.push(`timequantum '${col.timequantum}'`);
  if (given(col.ttl) && Number(col.ttl) !== 0) out.push(`ttl '${duration(Number(col.ttl))}'`);
  return out.join(" ");
}

/** The fields of SHOW COLUMNS' answer (every column but _id). */
export function fieldsOf(body) {
  return records(body).filter((c) => c.name !== "_id").map((c) => ({
    name: c.name, type: c.type, kind: c.internal_type, options: options(c),
  }));
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
      const fields = fieldsOf(await this.api.sql(this.databaseId, `SHOW COLUMNS FROM ${table}`));
      this.kinds.set(table, Object.fromEntries(fields.map((f) => [f.name, f.kind])));
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
    const tables = records(body).map((t) => t.name);
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
      const fields = fieldsOf(await this.api.sql(databaseId, `SHOW COLUMNS FROM ${table}`));
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
