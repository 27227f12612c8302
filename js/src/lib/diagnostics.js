// The kernel's diagnostics (1-based line/column, end_column exclusive or null) as CodeMirror
// lint diagnostics (document offsets). Pure functions: test/diagnostics.test.mjs runs them.

const SEVERITIES = new Set(["error", "warning", "info", "hint"]);

/**
 * Offsets {from, to} of a 1-based line:column .. end_column range in `doc` (a CodeMirror Text).
 * Out-of-range positions are clamped; an empty range (a problem at the end of a line, such as
 * "found end of line") covers the line's last character so that it shows as an underline.
 */
export function rangeOf(doc, line, column, endColumn) {
  const lineNo = Math.min(Math.max(1, line | 0), doc.lines);
  const text = doc.line(lineNo);
  const clamp = (col) => text.from + Math.min(Math.max(0, (col | 0) - 1), text.length);
  let from = clamp(column);
  let to = endColumn == null ? from + 1 : clamp(endColumn);
  to = Math.min(Math.max(to, from), text.to);
  if (to === from) {
    if (from < text.to) to = from + 1;
    else if (from > text.from) from -= 1;
  }
  return { from, to };
}

/** The lint diagnostics of the kernel's list, in document order. */
export function toLintDiagnostics(doc, diagnostics) {
  return (diagnostics || [])
    .map((d) => ({
      ...rangeOf(doc, d.line, d.column, d.end_column),
      severity: SEVERITIES.has(d.severity) ? d.severity : "error",
      message: `${d.message} (line ${d.line}:${d.column})`,
      source: "nlme_lab",
    }))
    .sort((a, b) => a.from - b.from || a.to - b.to);
}
