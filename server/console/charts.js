// Charts as plain SVG, drawn from a model's chart spec (results.js): horizontal bars, a
// line over time buckets, a heat map of two fields' counts. Every mark carries a <title>
// (its label and exact value) and the <svg> is an image with a text alternative.

import { svg, h, fmtInt } from "./dom.js";

let W = 720; // the drawing's width in user units: the container's width, so text stays readable
let nextId = 0;

function frame(spec, height, summary) {
  const id = `chart-${++nextId}`;
  return svg("svg", {
    class: `chart chart-${spec.kind}`, viewBox: `0 0 ${W} ${height}`, width: "100%", role: "img",
    "aria-labelledby": `${id}-t ${id}-d`, preserveAspectRatio: "xMinYMin meet",
  }, svg("title", { id: `${id}-t` }, spec.title), svg("desc", { id: `${id}-d` }, summary));
}

function fmtValue(v) {
  return Number.isInteger(v) ? fmtInt(v) : String(Math.round(v * 1000) / 1000);
}

function clip(text, n) {
  return text.length > n ? text.slice(0, n - 1) + "…" : text;
}

/** Round axis ticks from 0 up to the first one at or above max. */
export function ticks(max, count = 5) {
  if (max <= 0) return [0];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const out = [];
  for (let i = 0; i <= Math.ceil(max / step - 1e-9); i++) out.push(i * step);
  return out;
}

export function bars(spec) {
  const n = spec.labels.length;
  const rowH = 24;
  const top = 8;
  const longest = Math.max(...spec.labels.map((l) => Math.min(l.length, 28)), 1);
  const labelW = Math.min(220, W * 0.34, longest * 7.4 + 12);
  const valueW = 64;
  const plotW = W - labelW - valueW;
  const max = Math.max(...spec.values, 0);
  const height = top + n * rowH + 8;
  const more = spec.total > n ? ` (the first ${n} of ${spec.total})` : "";
  const out = frame(spec, height, `Bar chart, ${n} bars${more}: ` +
    spec.labels.slice(0, 10).map((l, i) => `${l} ${fmtValue(spec.values[i])}`).join(", ") + (n > 10 ? ", …" : ""));
  spec.labels.forEach((label, i) => {
    const y = top + i * rowH;
    const v = spec.values[i];
    const w = max > 0 ? Math.max(1, (v / max) * plotW) : 1;
    out.append(svg("g", { class: "bar-row" },
      svg("text", { class: "label", x: labelW - 8, y: y + rowH / 2, "text-anchor": "end", "dominant-baseline": "central" },
        clip(label, Math.floor((labelW - 10) / 7))),
      svg("rect", { class: "bar", x: labelW, y: y + 3, width: w, height: rowH - 6, rx: 2 },
        svg("title", {}, `${label}: ${fmtValue(v)}`)),
      svg("text", { class: "value", x: labelW + w + 6, y: y + rowH / 2, "dominant-baseline": "central" }, fmtValue(v))));
  });
  return out;
}

export function line(spec) {
  const n = spec.labels.length;
  const height = 320;
  const m = { left: 64, right: 16, top: 16, bottom: 40 };
  const plotW = W - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const max = Math.max(...spec.values, 0);
  const yt = ticks(max);
  const top = yt[yt.length - 1] || 1;
  const x = (i) => m.left + (n === 1 ? plotW / 2 : (i / (n - 1)) * plotW);
  const y = (v) => m.top + plotH - (v / top) * plotH;
  const peak = spec.values.indexOf(max);
  const out = frame(spec, height, `Line chart of ${n} points from ${spec.labels[0]} to ${spec.labels[n - 1]}; ` +
    `highest ${fmtValue(max)} at ${spec.labels[peak]}`);
  const grid = svg("g", { class: "axis" });
  for (const t of yt) {
    grid.append(svg("line", { class: "grid-line", x1: m.left, x2: W - m.right, y1: y(t), y2: y(t) }),
      svg("text", { x: m.left - 8, y: y(t), "text-anchor": "end", "dominant-baseline": "central" }, fmtValue(t)));
  }
  const every = Math.max(1, Math.ceil(n / Math.max(2, Math.floor(plotW / 78))));
  spec.labels.forEach((label, i) => {
    if (i % every === 0 || i === n - 1) {
      grid.append(svg("text", { x: x(i), y: height - m.bottom + 18, "text-anchor": "middle" }, clip(label, 12)));
    }
  });
  out.append(grid);
  out.append(svg("polyline", { class: "line", points: spec.values.map((v, i) => `${x(i)},${y(v)}`).join(" ") }));
  spec.values.forEach((v, i) => {
    out.append(svg("circle", { class: "point", cx: x(i), cy: y(v), r: 3.5 },
      svg("title", {}, `${spec.labels[i]}: ${fmtValue(v)}`)));
  });
  return out;
}

