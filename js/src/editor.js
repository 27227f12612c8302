// Front end of nlme_lab/widgets/editor.py (ModelEditor): CodeMirror 6 with the model language,
// the kernel's diagnostics as lint underlines, a Compile button and a one-line status.
//
// The model's traits (see editor.py for their meaning):
//   value: string            the text; sent to the kernel 300 ms after the last keystroke
//   diagnostics: Array<{line, column, end_column, message, severity}>   set by the kernel
//   model_ok: boolean        compiled_text: string
//   status: string           status_kind: "empty" | "error" | "parses" | "compiled"
// Custom messages: to the kernel {type: "compile", text} and {type: "frontend_error", ...};
// from the kernel {type: "compiled", ok, message}.

/**
 * @typedef {{line: number, column: number, end_column: number | null, message: string,
 *            severity: "error" | "warning"}} Diagnostic
 * @typedef {{value: string, diagnostics: Diagnostic[], model_ok: boolean, compiled_text: string,
 *            status: string, status_kind: "empty" | "error" | "parses" | "compiled"}} EditorTraits
 * @typedef {import("@anywidget/types").AnyModel<EditorTraits>} EditorModel  (for editors; not a dependency)
 */
import { basicSetup } from "codemirror";
import { Annotation, EditorState, Prec } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";
import { indentWithTab } from "@codemirror/commands";
import { lintGutter, setDiagnostics } from "@codemirror/lint";
import { nlm } from "./lib/nlm_language.js";
import { toLintDiagnostics } from "./lib/diagnostics.js";
import { makeGuard } from "./lib/report.js";

export const DEBOUNCE_MS = 300;

// marks the transactions that put the kernel's text into the editor (not sent back)
const fromKernel = Annotation.define();

const CSS = `
.nlme-editor { display: flex; flex-direction: column; gap: 4px; max-width: 100%; }
.nlme-editor .cm-editor { border: 1px solid var(--jp-border-color1, #ccc); border-radius: 3px;
  background: var(--jp-layout-color0, #fff); font-size: var(--jp-code-font-size, 13px); }
.nlme-editor .cm-editor.cm-focused { outline: 1px solid var(--jp-brand-color1, #1976d2); }
.nlme-editor .cm-scroller { font-family: var(--jp-code-font-family, monospace); min-height: 6em; max-height: 32em; }
.nlme-editor-bar { display: flex; align-items: center; gap: 8px; font-size: 12px;
  font-family: var(--jp-ui-font-family, sans-serif); min-height: 24px; }
.nlme-editor-compile { padding: 2px 10px; cursor: pointer; }
.nlme-editor-status { flex: 1; white-space: pre-wrap; overflow-wrap: anywhere; }
.nlme-editor-status[data-kind="error"] { color: var(--jp-error-color1, #c62828); }
.nlme-editor-status[data-kind="parses"] { color: var(--jp-ui-font-color1, #333); }
.nlme-editor-status[data-kind="compiled"] { color: var(--jp-success-color1, #2e7d32); }
.nlme-editor-status[data-kind="busy"], .nlme-editor-status[data-kind="empty"] { color: var(--jp-ui-font-color2, #777); }
`;

function element(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  if (text) node.textContent = text;
  return node;
}

