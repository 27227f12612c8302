// What "Open in nlme_lab Lab" writes, and which files it pairs: pure functions (no JupyterLab
// import), tested by test/lab_notebook.test.mjs.

export const MODEL_EXT = ".nlm";
export const DATA_EXTS = [".csv"];

/** The extension of a file name, lower case, with its dot ("" when none). */
export function extOf(path) {
  const name = path.split("/").pop();
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot).toLowerCase() : "";
}

export const isModel = (path) => extOf(path) === MODEL_EXT;
export const isData = (path) => DATA_EXTS.includes(extOf(path));

const stemOf = (path) => {
  const name = path.split("/").pop();
  return name.slice(0, name.length - extOf(name).length);
};

/**
 * The partner of `path` among `candidates` (paths in the same folder): the one with the same
 * stem (theo_sd.nlm <-> theo_sd.csv), else the only candidate. `{path}` when found, `{choices}`
 * (sorted) when the user must pick, `{choices: []}` when there is none.
 */
export function choosePartner(path, candidates) {
  const stem = stemOf(path);
  const same = candidates.find((c) => stemOf(c) === stem);
  if (same) return { path: same };
  if (candidates.length === 1) return { path: candidates[0] };
  return { choices: [...candidates].sort() };
}

/**
 * The selection as {model, data}: at most one of each (an Error naming the problem otherwise).
 * Either may be missing: the command then looks for its partner in the folder.
 */
export function splitSelection(paths) {
  const models = paths.filter(isModel);
  const data = paths.filter(isData);
  const other = paths.filter((p) => !isModel(p) && !isData(p));
  if (other.length) throw new Error(`${other[0]} is neither a model (${MODEL_EXT}) nor a data file (${DATA_EXTS.join(", ")})`);
  if (models.length > 1) throw new Error(`select one model, not ${models.length} (${models.join(", ")})`);
  if (data.length > 1) throw new Error(`select one data file, not ${data.length} (${data.join(", ")})`);
  if (!models.length && !data.length) throw new Error("select a model (.nlm) or a data file (.csv)");
  return { model: models[0] ?? null, data: data[0] ?? null };
}

/** A Python string literal of `text` (JSON's escapes are Python's). */
export const pythonString = (text) => JSON.stringify(text);

/** The cell that opens the Lab; paths relative to the notebook's folder. */
export function labCellSource(dataName, modelName) {
  return ["import nlme_lab as nl", "", `nl.Lab(data=${pythonString(dataName)}, model=${pythonString(modelName)})`].join("\n");
}

/** The notebook (nbformat 4.5) holding that one cell, for the kernel `kernelspec`. */
export function labNotebook(dataName, modelName, kernelspec) {
  return {
    cells: [{ cell_type: "code", id: "nlme-lab-open", metadata: {}, execution_count: null, outputs: [],
              source: labCellSource(dataName, modelName) }],
    metadata: { kernelspec, language_info: { name: "python" } },
    nbformat: 4,
    nbformat_minor: 5,
  };
}

/** A notebook name for the model that is not in `taken` (names in the folder). */
export function notebookName(modelName, taken) {
  const names = new Set(taken);
  const stem = stemOf(modelName) || "model";
  for (let i = 0; ; i++) {
    const name = `${stem}_lab${i ? `-${i}` : ""}.ipynb`;
    if (!names.has(name)) return name;
  }
}
