// Query answers -> table models: {title, columns: [{name, type, numeric}], rows, chart}.
// SQL answers are FeatureBase's {schema, data}; PQL answers are {results: [one per call]}
// in Pilosa's shapes (docs/pql.md, "Result shapes"). `chart` says how to draw the model
// (charts.js) or is null.

import { Exact, toJSON } from "./exact-json.js";
import { h, clear, fmtInt } from "./dom.js";

export const PAGE_ROWS = 50;
const MAX_BARS = 60;
const MAX_HEAT = 40;
const NO_TIME = "0001-01-01T00:00:00Z";

const isNumber = (v) => typeof v === "number" || v instanceof Exact;

/** A cell as text: exact numbers as sent, NULL for null, timestamps as sent (UTC). */
export function fmtCell(v) {
  if (v === null || v === undefined) return "NULL";
  if (v instanceof Exact) return v.text;
  if (Array.isArray(v)) return "[" + v.map(fmtCell).join(", ") + "]";
  if (typeof v === "object") return toJSON(v);
  return String(v);
}

// -- SQL ---------------------------------------------------------------------------------

const NUMERIC_SQL = /^(int|decimal)/;

export function fromSql(body) {
  const fields = body.schema?.fields || [];
  const columns = fields.map((f, i) => ({
    name: f.name || `column ${i + 1}`,
    type: f.type,
    numeric: NUMERIC_SQL.test(f.type || ""),
  }));
  const rows = body.data || [];
  const model = { title: "Result", columns, rows, chart: null };
  if (!columns.length && body["rows-affected"] !== undefined) {
    model.columns = [{ name: "rows affected", type: "int", numeric: true }];
    model.rows = [[body["rows-affected"]]];
  }
  model.chart = sqlChart(model);
  return [model];
}

function sqlChart({ columns, rows }) {
  if (rows.length < 1) return null;
  const last = columns.length - 1;
  if (columns.length === 2 && columns[1].numeric) {
    const kind = columns[0].type === "timestamp" ? "line" : "bar";
    return series(kind, rows.map((r) => fmtCell(r[0])), rows.map((r) => Number(r[1])),
      `${columns[1].name || "value"} by ${columns[0].name}`);
  }
  if (columns.length === 3 && columns[last].numeric && !columns[0].numeric && !columns[1].numeric) {
    return heatmap(rows.map((r) => [fmtCell(r[0]), fmtCell(r[1]), Number(r[2])]), columns[0].name, columns[1].name,
      columns[2].name || "value");
  }
  return null;
}

function series(kind, labels, values, title) {
  const total = labels.length;
  if (kind === "bar" && total > MAX_BARS) {
    labels = labels.slice(0, MAX_BARS);
    values = values.slice(0, MAX_BARS);
  }
  return { kind, labels, values, title, total };
}

function heatmap(triples, xName, yName, valueName) {
  const xs = [...new Set(triples.map((t) => t[0]))].slice(0, MAX_HEAT);
  const ys = [...new Set(triples.map((t) => t[1]))].slice(0, MAX_HEAT);
  const xi = new Map(xs.map((x, i) => [x, i]));
  const yi = new Map(ys.map((y, i) => [y, i]));
  const cells = [];
  for (const [x, y, v] of triples) {
    if (xi.has(x) && yi.has(y)) cells.push([xi.get(x), yi.get(y), v]);
  }
  return { kind: "heatmap", xs, ys, cells, xName, yName, title: `${valueName} by ${xName} and ${yName}` };
}

// -- PQL ---------------------------------------------------------------------------------

/** The top-level calls of a PQL request, as text. */
export function splitCalls(statement) {
  const calls = [];
  let depth = 0;
  let start = -1;
  let quote = "";
  for (let i = 0; i < statement.length; i++) {
    const c = statement[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = "";
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === "#" && depth === 0) {
      const nl = statement.indexOf("\n", i);
      i = nl < 0 ? statement.length : nl;
    } else if (c === "(") depth++;
    else if (c === ")") {
      depth--;
      if (depth === 0 && start >= 0) {
        calls.push(statement.slice(start, i + 1).trim());
        start = -1;
      }
    } else if (start < 0 && depth === 0 && /\S/.test(c)) start = i;
  }
  return calls;
}

