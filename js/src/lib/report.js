// Errors thrown inside anywidget handlers (msg:custom, change:*) are swallowed without a
// console message. Every handler of ours goes through `guard`, which logs the error and sends
// it to Python as {type: "frontend_error", where, message, stack}.

/** Send an error to the kernel (and the console). Never throws. */
export function reportError(model, where, err) {
  const message = err && err.message ? String(err.message) : String(err);
  const stack = err && err.stack ? String(err.stack) : "";
  console.error(`[nlme_lab] error in ${where}:`, err);
  try {
    model.send({ type: "frontend_error", where, message, stack });
  } catch (sendError) {
    console.error("[nlme_lab] could not report it to the kernel:", sendError);
  }
}

/** `guard(where, fn)` is `fn` with every error (also of a returned promise) reported. */
export function makeGuard(model) {
  return (where, fn) =>
    function guarded(...args) {
      try {
        const result = fn.apply(this, args);
        if (result && typeof result.catch === "function") {
          return result.catch((err) => reportError(model, where, err));
        }
        return result;
      } catch (err) {
        reportError(model, where, err);
        return undefined;
      }
    };
}
