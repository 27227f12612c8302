// Bundle every widget front end (src/<name>.js, one per nlme_lab/widgets/<name>.py) into
// ../nlme_lab/widgets/static/<name>.js: one self-contained ES module each, as anywidget loads.
//   node build.mjs            build (minified)
//   node build.mjs --watch    rebuild on change (with ANYWIDGET_HMR=1 the kernel reloads it)
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "src");
const entryPoints = readdirSync(src)
  .filter((name) => name.endsWith(".js"))
  .map((name) => join(src, name));

const options = {
  entryPoints,
  outdir: join(here, "..", "nlme_lab", "widgets", "static"),
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: !process.argv.includes("--dev"),
  legalComments: "eof", // CodeMirror's MIT notices stay in the bundle
  logLevel: "info",
};

if (process.argv.includes("--watch")) {
  const context = await esbuild.context({ ...options, minify: false });
  await context.watch();
} else {
  await esbuild.build(options);
}
