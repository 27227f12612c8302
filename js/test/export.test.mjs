// The Export button's notebook logic against fakes shaped like JupyterLab 4's objects: the widget
// manager (context, get_model), the YNotebook shared model (cells, insertCells) and its cells.
import { test } from "node:test";
import assert from "node:assert/strict";
import { WIDGET_MIME, exportCells, findWidgetCells, holds, insertBelow, notebookOf, pickCell, widgetIds }
  from "../src/export.js";

function fakeModel(id, attributes = {}) {
  return { model_id: id, attributes, get: (name) => attributes[name] };
}

// the Lab: VBox(root) > VBox > [HBox(header) > [HTML, Export], Tab > [...]]
function labTree() {
  const layout = fakeModel("layout-1");
  const button = fakeModel("export-1", { layout });
  const header = fakeModel("hbox-1", { children: [fakeModel("html-1", { layout }), button], layout });
  const tabs = fakeModel("tab-1", { children: [fakeModel("data-1")], titles: ["Data"] });
  const inner = fakeModel("vbox-2", { children: [header, tabs] });
  return fakeModel("lab-1", { children: [inner], layout });
}

function widgetOutput(id) {
  return { output_type: "display_data", data: { [WIDGET_MIME]: { model_id: id, version_major: 2 } } };
}

function codeCell(source, outputs = []) {
  return { cell_type: "code", source, getOutputs: () => outputs };
}

function fakeNotebook(cells) {
  const shared = {
    cells: [...cells],
    insertCells(index, added) {
      this.cells.splice(index, 0, ...added);
      return added;
    },
  };
  return shared;
}

function fakeManager(shared, models) {
  const byId = new Map(models.map((m) => [m.model_id, m]));
  return {
    context: { path: "lab.ipynb", model: { sharedModel: shared } },
    get_model: async (id) => {
      if (!byId.has(id)) throw new Error(`widget model not found: ${id}`);
      return byId.get(id);
    },
  };
}

test("holds finds a descendant through children and stops at cycles", () => {
  const lab = labTree();
  assert.equal(holds(lab, "export-1"), true);
  assert.equal(holds(lab, "tab-1"), true);
  assert.equal(holds(lab, "nope"), false);
  const a = fakeModel("a");
  const b = fakeModel("b", { children: [a] });
  a.attributes.children = [b]; // a cycle
  assert.equal(holds(a, "c"), false);
  assert.equal(holds(null, "a"), false);
});

test("widgetIds reads widget views among outputs, also from plain outputs arrays", () => {
  const cell = codeCell("lab", [{ output_type: "stream", text: "x" }, widgetOutput("lab-1")]);
  assert.deepEqual(widgetIds(cell), ["lab-1"]);
  assert.deepEqual(widgetIds({ cell_type: "code", outputs: [widgetOutput("w")] }), ["w"]);
  assert.deepEqual(widgetIds({ cell_type: "code" }), []);
});

test("the cells go right below the cell showing the Lab", async () => {
  const lab = labTree();
  const shared = fakeNotebook([
    { cell_type: "markdown", source: "# title" },
    codeCell("import nlme_lab as nl"),
    codeCell("lab = nl.Lab(...)\nlab", [widgetOutput("gone-1"), widgetOutput("lab-1")]),
    codeCell("print(1)"),
  ]);
  const manager = fakeManager(shared, [lab]);
  assert.deepEqual(await findWidgetCells(shared, manager, "export-1"), [2]);
  const outcome = await exportCells(manager, "export-1", ["import nlme_lab as nl", "fit = 1"]);
  assert.deepEqual(outcome, { ok: true, index: 3, n: 2 });
  assert.deepEqual(shared.cells.map((c) => c.source),
    ["# title", "import nlme_lab as nl", "lab = nl.Lab(...)\nlab", "import nlme_lab as nl", "fit = 1", "print(1)"]);
  assert.deepEqual(shared.cells[3], { cell_type: "code", source: "import nlme_lab as nl", metadata: {},
    outputs: [], execution_count: null });
});

test("no notebook context, no insertCells, or no cell with the widget: a reason, nothing inserted", async () => {
  const none = await exportCells({ get_model: async () => null }, "export-1", ["x"]);
  assert.equal(none.ok, false);
  assert.match(none.reason, /no notebook context/);
  assert.match(notebookOf({ context: { model: { sharedModel: { cells: [] } } } }).reason, /insertCells/);
  assert.match(notebookOf({ get context() { throw new Error("disposed"); } }).reason, /disposed/);
  const shared = fakeNotebook([codeCell("1 + 1")]);
  const elsewhere = await exportCells(fakeManager(shared, []), "export-1", ["x"]);
  assert.equal(elsewhere.ok, false);
  assert.match(elsewhere.reason, /no cell of lab.ipynb shows this widget/);
  assert.equal(shared.cells.length, 1);
  assert.match((await exportCells(fakeManager(shared, []), "export-1", [])).reason, /no cells/);
});

