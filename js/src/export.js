// Front end of nlme_lab/widgets/export.py (ExportButton): the Export button and its status line.
//
// The model's traits (see export.py):
//   status: string           status_kind: "idle" | "busy" | "inserted" | "written" | "failed"
// Custom messages: to the kernel {type: "export", request}, then {type: "inserted", n, index,
// latency_ms} or {type: "no_notebook", reason, latency_ms}, and {type: "frontend_error", ...};
// from the kernel {type: "cells", cells: string[], model_id, request}. The kernel's messages go
// to every view of the widget: only the view whose click made `request` inserts the cells.
//
// Inserting cells uses a non-public path, feature-detected at every step: JupyterLab's widget
// manager (@jupyter-widgets/jupyterlab-manager, class WidgetManager) keeps the notebook's
// document context as `manager.context`; `context.model.sharedModel` is the notebook's shared
// model (@jupyter/ydoc YNotebook: `cells`, `insertCells(index, cells)`). The widget's own cell
// is the code cell with a widget output whose widget tree holds this widget's model (the Lab is
// displayed, the button is a descendant). Other front ends (VS Code, Colab, a console's manager)
// have no `context`: the kernel then writes a session notebook instead.

/**
 * @typedef {{status: string, status_kind: "idle" | "busy" | "inserted" | "written" | "failed"}} ExportTraits
 * @typedef {import("@anywidget/types").AnyModel<ExportTraits>} ExportModel  (for editors; not a dependency)
 * @typedef {{ok: true, index: number, n: number} | {ok: false, reason: string}} ExportOutcome
 */
import { makeGuard, reportError } from "./lib/report.js";

export const WIDGET_MIME = "application/vnd.jupyter.widget-view+json";

/** The notebook's shared model reachable from a widget manager: `{shared, path}` or `{reason}`. */
export function notebookOf(manager) {
  let context = null;
  try {
    context = manager ? manager.context : null;
  } catch (err) {
    return { reason: `the widget manager's context cannot be read (${err && err.message ? err.message : err})` };
  }
  if (!context) {
    return { reason: "this front end's widget manager has no notebook context "
      + "(not JupyterLab or Notebook 7: VS Code, Colab or a console?)" };
  }
  const shared = context.model ? context.model.sharedModel : null;
  if (!shared || typeof shared.insertCells !== "function" || !Array.isArray(shared.cells)) {
    return { reason: "the notebook's shared model has no insertCells (an unsupported JupyterLab version?)" };
  }
  return { shared, path: String(context.path || "the notebook") };
}

function isModel(value) {
  return Boolean(value) && typeof value === "object" && typeof value.model_id === "string"
    && typeof value.get === "function";
}

/** Whether the widget tree under `model` (its attributes: children, ...) holds `targetId`. */
export function holds(model, targetId, seen = new Set()) {
  if (!isModel(model) || seen.has(model.model_id)) return false;
  if (model.model_id === targetId) return true;
  seen.add(model.model_id);
  for (const value of Object.values(model.attributes || {})) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (holds(item, targetId, seen)) return true;
    }
  }
  return false;
}

/** The model ids of the widget views among a shared cell's outputs. */
export function widgetIds(cell) {
  const outputs = typeof cell.getOutputs === "function" ? cell.getOutputs() : cell.outputs || [];
  const ids = [];
  for (const output of outputs) {
    const view = output && output.data ? output.data[WIDGET_MIME] : null;
    if (view && typeof view.model_id === "string") ids.push(view.model_id);
  }
  return ids;
}

/** Indices of the code cells whose output widgets hold the model `targetId`. */
export async function findWidgetCells(shared, manager, targetId) {
  const found = [];
  for (let i = 0; i < shared.cells.length; i++) {
    const cell = shared.cells[i];
    if (cell.cell_type !== "code") continue;
    for (const id of widgetIds(cell)) {
      let root = null;
      try {
        root = await manager.get_model(id);
      } catch {
        root = null; // a widget of an earlier kernel: its model is gone
      }
      if (holds(root, targetId)) {
        found.push(i);
        break;
      }
    }
  }
  return found;
}

/** The cell to insert below: the one shown around the button when it is a candidate, else the first. */
export function pickCell(found, domIndex) {
  if (found.length === 0) return null;
  return Number.isInteger(domIndex) && found.includes(domIndex) ? domIndex : found[0];
}

/** Insert `sources` as code cells below cell `index`; the index of the first new cell. */
export function insertBelow(shared, index, sources) {
  const cells = sources.map((source) => ({
    cell_type: "code", source: String(source), metadata: {}, outputs: [], execution_count: null,
  }));
  shared.insertCells(index + 1, cells);
  return index + 1;
}

