"""nlme_lab in JupyterLab without a kernel: the server half of the ``nlme-lab`` lab extension.

* The lab extension (``js/src/labextension/``, built into ``nlme_lab/labextension/`` and
  installed with the wheel into ``share/jupyter/labextensions/nlme-lab``) opens ``.nlm`` files
  in a CodeMirror editor with the model language's highlighting, adds the launcher card "NLME
  model" and the command "Open in nlme_lab Lab".
* This server extension (enabled on install by ``etc/jupyter/jupyter_server_config.d/
  nlme_lab.json``) answers the editor's ``POST {base_url}nlme-lab/check`` with the model's
  diagnostics (``handlers.CheckHandler``).

A top layer, like ``cli``: it imports the model language, and nothing in nlme_lab imports it.
Importing it loads jupyter_server and tornado, never numba or sympy (they load on the first
check).
"""

from __future__ import annotations

LABEXTENSION_NAME = "nlme-lab"  # js/package.json's "name"


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "nlme_lab.jupyter"}]


def _jupyter_labextension_paths() -> list[dict]:
    """For ``jupyter labextension develop .``: the built extension, relative to this module."""
    return [{"src": "../labextension", "dest": LABEXTENSION_NAME}]


def _load_jupyter_server_extension(serverapp) -> None:
    from nlme_lab.jupyter.handlers import add_handlers

    route = add_handlers(serverapp.web_app)
    serverapp.log.info("nlme_lab: model checks at %s", route)
