// JSON parsing that keeps numbers exact. JavaScript numbers are doubles: an id above 2^53
// (uint64 record ids) would silently change, and a decimal such as 10.00 would lose its scale.
// parseJSON returns plain numbers for integers JavaScript holds exactly and an Exact (the
// number's text as the server sent it) for every other number.

/** A number kept as its JSON text. Number(x) gives the nearest double (for charts). */
export class Exact {
  constructor(text) {
    this.text = text;
  }
  toString() {
    return this.text;
  }
  valueOf() {
    return Number(this.text);
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const WS = /[ \t\n\r]*/y;

class JsonSyntaxError extends SyntaxError {}

/** Parse JSON text; numbers as described above. Throws SyntaxError on bad input. */
export function parseJSON(text) {
  let i = 0;

  function fail(what) {
    throw new JsonSyntaxError(`bad JSON at offset ${i}: ${what}`);
  }
  function ws() {
    WS.lastIndex = i;
    WS.exec(text);
    i = WS.lastIndex;
  }
  function string() {
    const start = i; // at the opening quote
    let escaped = false;
    for (i++; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        const raw = text.slice(start, i);
        return escaped ? JSON.parse(raw) : raw.slice(1, -1);
      }
      if (c === 0x5c) {
        escaped = true;
        i++;
      } else if (c < 0x20) {
        fail("control character in a string");
      }
    }
    fail("unterminated string");
  }
  function number() {
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) fail("expected a value");
    i = NUMBER.lastIndex;
    const src = m[0];
    if (m[1] === undefined && m[2] === undefined) {
      const n = Number(src);
      if (Number.isSafeInteger(n) && String(n) === src) return n; // not -0: its sign is kept as text
    }
    return new Exact(src);
  }
  function literal(word, value) {
    if (text.startsWith(word, i)) {
      i += word.length;
      return value;
    }
    fail("expected a value");
  }
  function value() {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const out = {};
      ws();
      if (text[i] === "}") {
        i++;
        return out;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected a key");
        const key = string();
        ws();
        if (text[i] !== ":") fail("expected ':'");
        i++;
        out[key] = value();
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return out;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const out = [];
      ws();
      if (text[i] === "]") {
        i++;
        return out;
      }
      for (;;) {
        out.push(value());
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return out;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    if (c === "t") return literal("true", true);
    if (c === "f") return literal("false", false);
    if (c === "n") return literal("null", null);
    return number();
  }

  const out = value();
  ws();
  if (i !== text.length) fail("trailing characters");
  return out;
}

/** JSON text of a parsed value, numbers written exactly as received. */
export function toJSON(value, indent = 0, depth = 0) {
  const pad = indent ? "\n" + " ".repeat(indent * (depth + 1)) : "";
  const end = indent ? "\n" + " ".repeat(indent * depth) : "";
  if (value instanceof Exact) return value.text;
  if (Array.isArray(value)) {
    if (!value.length) return "[]";
    return "[" + value.map((v) => pad + toJSON(v, indent, depth + 1)).join(",") + end + "]";
  }
  if (value && typeof value === "object") {
    const keys = Object.keys(value);
    if (!keys.length) return "{}";
    const sep = indent ? ": " : ":";
    return "{" + keys.map((k) => pad + JSON.stringify(k) + sep + toJSON(value[k], indent, depth + 1)).join(",") + end + "}";
  }
  return JSON.stringify(value);
}