/** @param {{model: EditorModel, el: HTMLElement}} context */
function render({ model, el }) {
  const guard = makeGuard(model);
  el.classList.add("nlme-editor");
  const style = element("style", "", CSS);
  const host = element("div", "nlme-editor-host");
  const bar = element("div", "nlme-editor-bar");
  const button = element("button", "nlme-editor-compile jp-mod-styled", "Compile");
  button.title = "Compile this text; it becomes the working model only if it compiles (Ctrl/Cmd+Enter)";
  const status = element("span", "nlme-editor-status");
  status.setAttribute("role", "status"); // read out by screen readers when it changes
  status.setAttribute("aria-live", "polite");
  bar.append(button, status);
  el.append(style, host, bar);

  let timer = null; // pending debounce
  let staleDiagnostics = false; // diagnostics arrived while the text was out of sync
  let compiling = false;

  const showStatus = () => {
    let kind = model.get("status_kind");
    let text = model.get("status");
    if (compiling) [kind, text] = ["busy", "compiling…"];
    else if (timer !== null) [kind, text] = ["busy", "editing…"];
    status.dataset.kind = kind;
    status.textContent = text;
    status.title = text;
    button.disabled = compiling;
  };

  const applyDiagnostics = () => {
    const found = toLintDiagnostics(view.state.doc, model.get("diagnostics"));
    view.dispatch(setDiagnostics(view.state, found));
    staleDiagnostics = false;
  };

  const flush = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    const text = view.state.doc.toString();
    if (text !== model.get("value")) {
      model.set("value", text);
      model.save_changes();
    }
    // a list the kernel sent for older text is right for this text if it does not change
    if (staleDiagnostics) applyDiagnostics();
    showStatus();
  };

  const onEdit = guard("edit", (update) => {
    if (!update.docChanged || update.transactions.some((tr) => tr.annotation(fromKernel))) return;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(guard("debounce", flush), DEBOUNCE_MS);
    showStatus();
  });

  const requestCompile = guard("compile", () => {
    if (compiling) return true;
    flush();
    compiling = true;
    showStatus();
    model.send({ type: "compile", text: view.state.doc.toString() });
    return true;
  });

  const view = new EditorView({
    parent: host,
    state: EditorState.create({
      doc: model.get("value"),
      extensions: [
        basicSetup,
        // above basicSetup's keymap, whose Mod-Enter inserts a blank line
        Prec.highest(keymap.of([{ key: "Mod-Enter", run: requestCompile }, indentWithTab])),
        nlm(),
        lintGutter(),
        EditorView.updateListener.of(onEdit),
      ],
    }),
  });

  // Keys typed here are the editor's: keep JupyterLab's notebook shortcuts (Shift+Enter,
  // command-mode letters) out, but let unhandled Ctrl/Cmd combinations (save, ...) through.
  const keepKeys = (event) => {
    if (!(event.ctrlKey || event.metaKey) || event.defaultPrevented) event.stopPropagation();
  };
  host.addEventListener("keydown", keepKeys);

  const onValue = guard("change:value", () => {
    const text = model.get("value");
    const doc = view.state.doc;
    if (text === doc.toString()) return;
    if (timer !== null) clearTimeout(timer); // the kernel's text wins over pending typing
    timer = null;
    view.dispatch({ changes: { from: 0, to: doc.length, insert: text }, annotations: fromKernel.of(true) });
    showStatus();
  });

  const onDiagnostics = guard("change:diagnostics", () => {
    if (timer === null && view.state.doc.toString() === model.get("value")) applyDiagnostics();
    else staleDiagnostics = true;
  });

  const onCustom = guard("msg:custom", (msg) => {
    if (!msg || msg.type !== "compiled") throw new Error(`unknown message from the kernel: ${JSON.stringify(msg)}`);
    compiling = false;
    showStatus();
  });

  const onStatus = guard("change:status", showStatus);
  button.addEventListener("click", requestCompile);
  model.on("change:value", onValue);
  model.on("change:diagnostics", onDiagnostics);
  model.on("change:status", onStatus);
  model.on("change:status_kind", onStatus);
  model.on("msg:custom", onCustom);
  guard("render", applyDiagnostics)();
  showStatus();

  return () => {
    if (timer !== null) clearTimeout(timer);
    model.off("change:value", onValue);
    model.off("change:diagnostics", onDiagnostics);
    model.off("change:status", onStatus);
    model.off("change:status_kind", onStatus);
    model.off("msg:custom", onCustom);
    host.removeEventListener("keydown", keepKeys);
    view.destroy();
  };
}

export default { render };