/** Insert the cells below the notebook cell that shows the widget `targetId`. */
export async function exportCells(manager, targetId, sources, domIndex = null) {
  if (!Array.isArray(sources) || sources.length === 0) return { ok: false, reason: "the kernel sent no cells" };
  const notebook = notebookOf(manager);
  if (!notebook.shared) return { ok: false, reason: notebook.reason };
  const found = await findWidgetCells(notebook.shared, manager, targetId);
  const index = pickCell(found, domIndex);
  if (index === null) {
    const reason = `no cell of ${notebook.path} shows this widget (another notebook on the same kernel?)`;
    return { ok: false, reason };
  }
  return { ok: true, index: insertBelow(notebook.shared, index, sources), n: sources.length };
}

/** The notebook index JupyterLab gives the cell around `el` (windowed notebooks), or null. */
function domCellIndex(el) {
  const cell = el.closest ? el.closest(".jp-Cell") : null;
  const index = cell && cell.dataset ? Number.parseInt(cell.dataset.windowedListIndex, 10) : Number.NaN;
  return Number.isInteger(index) ? index : null;
}

const CSS = `
.nlme-export { display: inline-flex; align-items: center; gap: 8px; font-size: 12px;
  font-family: var(--jp-ui-font-family, sans-serif); }
.nlme-export-button { padding: 2px 12px; cursor: pointer; }
.nlme-export-status { max-width: 60em; overflow-wrap: anywhere; }
.nlme-export-status[data-kind="failed"] { color: var(--jp-error-color1, #c62828); }
.nlme-export-status[data-kind="inserted"], .nlme-export-status[data-kind="written"] {
  color: var(--jp-success-color1, #2e7d32); }
.nlme-export-status[data-kind="busy"] { color: var(--jp-ui-font-color2, #777); }
`;

function element(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  if (text) node.textContent = text;
  return node;
}

function errorText(err) {
  return err && err.message ? String(err.message) : String(err);
}

/** The answer to the kernel's cells: inserted, or why not. Never throws: the kernel must hear
 * back, or its status stays busy. */
async function insertAndAnswer(model, el, msg) {
  try {
    const outcome = await exportCells(model.widget_manager, msg.model_id, msg.cells, domCellIndex(el));
    return outcome.ok ? { type: "inserted", n: outcome.n, index: outcome.index }
      : { type: "no_notebook", reason: outcome.reason };
  } catch (err) {
    reportError(model, "inserting the cells", err);
    return { type: "no_notebook", reason: `inserting the cells failed: ${errorText(err)}` };
  }
}

/** @param {{model: ExportModel, el: HTMLElement}} context */
function render({ model, el }) {
  const guard = makeGuard(model);
  el.classList.add("nlme-export");
  const button = element("button", "nlme-export-button jp-mod-styled", "Export");
  button.title = "Insert the code cells that reproduce this session below this cell "
    + "(where that is impossible: write a session notebook)";
  const status = element("span", "nlme-export-status");
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  el.append(element("style", "", CSS), button, status);

  let clickedAt = null; // performance.now() of this view's click being served
  let request = null; // its id, echoed by the kernel

  const show = () => {
    let kind = model.get("status_kind");
    let text = model.get("status");
    if (clickedAt !== null && kind !== "busy") [kind, text] = ["busy", "asking the kernel for the cells…"];
    status.dataset.kind = kind;
    status.textContent = text;
    status.title = text;
    button.disabled = clickedAt !== null; // not the kernel's "busy": a reloaded page can try again
  };

  const onClick = guard("click", () => {
    if (clickedAt !== null) return;
    clickedAt = performance.now();
    request = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    show();
    model.send({ type: "export", request });
  });

  const onCustom = guard("msg:custom", async (msg) => {
    if (!msg || msg.type !== "cells") throw new Error(`unknown message from the kernel: ${JSON.stringify(msg)}`);
    if (request === null || msg.request !== request) return; // another view's click
    const started = clickedAt;
    request = null;
    const answer = await insertAndAnswer(model, el, msg);
    answer.latency_ms = performance.now() - started;
    clickedAt = null;
    model.send(answer);
    show();
  });

  const onStatus = guard("change:status", show);
  button.addEventListener("click", onClick);
  model.on("change:status", onStatus);
  model.on("change:status_kind", onStatus);
  model.on("msg:custom", onCustom);
  show();

  return () => {
    button.removeEventListener("click", onClick);
    model.off("change:status", onStatus);
    model.off("change:status_kind", onStatus);
    model.off("msg:custom", onCustom);
  };
}

export default { render };
