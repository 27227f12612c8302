"""A ``SessionState`` as notebook code cells, and session notebooks written and read with nbformat.

``session_cells(state)``: import, read the data, the model text (initial estimates in force), the
fit call (method, seed, covariance) and the diagnostics calls; run in order they give the same OFV
as the session's fit (every method is deterministic given its seed). ``write_session_notebook``
puts the state itself in the notebook's metadata (``metadata["nlme_lab"]``), which
``read_session`` reads back (or a ``.json`` written by ``SessionState.to_json``).

The cells are portable: a data file in the package's example folder is read as
``nl.example_path(...)``, one under the notebook's folder by its path relative to that folder
(``data_path_code``), so the notebook runs where it is moved with its data. The notebook's
metadata keeps a data file under its folder as a relative path too, which ``read_session``
resolves against the session file's folder.
"""

from __future__ import annotations

import ast
import datetime as _dt
import json
from dataclasses import replace
from pathlib import Path

from nlme_lab.session.state import SessionError, SessionState, parse_json

METADATA_KEY = "nlme_lab"


def _string_literal(text: str) -> str:
    """A readable triple-quoted literal when Python reads it back exactly, else ``repr``.

    Only new lines, tabs and printable characters stay as they are: Python's reader turns a
    carriage return in a cell into a new line (``add_sd = 0.7  # label\\rtq = 5`` would come back
    with a parameter ``tq``), refuses a NUL and editors may change other control or separator
    characters; ``repr`` writes each of them as an escape."""
    plain = all(c in "\n\t" or c.isprintable() for c in text)
    if plain and '"""' not in text and "\\" not in text and not text.endswith('"'):
        literal = '"""\\\n' + text + '"""'
        if ast.literal_eval(literal) == text:
            return literal
    return repr(text)


def _examples_folder() -> Path:
    from nlme_lab import examples

    return Path(examples.__file__).resolve().parent


def _inside(path: Path, folder: Path) -> Path | None:
    """``path`` relative to ``folder`` when it lies inside it (symbolic links resolved), else None."""
    try:
        return path.resolve().relative_to(folder.resolve())
    except (ValueError, OSError):
        return None


def data_path_code(data_path: str, directory=None) -> str:
    """The Python expression the cells read the data from: ``nl.example_path('theo_sd.csv')`` for
    a file of the package's example folder, the path relative to ``directory`` (the notebook's
    folder; default: the working directory, where a notebook's kernel runs) for a file under it,
    else the path as given."""
    path = Path(data_path).expanduser()
    if not path.is_absolute():
        return repr(data_path)
    example = _inside(path, _examples_folder())
    if example is not None:
        return f"nl.example_path({example.as_posix()!r})"
    relative = _inside(path, Path.cwd() if directory is None else Path(directory))
    return repr(relative.as_posix() if relative is not None else data_path)


def portable_state(state: SessionState, directory) -> SessionState:
    """``state`` with a data path under ``directory`` made relative to it (a notebook's metadata)."""
    path = Path(state.data_path).expanduser()
    relative = _inside(path, Path(directory)) if path.is_absolute() else None
    return state if relative is None else replace(state, data_path=relative.as_posix())


def session_cells(state: SessionState, directory=None) -> list[str]:
    """Code cells that reproduce ``state``: import, data, model, fit, diagnostics. ``directory``:
    the folder of the notebook the cells go into (default: the working directory), see
    ``data_path_code``."""
    cells = [
        "import nlme_lab as nl",
        f"data = nl.read_nonmem({data_path_code(state.data_path, directory)})\ndata",
        f"model = nl.Model({_string_literal(state.model_text)})",
    ]
    if state.fit is None:
        return cells
    cells.append(_fit_cell(state.fit))
    f = state.fit
    diag = ["from bokeh.io import output_notebook, show",
            "from bokeh.resources import INLINE",
            "from nlme_lab import plots",
            "output_notebook(INLINE, hide_banner=True)  # BokehJS inline: works offline",
            f"table = nl.residuals(fit, seed={f.seed if f.seed is not None else 1!r})",
            "show(plots.gof_panel(table))"]
    cells.append("\n".join(diag))
    if state.vpc is not None:
        v = state.vpc
        cells.append(f"vpc = nl.vpc(fit, n={v.n!r}, seed={v.seed!r}, bins={v.bins!r}, "
                     f"pred_corrected={v.pred_corrected!r}, stratify_by={v.stratify_by!r})\n"
                     "show(plots.vpc_plot(vpc))")
    return cells