test("a Lab shown twice: the cell around the button wins when it is a candidate", async () => {
  assert.equal(pickCell([], 3), null);
  assert.equal(pickCell([2, 5], 5), 5);
  assert.equal(pickCell([2, 5], 4), 2);
  assert.equal(pickCell([2, 5], null), 2);
  const lab = labTree();
  const shared = fakeNotebook([codeCell("lab", [widgetOutput("lab-1")]), codeCell("lab", [widgetOutput("lab-1")])]);
  const outcome = await exportCells(fakeManager(shared, [lab]), "export-1", ["a"], 1);
  assert.deepEqual(outcome, { ok: true, index: 2, n: 1 });
  assert.equal(insertBelow(shared, 0, ["b"]), 1);
  assert.deepEqual(shared.cells.map((c) => c.source), ["lab", "b", "lab", "a"]);
});

// ------------------------------------------------------------------ render() against a minimal DOM
class FakeNode {
  constructor(tag) {
    this.tag = tag;
    this.children = [];
    this.dataset = {};
    this.listeners = {};
    this.textContent = "";
    this.className = "";
    this.classList = { add: (name) => { this.className = `${this.className} ${name}`.trim(); } };
  }
  append(...nodes) { this.children.push(...nodes); }
  setAttribute() {}
  addEventListener(type, fn) { this.listeners[type] = fn; }
  removeEventListener(type) { delete this.listeners[type]; }
}

function fakeWidgetModel(manager) {
  const handlers = [];
  const traits = { status: "", status_kind: "idle" };
  return {
    sent: [],
    handlers,
    widget_manager: manager,
    get: (name) => traits[name],
    send(content) { this.sent.push(content); },
    on: (name, fn) => handlers.push([name, fn]),
    off: (name, fn) => handlers.splice(handlers.findIndex((h) => h[1] === fn), 1),
    async deliver(msg) { await Promise.all(handlers.filter((h) => h[0] === "msg:custom").map((h) => h[1](msg))); },
  };
}

test("only the view that was clicked inserts the kernel's cells, and it reports back", async () => {
  globalThis.document = { createElement: (tag) => new FakeNode(tag) };
  const { default: widget } = await import("../src/export.js");
  const lab = labTree();
  const shared = fakeNotebook([codeCell("lab", [widgetOutput("lab-1")])]);
  const model = fakeWidgetModel(fakeManager(shared, [lab]));
  const views = [new FakeNode("div"), new FakeNode("div")];
  const cleanups = views.map((el) => widget.render({ model, el }));
  const button = views[1].children.find((n) => n.tag === "button");
  assert.equal(button.textContent, "Export");
  button.listeners.click();
  assert.equal(button.disabled, true);
  const [request] = model.sent;
  assert.equal(request.type, "export");
  await model.deliver({ type: "cells", cells: ["a", "b"], model_id: "export-1", request: request.request });
  assert.deepEqual(shared.cells.map((c) => c.source), ["lab", "a", "b"]); // inserted once, not per view
  const answer = model.sent[1];
  assert.equal(model.sent.length, 2);
  assert.deepEqual({ ...answer, latency_ms: 0 }, { type: "inserted", n: 2, index: 1, latency_ms: 0 });
  assert.ok(answer.latency_ms >= 0 && answer.latency_ms < 1000);
  assert.equal(button.disabled, false);
  await model.deliver({ type: "cells", cells: ["a"], model_id: "export-1", request: request.request }); // a repeat
  assert.equal(shared.cells.length, 3);
  cleanups.forEach((cleanup) => cleanup());
  assert.equal(model.handlers.length, 0);
  delete globalThis.document;
});

test("a failing insertion still answers the kernel (which then writes a notebook)", async () => {
  globalThis.document = { createElement: (tag) => new FakeNode(tag) };
  const { default: widget } = await import("../src/export.js");
  const shared = fakeNotebook([codeCell("lab", [widgetOutput("lab-1")])]);
  shared.insertCells = () => { throw new Error("read-only notebook"); };
  const model = fakeWidgetModel(fakeManager(shared, [labTree()]));
  const el = new FakeNode("div");
  widget.render({ model, el });
  el.children.find((n) => n.tag === "button").listeners.click();
  const logged = [];
  const consoleError = console.error;
  console.error = (...args) => logged.push(args.join(" "));
  try {
    await model.deliver({ type: "cells", cells: ["a"], model_id: "export-1", request: model.sent[0].request });
  } finally {
    console.error = consoleError;
  }
  assert.match(logged[0], /error in inserting the cells/);
  const types = model.sent.map((m) => m.type);
  assert.deepEqual(types, ["export", "frontend_error", "no_notebook"]);
  assert.match(model.sent[2].reason, /inserting the cells failed: read-only notebook/);
  delete globalThis.document;
});
