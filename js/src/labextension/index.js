// The nlme-lab JupyterLab extension (built by @jupyter/builder into nlme_lab/labextension/,
// installed with the wheel into share/jupyter/labextensions/nlme-lab):
// - the .nlm document type with its icon, opened in JupyterLab's CodeMirror 6 editor with the
//   model language (../lib/nlm_language.js, the notebook ModelEditor's own definition) and
//   live diagnostics from the server extension (lint.js, nlme_lab/jupyter/handlers.py);
// - a launcher card "NLME model" creating untitled.nlm from a commented template;
// - "Open in nlme_lab Lab" on a .nlm or .csv file in the file browser: a notebook running
//   nl.Lab(data=..., model=...) (lab_notebook.js).
import { LanguageSupport } from "@codemirror/language";
import { ICommandPalette, InputDialog, showErrorMessage } from "@jupyterlab/apputils";
import { IEditorLanguageRegistry } from "@jupyterlab/codemirror";
import { PathExt, URLExt } from "@jupyterlab/coreutils";
import { IFileBrowserFactory } from "@jupyterlab/filebrowser";
import { IEditorTracker } from "@jupyterlab/fileeditor";
import { ILauncher } from "@jupyterlab/launcher";
import { NotebookActions } from "@jupyterlab/notebook";
import { ServerConnection } from "@jupyterlab/services";
import { LabIcon } from "@jupyterlab/ui-components";
import { nlmLanguage } from "../lib/nlm_language.js";
import * as labNotebook from "./lab_notebook.js";
import { serverLint } from "./lint.js";
import iconSvg from "./nlm.svg";
import TEMPLATE from "./untitled.nlm";

export const FILE_TYPE = "nlm";
export const MIME_TYPE = "text/x-nlme-model";
const CATEGORY = "nlme_lab";
export const COMMANDS = { newModel: "nlme-lab:new-model", openInLab: "nlme-lab:open-in-lab" };

export const nlmIcon = new LabIcon({ name: "nlme-lab:model", svgstr: iconSvg });

/** `check(text)`: the server extension's diagnostics of model text. */
function serverCheck(settings) {
  const url = URLExt.join(settings.baseUrl, "nlme-lab", "check");
  return async (text) => {
    const init = { method: "POST", body: JSON.stringify({ text }), headers: { "Content-Type": "application/json" } };
    const response = await ServerConnection.makeRequest(url, init, settings);
    if (!response.ok) {
      throw new Error(`${url} answered ${response.status} ${response.statusText}; is the server extension ` +
                      "enabled (jupyter server extension list)?");
    }
    return response.json();
  };
}

function addModelFileType(app, languages) {
  app.docRegistry.addFileType(
    { name: FILE_TYPE, displayName: "NLME model", extensions: [".nlm"], mimeTypes: [MIME_TYPE],
      icon: nlmIcon, fileFormat: "text", contentType: "file" },
    ["Editor"],
  );
  languages.addLanguage({
    name: FILE_TYPE,
    displayName: "NLME model",
    mime: MIME_TYPE,
    extensions: ["nlm"],
    support: new LanguageSupport(nlmLanguage, serverLint(serverCheck(app.serviceManager.serverSettings))),
  });
}

/** The model icon on the tabs of .nlm editors (the editor's own is a generic text icon). */
function iconOnModelTabs(editors) {
  editors.widgetAdded.connect((_, widget) => {
    if (labNotebook.isModel(widget.context.path)) widget.title.icon = nlmIcon;
  });
}

function addNewModelCommand(app, browsers, launcher, palette) {
  const { commands, serviceManager } = app;
  commands.addCommand(COMMANDS.newModel, {
    label: (args) => (args.isLauncher ? "NLME model" : "New NLME model"),
    caption: "A new model file (untitled.nlm) from a commented template",
    icon: nlmIcon,
    execute: async (args) => {
      const cwd = args.cwd ?? browsers?.tracker.currentWidget?.model.path ?? "";
      const file = await serviceManager.contents.newUntitled({ path: cwd, type: "file", ext: ".nlm" });
      await serviceManager.contents.save(file.path, { type: "file", format: "text", content: TEMPLATE });
      return commands.execute("docmanager:open", { path: file.path, factory: "Editor" });
    },
  });
  if (launcher) launcher.add({ command: COMMANDS.newModel, args: { isLauncher: true }, category: "Other", rank: 1 });
  if (palette) palette.addItem({ command: COMMANDS.newModel, category: CATEGORY });
}

