// Added to @jupyter/builder's configuration (package.json "jupyterlab.webpackConfig"): the
// .nlm template is imported as text.
module.exports = {
  module: { rules: [{ test: /\.nlm$/, type: "asset/source" }] },
};
