// Small DOM helpers. Text always goes in through textContent (never innerHTML), so nothing a
// server or a query returns can become markup.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.setAttribute("class", value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An HTML element: h("td", {class: "num"}, "12"). */
export function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element. */
export function svg(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function $(id) {
  return document.getElementById(id);
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function show(el, visible) {
  el.hidden = !visible;
}

const INT = new Intl.NumberFormat("en-US");

/** 1234567 -> "1,234,567" (numbers only; exact values are shown as sent). */
export function fmtInt(n) {
  return typeof n === "number" ? INT.format(n) : String(n);
}

/** Milliseconds, readable: 0.42 ms, 12.3 ms, 1.24 s. */
export function fmtMs(ms) {
  if (ms === null || ms === undefined) return "";
  const v = Number(ms);
  if (v < 1) return `${v.toFixed(2)} ms`;
  if (v < 100) return `${v.toFixed(1)} ms`;
  if (v < 10000) return `${Math.round(v)} ms`;
  return `${(v / 1000).toFixed(1)} s`;
}

/** Arrow-key navigation and selection for a role=tablist (WAI-ARIA tabs pattern). */
export function tabs(list, onSelect) {
  const buttons = [...list.querySelectorAll('[role="tab"]')];
  function select(btn, focus) {
    for (const b of buttons) {
      const on = b === btn;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
      document.getElementById(b.getAttribute("aria-controls")).hidden = !on;
    }
    if (focus) btn.focus();
    onSelect?.(btn.id);
  }
  list.addEventListener("click", (e) => {
    const btn = e.target.closest('[role="tab"]');
    if (btn) select(btn, false);
  });
  list.addEventListener("keydown", (e) => {
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    const step = { ArrowRight: 1, ArrowLeft: -1, Home: -i, End: buttons.length - 1 - i }[e.key];
    if (step === undefined) return;
    e.preventDefault();
    select(buttons[(i + step + buttons.length) % buttons.length], true);
  });
  return { select: (id) => select(buttons.find((b) => b.id === id), false) };
}
