// The nlme_lab model language for CodeMirror 6: a line tokenizer (StreamLanguage) and its
// highlight style. The grammar it colours is ../../shared/models/README.md's; the kernel's
// parser (nlme_lab/model/parser.py) stays the judge of what is valid: the tokenizer only
// marks characters the lexer would reject as "invalid" so they stand out while typing.
import { HighlightStyle, StreamLanguage, syntaxHighlighting } from "@codemirror/language";
import { tags as t } from "@lezer/highlight";

// Mirrors nlme_lab/model/functions.py (FUNCTIONS); test/nlm_language.test.mjs checks the copy.
export const FUNCTIONS = new Set([
  "exp", "log", "log10", "sqrt", "abs", "min", "max", "logit", "expit", "sin", "cos",
]);
// Words with a fixed meaning in the language (not callable as functions).
export const MODEL_KEYWORDS = new Set(["fix", "linCmt", "add", "prop", "lnorm"]);
// Dose modifiers: a keyword only when written on a compartment, `f(depot) = ...`.
export const DOSE_MODIFIERS = new Set(["f", "alag", "rate", "dur"]);
export const CONTROL = new Set(["if", "else"]);
export const LOGIC = new Set(["and", "or", "not"]);
export const BOOLEANS = new Set(["True", "False"]);