// A sequential scale in seven steps, pale to deep blue; value labels are dark on the first
// four and white on the last three (each pair at least 5.6:1).
const STEPS = ["#eef4fb", "#cfe0f4", "#a9c7ea", "#7fa9dc", "#2f68b0", "#1a4683", "#0f2c57"];

function shade(t) {
  const i = Math.min(STEPS.length - 1, Math.floor(t * STEPS.length));
  return { fill: STEPS[i], dark: i >= 4 };
}

export function heat(spec) {
  const nx = spec.xs.length;
  const ny = spec.ys.length;
  const labelW = Math.min(180, W * 0.3, Math.max(...spec.ys.map((l) => Math.min(l.length, 24)), 4) * 7.2 + 12);
  const top = 8;
  const bottom = 112;
  const cellW = Math.max(14, (W - labelW - 10) / nx);
  const cellH = 22;
  const width = Math.max(W, labelW + nx * cellW + 10);
  const height = top + ny * cellH + bottom;
  const max = Math.max(...spec.cells.map((c) => c[2]), 0);
  const out = frame({ ...spec }, height, `Heat map of ${spec.cells.length} cells, ${spec.xName} across (${nx}) and ` +
    `${spec.yName} down (${ny}); darker is more, up to ${fmtValue(max)}`);
  out.setAttribute("viewBox", `0 0 ${width} ${height}`);
  spec.ys.forEach((label, j) => {
    out.append(svg("text", { class: "label", x: labelW - 6, y: top + j * cellH + cellH / 2, "text-anchor": "end",
      "dominant-baseline": "central" }, clip(label, 24)));
  });
  spec.xs.forEach((label, i) => {
    const cx = labelW + i * cellW + cellW / 2;
    const ly = top + ny * cellH + 8;
    out.append(svg("text", { class: "label", x: cx, y: ly, "text-anchor": "end", "dominant-baseline": "central",
      transform: `rotate(-55 ${cx} ${ly})` }, clip(label, 14)));
  });
  const showValues = cellW >= 34;
  for (const [i, j, v] of spec.cells) {
    const { fill, dark } = shade(max > 0 ? v / max : 0);
    const g = svg("g", {},
      svg("rect", { class: "cell", x: labelW + i * cellW, y: top + j * cellH, width: cellW - 1, height: cellH - 1, fill },
        svg("title", {}, `${spec.xs[i]} · ${spec.ys[j]}: ${fmtValue(v)}`)));
    if (showValues) {
      g.append(svg("text", { class: dark ? "cell-text dark" : "cell-text", x: labelW + i * cellW + cellW / 2,
        y: top + j * cellH + cellH / 2, "text-anchor": "middle", "dominant-baseline": "central" },
      v >= 10000 ? `${Math.round(v / 1000)}k` : fmtValue(v)));
    }
    out.append(g);
  }
  const legend = svg("g", { class: "legend" }, svg("text", { x: labelW, y: height - 12, "dominant-baseline": "central" }, "fewer"));
  STEPS.forEach((fill, k) => legend.append(svg("rect", { x: labelW + 44 + k * 22, y: height - 20, width: 20, height: 16, fill })));
  legend.append(svg("text", { x: labelW + 44 + STEPS.length * 22 + 6, y: height - 12, "dominant-baseline": "central" },
    `more (up to ${fmtValue(max)})`));
  out.append(legend);
  return out;
}

/** The chart of a model's spec, or a note saying why there is none; `width` is the space
 * it gets (CSS pixels). */
export function render(spec, width = 720) {
  W = Math.round(Math.max(300, Math.min(960, width)));
  if (!spec) {
    return h("p", { class: "note" }, "No chart for this result. Charts are drawn for TopN and GroupBy results, " +
      "counts over time, and SQL results of one or two label columns followed by a number.");
  }
  const draw = { bar: bars, line, heatmap: heat }[spec.kind];
  const note = spec.kind === "bar" && spec.total > spec.labels.length
    ? h("p", { class: "note" }, `Showing the first ${spec.labels.length} of ${fmtInt(spec.total)} rows.`) : null;
  return h("figure", { class: "chart-figure" }, draw(spec), h("figcaption", {}, spec.title), note);
}