/** The paths selected in the current file browser. */
function selectedPaths(browsers) {
  const browser = browsers?.tracker.currentWidget;
  return browser ? Array.from(browser.selectedItems(), (item) => item.path) : [];
}

function selectionFits(paths) {
  try {
    labNotebook.splitSelection(paths);
    return true;
  } catch {
    return false;
  }
}

function addOpenInLabCommand(app, browsers) {
  const { commands } = app;
  commands.addCommand(COMMANDS.openInLab, {
    label: "Open in nlme_lab Lab",
    caption: "A notebook running nl.Lab(data=..., model=...) for this model or data file",
    icon: nlmIcon,
    isVisible: (args) => selectionFits(args.paths ?? selectedPaths(browsers)),
    execute: async (args) => {
      try {
        return await openInLab(app, args.paths ?? selectedPaths(browsers));
      } catch (err) {
        await showErrorMessage("Open in nlme_lab Lab", err);
        return null;
      }
    },
  });
  for (const type of [FILE_TYPE, "csv"]) {
    app.contextMenu.addItem({ command: COMMANDS.openInLab, selector: `.jp-DirListing-item[data-file-type="${type}"]`, rank: 1 });
  }
}

/** The partner file of `anchor` in its folder (asking when several fit); null when cancelled. */
async function findPartner(anchor, candidates, what) {
  const found = labNotebook.choosePartner(anchor, candidates);
  if (found.path) return found.path;
  const folder = PathExt.dirname(anchor);
  const name = PathExt.basename(anchor);
  if (!found.choices.length) {
    const hint = what === "model" ? ": create one with the launcher's \"NLME model\" card" : "";
    throw new Error(`There is no ${what} file in ${folder ? `the folder ${folder}` : "the root folder"} to open ${name} with${hint}.`);
  }
  const answer = await InputDialog.getItem({
    title: `Open ${name} with which ${what}?`,
    items: found.choices.map((path) => PathExt.basename(path)),
  });
  return answer.button.accept ? PathExt.join(folder, answer.value) : null;
}

async function defaultKernelspec(serviceManager) {
  await serviceManager.kernelspecs.ready;
  const specs = serviceManager.kernelspecs.specs;
  const name = specs?.default ?? "python3";
  const spec = specs?.kernelspecs[name];
  return { name, display_name: spec?.display_name ?? name, language: spec?.language ?? "python" };
}

/** Write <model>_lab.ipynb next to the files, open it and run its cell. */
async function openInLab(app, paths) {
  const { commands, serviceManager } = app;
  const { model, data } = labNotebook.splitSelection(paths);
  const anchor = model ?? data;
  const folder = PathExt.dirname(anchor);
  const listing = await serviceManager.contents.get(folder, { content: true });
  const files = listing.content.filter((item) => item.type !== "directory").map((item) => item.path);
  const modelPath = model ?? (await findPartner(anchor, files.filter(labNotebook.isModel), "model"));
  const dataPath = modelPath && (data ?? (await findPartner(anchor, files.filter(labNotebook.isData), "data")));
  if (!modelPath || !dataPath) return null;
  const kernelspec = await defaultKernelspec(serviceManager);
  const name = labNotebook.notebookName(PathExt.basename(modelPath), files.map((path) => PathExt.basename(path)));
  const path = PathExt.join(folder, name);
  const content = labNotebook.labNotebook(PathExt.relative(folder, dataPath), PathExt.relative(folder, modelPath), kernelspec);
  await serviceManager.contents.save(path, { type: "notebook", format: "json", content });
  const panel = await commands.execute("docmanager:open", { path, factory: "Notebook", kernel: { name: kernelspec.name } });
  await panel.context.ready;
  await panel.sessionContext.ready;
  // Cells sent before the kernel answered its first request can be lost: wait for that answer.
  await panel.sessionContext.session?.kernel?.info;
  await NotebookActions.runAll(panel.content, panel.sessionContext);
  return panel;
}

const plugin = {
  id: "nlme-lab:plugin",
  description: "nlme_lab: .nlm model files with live checks, a launcher card and Open in nlme_lab Lab",
  autoStart: true,
  requires: [IEditorLanguageRegistry],
  optional: [IFileBrowserFactory, ILauncher, ICommandPalette, IEditorTracker],
  activate(app, languages, browsers, launcher, palette, editors) {
    addModelFileType(app, languages);
    if (editors) iconOnModelTabs(editors);
    addNewModelCommand(app, browsers, launcher, palette);
    addOpenInLabCommand(app, browsers);
  },
};

export default [plugin];
