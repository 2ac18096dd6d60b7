// Syntax highlighting for SQL and PQL: a small tokenizer each, rendered as spans.

const SQL_KEYWORDS = new Set(`
  select from where group by order having limit offset distinct top as and or not null is in
  between like asc desc case when then else end cast insert replace into values delete create
  alter drop table tables column columns add show explain with flatten if exists bulk map
  transform input format true false min max keypartitions comment cachetype size timequantum
  ttl timeunit epoch all union join on inner left right outer count sum avg rangeq setcontains
  setcontainsany setcontainsall
`.trim().split(/\s+/));

const SQL_TYPES = new Set(`id string idset stringset idsetq stringsetq int integer bigint decimal bool boolean
  timestamp varchar text`.trim().split(/\s+/));

const PQL_LITERALS = new Set(["true", "false", "null"]);

const SQL_RULES = [
  ["comment", /--[^\n]*/y],
  ["comment", /\/\*[\s\S]*?(?:\*\/|$)/y],
  ["string", /'(?:[^']|'')*'?/y],
  ["ident", /"(?:[^"]|"")*"?/y],
  ["number", /\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y],
  ["word", /[A-Za-z_][A-Za-z0-9_]*/y],
  ["op", /<>|!=|<=|>=|\|\||[-+*/%=<>]/y],
  ["punct", /[(),;.[\]{}]/y],
  ["space", /\s+/y],
];

const PQL_RULES = [
  ["comment", /#[^\n]*/y],
  ["string", /"(?:[^"\\]|\\.)*"?/y],
  ["string", /'(?:[^'\\]|\\.)*'?/y],
  ["time", /\d{4}-\d{2}-\d{2}(?:T\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:\d{2})?)?/y],
  ["number", /-?\d+(?:\.\d+)?/y],
  ["word", /[A-Za-z_][A-Za-z0-9_-]*/y],
  ["op", /==|!=|<=|>=|[<>=]/y],
  ["punct", /[(),[\]]/y],
  ["space", /\s+/y],
];

/** [[class, text], ...] covering the whole text. */
export function tokenize(text, language) {
  const rules = language === "pql" ? PQL_RULES : SQL_RULES;
  const out = [];
  let i = 0;
  while (i < text.length) {
    let matched = false;
    for (const [kind, re] of rules) {
      re.lastIndex = i;
      const m = re.exec(text);
      if (!m || !m[0]) continue;
      out.push([classify(kind, m[0], text, re.lastIndex, language), m[0]]);
      i = re.lastIndex;
      matched = true;
      break;
    }
    if (!matched) {
      out.push(["", text[i]]);
      i++;
    }
  }
  return out;
}

function classify(kind, word, text, end, language) {
  if (kind !== "word") return kind === "space" || kind === "punct" ? "" : kind;
  const lower = word.toLowerCase();
  if (language === "pql") {
    if (PQL_LITERALS.has(lower)) return "literal";
    const rest = text.slice(end).trimStart();
    if (rest.startsWith("(")) return "call";
    if (rest.startsWith("=") && !rest.startsWith("==")) return "arg";
    return "";
  }
  if (SQL_KEYWORDS.has(lower)) return "keyword";
  if (SQL_TYPES.has(lower)) return "type";
  return "";
}

/** Fill `code` with the highlighted text (a trailing newline keeps the overlay's height
 * in step with the textarea's). */
export function render(code, text, language) {
  const frag = document.createDocumentFragment();
  for (const [cls, part] of tokenize(text, language)) {
    if (!cls) {
      frag.append(part);
    } else {
      const span = document.createElement("span");
      span.className = `tok-${cls}`;
      span.textContent = part;
      frag.append(span);
    }
  }
  frag.append("\n");
  code.replaceChildren(frag);
}