def _fit_cell(f) -> str:
    """The ``nl.fit`` call, with the method's non-default options spelled out as Python."""
    from nlme_lab.estimation.option_text import options_code, options_from_text

    built = options_code(options_from_text(f.method, f.options)) if f.options else None
    call = f"nl.fit(model, data, method={f.method!r}, seed={f.seed!r}, covariance={f.covariance!r}"
    if built is None:
        return f"fit = {call})\nfit"
    code, names = built
    return (f"from nlme_lab.estimation import {', '.join(names)}\n"
            f"fit = {call},\n           options={code})\nfit")


def session_notebook(state: SessionState, directory=None):
    """The session as an ``nbformat`` v4 notebook (a heading, the cells, the state in metadata)
    for the folder ``directory`` (default: the working directory)."""
    import nbformat

    directory = Path.cwd() if directory is None else Path(directory)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata[METADATA_KEY] = portable_state(state, directory).to_dict()
    what = f"a {state.fit.method.upper()} fit" if state.fit is not None else "the model (not fitted)"
    nb.cells.append(nbformat.v4.new_markdown_cell(
        f"# nlme_lab session\n\nData `{Path(state.data_path).name}`, {what}. Run all cells to reproduce the "
        "session; `nl.Lab.from_session(this_file)` reopens it in the Lab."))
    nb.cells.extend(nbformat.v4.new_code_cell(code) for code in session_cells(state, directory))
    return nb


def default_session_path(directory=None, now=None) -> Path:
    """``session_<YYYYmmdd-HHMMSS>.ipynb`` in ``directory`` (default: the working directory),
    with ``-2``, ``-3``, ... appended when that file exists already."""
    stamp = (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = Path(directory or Path.cwd())
    path, k = base / f"session_{stamp}.ipynb", 2
    while path.exists():
        path, k = base / f"session_{stamp}-{k}.ipynb", k + 1
    return path


def write_session_notebook(state: SessionState, path=None) -> Path:
    """Write the session notebook to ``path`` (default ``default_session_path()``); its path."""
    import nbformat

    path = default_session_path() if path is None else Path(path).expanduser()
    if path.suffix != ".ipynb":
        raise SessionError(f"{path}: a session notebook's name must end in .ipynb")
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(session_notebook(state, path.parent), path)
    return path.resolve()


def read_session(path) -> SessionState:
    """The ``SessionState`` of a session ``.ipynb`` (its metadata) or ``.json`` file, its data
    path resolved against the file's folder when relative. A state that is not one
    (``SessionState.from_dict``) or whose data file is missing or not a file is a ``SessionError``
    naming the field; the data file itself is not read here."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise SessionError(f"{path}: no such session file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SessionError(f"{path}: cannot be read as text ({err})") from err
    if path.suffix == ".json":
        return _with_data_file(SessionState.from_json(text, where=str(path)), path, str(path))
    if path.suffix != ".ipynb":
        raise SessionError(f"{path}: a session file ends in .ipynb or .json")
    raw = parse_json(text, f"{path}: not a notebook")
    meta = raw.get("metadata", {}) if isinstance(raw, dict) else {}
    if not isinstance(meta, dict) or METADATA_KEY not in meta:
        raise SessionError(f"{path}: not an nlme_lab session notebook (no metadata field "
                           f"{METADATA_KEY!r}; write one with lab.export() or write_session_notebook)")
    where = f"{path}: metadata.{METADATA_KEY}"
    return _with_data_file(SessionState.from_dict(meta[METADATA_KEY], where=where), path, where)


def _with_data_file(state: SessionState, session_file: Path, where: str) -> SessionState:
    """``state`` with its data path absolute (a relative one is relative to the session file's
    folder), refused unless it names an existing regular file."""
    data = Path(state.data_path).expanduser()
    if not data.is_absolute():
        data = session_file.resolve().parent / data
    if data.is_dir():
        raise SessionError(f"{where}: field 'data_path': {data} is a folder, not a data file")
    if not data.is_file():
        what = "does not exist" if not data.exists() else "is not a regular file"
        raise SessionError(f"{where}: field 'data_path': the data file {data} {what}")
    return state if str(data) == state.data_path else replace(state, data_path=str(data))