const SECTION = /^\s*\[\s*[A-Za-z_][A-Za-z0-9_]*\s*\]/;
const NUMBER = /^(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const OPERATOR = /^(?:\*\*|<=|>=|==|!=|[-+*/^<>=|])/;

function nameToken(stream, state, word, first) {
  const followedByParen = stream.match(/^\s*\(/, false);
  if (FUNCTIONS.has(word) && followedByParen) return "function";
  if (MODEL_KEYWORDS.has(word)) return "modelKeyword";
  if (DOSE_MODIFIERS.has(word) && followedByParen && state.section === "model") return "modelKeyword";
  if (CONTROL.has(word)) return "controlKeyword";
  if (LOGIC.has(word)) return "operatorKeyword";
  if (BOOLEANS.has(word)) return "bool";
  if (word === "t") return "time";
  if (first) return "definition";
  return "variableName";
}

export const nlmParser = {
  name: "nlm",
  // section: the current [section]; atStatementStart: nothing but spaces yet on this line;
  // statementLine: this line holds a statement (not only a header or a comment)
  startState: () => ({ section: null, atStatementStart: true, statementLine: false }),
  copyState: (s) => ({ ...s }),
  token(stream, state) {
    if (stream.sol()) {
      state.atStatementStart = true;
      state.statementLine = false;
      if (stream.match(SECTION)) {
        state.section = stream.current().replace(/[\s[\]]/g, "");
        state.atStatementStart = false;
        return "heading";
      }
    }
    if (stream.eatSpace()) return null;
    const first = state.atStatementStart;
    state.atStatementStart = false;
    if (stream.peek() === "#") {
      stream.skipToEnd();
      // a comment on an [ini] line is that parameter's label
      return state.section === "ini" && state.statementLine ? "label" : "comment";
    }
    state.statementLine = true;
    if (first && stream.match(/^d\/dt\b/)) return "derivative";
    if (stream.match(NUMBER)) {
      // `1.2abc` is a malformed number for the lexer: mark the tail
      if (stream.match(/^[A-Za-z0-9_.]+/)) return "invalid";
      return "number";
    }
    if (stream.match(NAME)) {
      return nameToken(stream, state, stream.current(), first);
    }
    if (stream.eat("~")) return "tilde";
    if (stream.match(OPERATOR)) return "operator";
    if (stream.eat(/[()]/)) return "paren";
    if (stream.eat(/[[\]]/)) return "squareBracket";
    if (stream.eat(",")) return "separator";
    if (stream.match(/^(?:'[^']*'?|"[^"]*"?)/)) return "invalid"; // no strings in model text
    stream.next(); // ; & ! % $ { } ' " ... : the lexer rejects these
    return "invalid";
  },
  languageData: { commentTokens: { line: "#" } },
  tokenTable: {
    heading: t.heading,
    comment: t.lineComment,
    label: t.docComment,
    derivative: t.special(t.keyword),
    number: t.number,
    function: t.function(t.variableName),
    modelKeyword: t.keyword,
    controlKeyword: t.controlKeyword,
    operatorKeyword: t.operatorKeyword,
    bool: t.bool,
    time: t.special(t.variableName),
    definition: t.definition(t.variableName),
    variableName: t.variableName,
    tilde: t.special(t.operator),
    operator: t.operator,
    paren: t.paren,
    squareBracket: t.squareBracket,
    separator: t.separator,
    invalid: t.invalid,
  },
};

export const nlmLanguage = StreamLanguage.define(nlmParser);

export const nlmHighlightStyle = HighlightStyle.define([
  { tag: t.heading, color: "#6f42c1", fontWeight: "bold" },
  { tag: t.lineComment, color: "#6a737d", fontStyle: "italic" },
  { tag: t.docComment, color: "#22863a", fontStyle: "italic" },
  { tag: t.special(t.keyword), color: "#d73a49", fontWeight: "bold" },
  { tag: t.keyword, color: "#d73a49" },
  { tag: [t.controlKeyword, t.operatorKeyword], color: "#d73a49", fontStyle: "italic" },
  { tag: [t.number, t.bool], color: "#005cc5" },
  { tag: t.function(t.variableName), color: "#6f42c1" },
  { tag: t.definition(t.variableName), color: "#e36209" },
  { tag: t.special(t.variableName), color: "#005cc5", fontStyle: "italic" },
  { tag: t.special(t.operator), color: "#d73a49", fontWeight: "bold" },
  { tag: t.invalid, color: "#ffffff", backgroundColor: "#cb2431" },
]);

/** The language with its colours, as one CodeMirror extension. */
export function nlm() {
  return [nlmLanguage, syntaxHighlighting(nlmHighlightStyle)];
}

/** Tokens of one text, [{text, kind}] per line: for tests, no editor needed. */
export function tokenize(text) {
  const lines = text.split("\n");
  let state = nlmParser.startState();
  return lines.map((line) => {
    const out = [];
    let pos = 0;
    const stream = makeStream(line);
    while (!stream.eol()) {
      stream.start = stream.pos;
      const kind = nlmParser.token(stream, state);
      if (stream.pos === pos) throw new Error(`tokenizer stuck at ${pos} in ${JSON.stringify(line)}`);
      pos = stream.pos;
      if (kind) out.push({ text: stream.current(), kind });
    }
    return out;
  });
}

// A tiny StringStream with the methods nlmParser uses (the real one is internal to CodeMirror).
function makeStream(string) {
  return {
    string, pos: 0, start: 0,
    sol() { return this.pos === 0; },
    eol() { return this.pos >= this.string.length; },
    peek() { return this.string.charAt(this.pos) || undefined; },
    next() { if (this.pos < this.string.length) return this.string.charAt(this.pos++); },
    eat(match) {
      const ch = this.string.charAt(this.pos);
      const ok = typeof match === "string" ? ch === match : ch && match.test(ch);
      if (ok) { this.pos++; return ch; }
    },
    eatSpace() {
      const start = this.pos;
      while (/[\s\u00a0]/.test(this.string.charAt(this.pos))) this.pos++;
      return this.pos > start;
    },
    skipToEnd() { this.pos = this.string.length; },
    match(pattern, consume = true) {
      const m = this.string.slice(this.pos).match(pattern);
      if (!m || m.index > 0) return null;
      if (consume !== false) this.pos += m[0].length;
      return m;
    },
    current() { return this.string.slice(this.start, this.pos); },
  };
}
