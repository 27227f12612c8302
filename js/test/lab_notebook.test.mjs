// "Open in nlme_lab Lab": which files it pairs and what notebook it writes.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  choosePartner, extOf, isData, isModel, labCellSource, labNotebook, notebookName, splitSelection,
} from "../src/labextension/lab_notebook.js";

test("kinds by extension, case-insensitive; a dot file has no extension", () => {
  assert.equal(extOf("a/b/theo.NLM"), ".nlm");
  assert.equal(extOf(".nlm"), "");
  assert.ok(isModel("runs/pheno.nlm") && !isModel("pheno.nlm.bak"));
  assert.ok(isData("x/theo_sd.CSV") && !isData("theo.nlm"));
});

test("the partner: same stem first, else the only one, else a choice, else none", () => {
  assert.deepEqual(choosePartner("d/theo.nlm", ["d/pheno.csv", "d/theo.csv"]), { path: "d/theo.csv" });
  assert.deepEqual(choosePartner("d/theo.nlm", ["d/data.csv"]), { path: "d/data.csv" });
  assert.deepEqual(choosePartner("d/theo.csv", ["d/b.nlm", "d/a.nlm"]), { choices: ["d/a.nlm", "d/b.nlm"] });
  assert.deepEqual(choosePartner("d/theo.csv", []), { choices: [] });
});

test("a selection is one model and/or one data file", () => {
  assert.deepEqual(splitSelection(["t.nlm", "t.csv"]), { model: "t.nlm", data: "t.csv" });
  assert.deepEqual(splitSelection(["t.csv"]), { model: null, data: "t.csv" });
  assert.throws(() => splitSelection(["a.nlm", "b.nlm"]), /select one model, not 2 \(a.nlm, b.nlm\)/);
  assert.throws(() => splitSelection(["a.csv", "b.csv"]), /select one data file, not 2/);
  assert.throws(() => splitSelection(["a.nlm", "notes.txt"]), /notes.txt is neither a model \(.nlm\) nor a data file \(.csv\)/);
  assert.throws(() => splitSelection([]), /select a model \(.nlm\) or a data file \(.csv\)/);
});

test("the cell, with names quoted as Python string literals", () => {
  assert.equal(labCellSource("theo_sd.csv", "theo_sd.nlm"),
               'import nlme_lab as nl\n\nnl.Lab(data="theo_sd.csv", model="theo_sd.nlm")');
  assert.equal(labCellSource('my "data".csv', "a\\b.nlm"),
               'import nlme_lab as nl\n\nnl.Lab(data="my \\"data\\".csv", model="a\\\\b.nlm")');
});

test("the notebook: one code cell for the given kernel, valid nbformat 4.5 fields", () => {
  const spec = { name: "python3", display_name: "Python 3", language: "python" };
  const nb = labNotebook("d.csv", "m.nlm", spec);
  assert.equal(nb.nbformat, 4);
  assert.equal(nb.nbformat_minor, 5);
  assert.deepEqual(nb.metadata.kernelspec, spec);
  assert.equal(nb.cells.length, 1);
  const [cell] = nb.cells;
  assert.equal(cell.cell_type, "code");
  assert.match(cell.id, /^[a-zA-Z0-9-_]{1,64}$/);
  assert.deepEqual([cell.outputs, cell.execution_count], [[], null]);
  assert.equal(cell.source, labCellSource("d.csv", "m.nlm"));
});

test("the notebook's name never overwrites a file", () => {
  assert.equal(notebookName("theo.nlm", ["theo.nlm"]), "theo_lab.ipynb");
  assert.equal(notebookName("theo.nlm", ["theo_lab.ipynb", "theo_lab-1.ipynb"]), "theo_lab-2.ipynb");
});
