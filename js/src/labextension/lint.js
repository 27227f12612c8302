// Live diagnostics for the .nlm editor: the server extension's answer for the editor's text
// (POST nlme-lab/check, see nlme_lab/jupyter/handlers.py) as CodeMirror lint underlines, with
// the same conversion the notebook's ModelEditor uses (../lib/diagnostics.js).
import { linter, lintGutter } from "@codemirror/lint";
import { toLintDiagnostics } from "../lib/diagnostics.js";

export const LINT_DELAY_MS = 300;

/**
 * The lint extensions for one editor. `check(text)` resolves to the server's reply
 * `{ok, diagnostics: [{line, column, end_column, message, severity}]}`. When it fails (the
 * server extension is not enabled, the server is gone) the text shows no underlines and the
 * console says why, once per kind of failure (one `serverLint` serves every .nlm editor).
 */
export function serverLint(check, { delay = LINT_DELAY_MS } = {}) {
  const reported = new Set();
  const source = async (view) => {
    const text = view.state.doc.toString();
    try {
      const reply = await check(text);
      return toLintDiagnostics(view.state.doc, reply.diagnostics);
    } catch (err) {
      const why = err && err.message ? err.message : String(err);
      if (!reported.has(why)) {
        reported.add(why);
        console.warn(`[nlme_lab] model checks are unavailable: ${why}`);
      }
      return [];
    }
  };
  return [linter(source, { delay }), lintGutter()];
}
