"""Write the tutorial notebooks from the cell sources below (run: python tools/make_tutorials.py).

Notebooks are generated, not hand-edited, so their code stays reviewable as plain Python and
they are saved without outputs. tests/test_tutorials.py executes every one with nbclient.
"""

from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parents[1] / "tutorials"

QUICK_START = [
    ("md", "# 00 · Quick start\n\nLoad the bundled theophylline data and model, fit them by "
           "FOCEI, and look at the estimates and a visual predictive check. Five lines of code."),
    ("code", "import nlme_lab as nl\n"
             "data = nl.read_nonmem(nl.example_path(\"theo_sd.csv\"))\n"
             "model = nl.Model.from_file(nl.example_path(\"theo_sd.nlm\"))\n"
             "fit = nl.fit(model, data, method=\"focei\")\n"
             "fit"),
    ("md", "The table shows each `[ini]` parameter on the scale it is declared (log-scale thetas "
           "stay on the log scale, with the median and mean of the log-normal parameter beside "
           "them), omega variances with CV%, the residual SD, standard errors from the "
           "R⁻¹SR⁻¹ sandwich, and eta/epsilon shrinkage."),
    ("code", "from bokeh.io import output_notebook, show\n"
             "from bokeh.resources import INLINE\n"
             "from nlme_lab import plots\n"
             "output_notebook(INLINE, hide_banner=True)  # works offline\n"
             "show(plots.vpc_plot(nl.vpc(fit, n=200, seed=1)))"),
    ("md", "Goodness of fit: observations against population and individual predictions, "
           "conditional weighted residuals and their QQ plot."),
    ("code", "table = nl.residuals(fit, seed=1)\n"
             "show(plots.gof_panel(table))"),
    ("md", "The model text is compiled to numba kernels; `model.source()` shows the generated "
           "Python (the model text itself never runs as Python)."),
    ("code", "print(model.source()[:600])"),
]


def notebook(cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, text in cells:
        nb.cells.append(nbformat.v4.new_markdown_cell(text) if kind == "md" else nbformat.v4.new_code_cell(text))
    return nb


if __name__ == "__main__":
    HERE.mkdir(exist_ok=True)
    nbformat.write(notebook(QUICK_START), HERE / "00_quick_start.ipynb")
    print("written", HERE / "00_quick_start.ipynb")
