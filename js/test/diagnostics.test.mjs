// Kernel diagnostics (1-based line:column) -> CodeMirror offsets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Text } from "@codemirror/state";
import { rangeOf, toLintDiagnostics } from "../src/lib/diagnostics.js";

const doc = Text.of(["[ini]", "tka = log(1.57)", "", "ka = exp(tka"]);
// offsets: line 1 0-5, line 2 6-21, line 3 22, line 4 23-35

test("a token range", () => {
  assert.deepEqual(rangeOf(doc, 2, 7, 10), { from: 12, to: 15 });
  assert.equal(doc.sliceString(12, 15), "log");
});

test("no end column: one character", () => {
  assert.deepEqual(rangeOf(doc, 2, 1, null), { from: 6, to: 7 });
});

test("end of line: the last character", () => {
  assert.deepEqual(rangeOf(doc, 4, 13, 14), { from: 34, to: 35 });
  assert.equal(doc.sliceString(34, 35), "a");
});

test("an empty line: an empty range, clamped positions never leave the document", () => {
  assert.deepEqual(rangeOf(doc, 3, 1, 2), { from: 22, to: 22 });
  assert.deepEqual(rangeOf(doc, 99, 99, 120), { from: 34, to: 35 });
  assert.deepEqual(rangeOf(doc, 0, 0, null), { from: 0, to: 1 });
});

test("severity, message with its location, document order", () => {
  const found = toLintDiagnostics(doc, [
    { line: 4, column: 10, end_column: 13, message: "unknown name 'tka'", severity: "warning" },
    { line: 2, column: 1, end_column: 4, message: "bad", severity: "fatal" },
  ]);
  assert.deepEqual(found.map((d) => [d.from, d.to, d.severity, d.message]), [
    [6, 9, "error", "bad (line 2:1)"],
    [32, 35, "warning", "unknown name 'tka' (line 4:10)"],
  ]);
});
