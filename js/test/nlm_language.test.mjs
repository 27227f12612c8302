// The model language's tokenizer, line by line (run: npm test, or pytest tests/widgets).
import { test } from "node:test";
import assert from "node:assert/strict";
import { tokenize } from "../src/lib/nlm_language.js";

const kinds = (line) => tokenize(line)[0].map((tok) => [tok.text, tok.kind]);

test("section headers and comments", () => {
  const lines = tokenize("[ini]  # parameters\ntcl = 1.2  # log CL (L/h)\n[model]\n# a note\ncl = exp(tcl)  # note");
  assert.deepEqual(lines[0].map((t) => t.kind), ["heading", "comment"]);
  assert.deepEqual(lines[1].at(-1), { text: "# log CL (L/h)", kind: "label" }); // an [ini] label
  assert.deepEqual(lines[3], [{ text: "# a note", kind: "comment" }]);
  assert.deepEqual(lines[4].at(-1), { text: "# note", kind: "comment" });
});

test("numbers, functions and definitions", () => {
  assert.deepEqual(kinds("cl = exp(tcl + 1.5e-3) * .5"), [
    ["cl", "definition"], ["=", "operator"], ["exp", "function"], ["(", "paren"],
    ["tcl", "variableName"], ["+", "operator"], ["1.5e-3", "number"], [")", "paren"],
    ["*", "operator"], [".5", "number"],
  ]);
  // a whitelisted name not called is a plain name; a call of an unknown name is not a function
  assert.deepEqual(kinds("x = exp + foo(1)").map((k) => k[1]),
    ["definition", "operator", "variableName", "operator", "variableName", "paren", "number", "paren"]);
});

test("d/dt, the tilde and the model keywords", () => {
  const [ode, obs, ini, lin] = tokenize("d/dt(depot) = -ka * depot\ncp ~ add(add_sd) + prop(p)\n[ini]\ncp = linCmt()");
  assert.deepEqual(ode.slice(0, 2), [{ text: "d/dt", kind: "derivative" }, { text: "(", kind: "paren" }]);
  assert.deepEqual(obs.map((t) => t.kind), [
    "definition", "tilde", "modelKeyword", "paren", "variableName", "paren", "operator",
    "modelKeyword", "paren", "variableName", "paren",
  ]);
  assert.equal(lin[2].kind, "modelKeyword");
  assert.equal(kinds("eta_cl ~ fix(0.1) | OCC")[2][1], "modelKeyword");
  // `d / dt` inside an expression is division of two names
  assert.deepEqual(kinds("x = d/dt").map((k) => k[1]), ["definition", "operator", "variableName", "operator", "variableName"]);
});

test("conditionals, logic, booleans, time", () => {
  assert.deepEqual(kinds("w = 1 if not (t < 2 and APGR >= 5) or False else 0").map((k) => k[1]), [
    "definition", "operator", "number", "controlKeyword", "operatorKeyword", "paren", "time",
    "operator", "number", "operatorKeyword", "variableName", "operator", "number", "paren",
    "operatorKeyword", "bool", "controlKeyword", "number",
  ]);
});

test("dose modifiers are keywords only on a compartment in [model]", () => {
  const [, mod, plain] = tokenize("[model]\nf(depot) = 0.8\nf = 2");
  assert.equal(mod[0].kind, "modelKeyword");
  assert.equal(plain[0].kind, "definition");
});

test("what the lexer rejects is marked invalid", () => {
  assert.deepEqual(kinds("x = 1; y = $a & 2abc").filter((k) => k[1] === "invalid"),
    [[";", "invalid"], ["$", "invalid"], ["&", "invalid"], ["2abc", "invalid"]]);
  assert.deepEqual(kinds("s = 'text'").at(-1), ["'text'", "invalid"]);
});