function isValCount(r) {
  return r && typeof r === "object" && !Array.isArray(r) && "count" in r && "value" in r && "decimalValue" in r;
}

function valCountValue(r) {
  if (r.decimalValue !== null && r.decimalValue !== undefined) return r.decimalValue;
  if (r.timestampValue && r.timestampValue !== NO_TIME) return r.timestampValue;
  return r.value;
}

function isScalar(r) {
  return r === null || isNumber(r) || typeof r === "boolean" || isValCount(r);
}

// The x value of a time-series call: Count(UnionRows(Rows(f, from=X, to=Y))) or
// Count(Row(X <= f < Y)) — what the schema browser's "Over time" writes.
function timeBucket(call) {
  const from = /from\s*=\s*["']?([0-9][0-9T:\-+.Z]*)/.exec(call);
  if (from) return from[1];
  const lower = /\(\s*["']?([0-9]{4}-[0-9T:\-+.Z]*)["']?\s*<=/.exec(call);
  return lower ? lower[1] : null;
}

/** Models of a PQL answer; `kinds` maps the table's field names to their kinds (schema.js),
 * so that a bool field's rows read true/false instead of row ids 1/0. */
export function fromPql(statement, body, kinds = {}) {
  const results = body.results || [];
  const calls = splitCalls(statement);
  const label = (i) => calls[i] || `call ${i + 1}`;
  if (results.length && results.every(isScalar)) {
    const withCount = results.some(isValCount);
    const numeric = (r) => isNumber(isValCount(r) ? valCountValue(r) : r);
    const columns = [{ name: "call", type: "string" }, { name: "result", type: "", numeric: results.every(numeric) }];
    if (withCount) columns.push({ name: "count", type: "int", numeric: true });
    const rows = results.map((r, i) => {
      const row = [label(i), isValCount(r) ? valCountValue(r) : r];
      if (withCount) row.push(isValCount(r) ? r.count : null);
      return row;
    });
    let chart = null;
    if (results.every(isNumber) && results.length > 1) {
      const buckets = results.map((_, i) => timeBucket(label(i)));
      chart = buckets.every(Boolean)
        ? series("line", buckets, results.map(Number), "records per period")
        : series("bar", results.map((_, i) => label(i)), results.map(Number), "results by call");
    }
    return [{ title: "Results", columns, rows, chart }];
  }
  return results.map((r, i) => ({ title: label(i), ...pqlModel(r, label(i), kinds) }));
}

function fieldOf(call) {
  const m = /^\w+\(\s*(?:field\s*=\s*)?([A-Za-z_][\w-]*)/.exec(call);
  return m ? m[1] : "row";
}

function rowValue(kind, id) {
  return kind === "bool" && (id === 0 || id === 1) ? id === 1 : id;
}

function pqlModel(r, call, kinds) {
  const col = (name, numeric = false, type = "") => ({ name, numeric, type });
  if (Array.isArray(r)) {
    if (r.length && r.every((e) => e && typeof e === "object" && Array.isArray(e.group))) return groupBy(r, kinds);
    if (r.length && r.every((e) => e && typeof e === "object" && "count" in e && ("id" in e || "key" in e))) {
      const keyed = r.some((e) => e.key);
      const field = fieldOf(call);
      const rows = r.map((e) => [keyed ? e.key : rowValue(kinds[field], e.id), e.count]);
      return {
        columns: [col(field, false, keyed ? "string" : "id"), col("count", true, "int")],
        rows,
        chart: series("bar", rows.map((x) => fmtCell(x[0])), rows.map((x) => Number(x[1])), `top values of ${field}`),
      };
    }
    return { columns: [col("value")], rows: r.map((v) => [v]), chart: null };
  }
  if (r && typeof r === "object") {
    if (Array.isArray(r.columns) && !r.fields) {
      const keys = Array.isArray(r.keys) && r.keys.length ? r.keys : null;
      return { columns: [col(keys ? "_id (key)" : "_id", false, keys ? "string" : "id")],
        rows: (keys || r.columns).map((v) => [v]), chart: null };
    }
    if (r.pos || r.neg) {
      const vals = [...(r.neg?.columns || []).map((v) => (v instanceof Exact ? new Exact("-" + v.text) : -v)),
        ...(r.pos?.columns || [])];
      return { columns: [col("value", true, "int")], rows: vals.map((v) => [v]), chart: null };
    }
    if ("rows" in r || "keys" in r) {
      const vals = r.keys && r.keys.length ? r.keys : r.rows || [];
      return { columns: [col("row")], rows: vals.map((v) => [v]), chart: null };
    }
    if (Array.isArray(r.fields) && Array.isArray(r.columns)) {
      return {
        columns: [col("_id", false, "id"), ...r.fields.map((f) => col(f.name, /int|decimal/.test(f.type), f.type))],
        rows: r.columns.map((c) => [c.column, ...c.rows]),
        chart: null,
      };
    }
    if ("count" in r && "id" in r) {
      return { columns: [col("row"), col("count", true, "int")], rows: [[r.key || r.id, r.count]], chart: null };
    }
  }
  return { columns: [col("result")], rows: [[r]], chart: null };
}

function groupValue(g, kinds) {
  if ("rowKey" in g) return g.rowKey;
  if ("value" in g) return g.value;
  return rowValue(kinds[g.field], g.rowID);
}

function groupBy(groups, kinds) {
  const fields = groups[0].group.map((g) => g.field);
  const extra = ["sum", "aggregate"].filter((k) => groups.some((g) => k in g));
  const columns = [...fields.map((f) => ({ name: f, numeric: false, type: "" })),
    { name: "count", numeric: true, type: "int" }, ...extra.map((k) => ({ name: k, numeric: true, type: "" }))];
  const rows = groups.map((g) => [...g.group.map((x) => groupValue(x, kinds)), g.count, ...extra.map((k) => g[k] ?? null)]);
  let chart = null;
  if (fields.length === 1) {
    chart = series("bar", rows.map((r) => fmtCell(r[0])), rows.map((r) => Number(r[1])), `count by ${fields[0]}`);
  } else if (fields.length === 2) {
    chart = heatmap(rows.map((r) => [fmtCell(r[0]), fmtCell(r[1]), Number(r[2])]), fields[0], fields[1], "count");
  }
  return { columns, rows, chart };
}

// -- table and CSV -----------------------------------------------------------------------

/** Render one page of a model as a table with a pager. */
export function renderTable(container, model, page, onPage) {
  clear(container);
  const total = model.rows.length;
  const pages = Math.max(1, Math.ceil(total / PAGE_ROWS));
  page = Math.min(Math.max(0, page), pages - 1);
  const first = page * PAGE_ROWS;
  const slice = model.rows.slice(first, first + PAGE_ROWS);
  const summary = total ? `Rows ${fmtInt(first + 1)}–${fmtInt(first + slice.length)} of ${fmtInt(total)}` : "No rows";
  const table = h("table", { class: "grid", id: "result-grid" },
    h("caption", { class: "visually-hidden" }, `${model.title}: ${summary}`),
    h("thead", {}, h("tr", {}, model.columns.map((c) =>
      h("th", { scope: "col", class: c.numeric ? "num" : "", title: c.type || null }, c.name)))),
    h("tbody", {}, slice.map((row) => h("tr", {}, model.columns.map((c, i) => {
      const v = row[i];
      const cls = [c.numeric || isNumber(v) ? "num" : "", v === null ? "null" : ""].join(" ").trim();
      return h("td", { class: cls || null }, fmtCell(v));
    })))));
  const pager = h("div", { class: "pager" },
    h("button", { type: "button", class: "small", id: "page-prev", disabled: page === 0,
      onclick: () => onPage(page - 1) }, "Previous"),
    h("span", { id: "page-info", "aria-live": "polite" }, `${summary} · page ${page + 1} of ${pages}`),
    h("button", { type: "button", class: "small", id: "page-next", disabled: page >= pages - 1,
      onclick: () => onPage(page + 1) }, "Next"));
  container.append(h("div", { class: "table-scroll" }, table), pager);
  return page;
}

function csvField(text) {
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 CSV of the whole model (NULL as an empty field). */
export function toCsv(model) {
  const lines = [model.columns.map((c) => csvField(c.name)).join(",")];
  for (const row of model.rows) {
    lines.push(row.map((v) => (v === null || v === undefined ? "" : csvField(fmtCell(v)))).join(","));
  }
  return lines.join("\r\n") + "\r\n";
}
