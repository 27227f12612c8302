"""``LibraryTab``: the Lab's Library tab, the model templates of ``nl.library`` with their text.

An ipywidgets composite (no front end of its own). The templates, their options and their text
come from ``nl.library`` (``catalog()``, ``TemplateInfo.model``); this module only shows them:

* ``chooser`` (Select): every template, by group; ``summary`` (HTML): its one-line description;
* ``controls``: one widget per option of the chosen template (a Dropdown for a choice, a
  Checkbox for a yes/no, an IntText for a count, a Text for a column name or for the
  parameters with a random effect, comma separated; empty means the template's default);
* ``preview`` (HTML): the model text these options give, or the reason they give none;
* ``use_button``: puts the text into the Lab's model editor and shows the Model tab; the
  editor checks it against the Lab's data at once, and Compile makes it the working model.

Nothing here is computed: the text is the template's, the check is the editor's.
"""

from __future__ import annotations

import html

import ipywidgets as w

from nlme_lab.library import TemplateError, TemplateGroup, catalog

MODEL_TAB = 1  # the Lab's "Model & parameters" tab

CSS = """<style>
.nlme-library pre { font-size: 12px; line-height: 1.35; margin: 0; padding: 6px 8px; white-space: pre;
  background: var(--jp-layout-color2, #f5f5f5); border: 1px solid var(--jp-border-color2, #ddd); overflow-x: auto; }
.nlme-library .nlme-library-summary { font-size: 13px; }
.nlme-library .nlme-library-status { font-size: 12px; color: var(--jp-ui-font-color2, #555); white-space: normal; }
.nlme-library .nlme-library-status[data-kind="error"] { color: var(--jp-error-color1, #c62828); }
</style>"""


def make_library_tab(lab) -> LibraryTab:
    """The Lab's tool-tab factory (``TOOL_TABS``)."""
    return LibraryTab(lab)


class LibraryTab(w.VBox):
    """The template chooser, its options, the text they give and a button into the editor."""

    def __init__(self, lab=None):
        self.lab = lab
        self.catalog = catalog()
        labels = [(t.name, t.name) for g in TemplateGroup for t in self.catalog if t.group is g]
        self.chooser = w.Select(options=labels, value=labels[0][1], rows=len(labels),
                                layout=w.Layout(width="220px", flex="0 0 auto"))
        self.summary = w.HTML()
        self.controls = w.VBox(layout=w.Layout(width="260px", flex="0 0 auto"))
        self.preview = w.HTML(layout=w.Layout(flex="1 1 420px", min_width="0"))
        self.use_button = w.Button(description="Put in editor", icon="arrow-right", button_style="primary",
                                   tooltip="Put this text into the model editor (then Compile)")
        self.status = w.HTML()
        for widget, name in ((self.chooser, "chooser"), (self.preview, "preview"), (self.use_button, "use"),
                             (self.status, "status")):
            widget.add_class(f"nlme-library-{name}")
        self.text = ""
        self._option_widgets: dict = {}
        self.chooser.observe(lambda _c: self._show_template(), names="value")
        self.use_button.on_click(lambda _b: self.use())
        body = w.HBox([w.VBox([w.HTML("<b>Templates</b>"), self.chooser], layout=w.Layout(flex="0 0 auto")),
                       w.VBox([w.HTML("<b>Options</b>"), self.controls, self.use_button, self.status],
                              layout=w.Layout(flex="0 0 auto", margin="0 12px")),
                       w.VBox([self.summary, self.preview], layout=w.Layout(flex="1 1 420px", min_width="0"))],
                      layout=w.Layout(flex_flow="row wrap", width="100%"))
        super().__init__([w.HTML(CSS), body])
        self.add_class("nlme-library")
        self._show_template()

    # ------------------------------------------------------------------ the chosen template
    @property
    def info(self):
        return self.catalog[self.chooser.value]

    def _show_template(self) -> None:
        info = self.info
        self.summary.value = (f"<div class='nlme-library-summary'><b>{html.escape(info.name)}</b> "
                              f"({html.escape(info.group.value)}): {html.escape(info.summary)}</div>")
        self._option_widgets = {o.name: self._option_widget(o) for o in info.options if o.name != "values"}
        for name, widget in self._option_widgets.items():
            widget.add_class(f"nlme-library-option-{name}")
            widget.observe(lambda _c: self.refresh(), names="value")
        self.controls.children = list(self._option_widgets.values())
        self.refresh()

    @staticmethod
    def _option_widget(option):
        style = {"description_width": "80px"}
        layout = w.Layout(width="250px")
        tip = option.help
        if option.kind == "choice":
            return w.Dropdown(options=[(str(c), c) for c in option.choices], value=option.default,
                              description=option.name, tooltip=tip, style=style, layout=layout)
        if option.kind == "bool":
            return w.Checkbox(value=bool(option.default), description=option.name, tooltip=tip,
                              indent=False, layout=layout)
        if option.kind == "int":
            return w.BoundedIntText(value=int(option.default), min=0, max=20, description=option.name,
                                    tooltip=tip, style=style, layout=layout)
        default = "" if option.default is None else str(option.default)
        placeholder = "template default" if option.kind == "names" else ""
        return w.Text(value=default, description=option.name, tooltip=tip, placeholder=placeholder,
                      style=style, layout=layout)

    def options(self) -> dict:
        """The options the widgets say (an empty text means the template's default)."""
        out = {}
        for name, widget in self._option_widgets.items():
            option = self.info.option(name)
            value = widget.value
            if option.kind == "names":
                if not value.strip():
                    continue
                value = option.parse(value)
            elif option.kind == "str" and not value.strip():
                continue
            out[name] = value
        return out

    def refresh(self) -> None:
        """The text of the chosen template with the options shown, or why there is none."""
        try:
            self.text = self.info.text(**self.options())
        except TemplateError as err:
            self.text = ""
            self.preview.value = f"<pre>{html.escape(self.info.name)}: {html.escape(str(err))}</pre>"
            self._say(f"✗ {err}", "error")
            self.use_button.disabled = True
            return
        self.preview.value = f"<pre>{html.escape(self.text)}</pre>"
        self.use_button.disabled = self.lab is None
        self._say("")

    def _say(self, text: str, kind: str = "info") -> None:
        self.status.value = f"<div class='nlme-library-status' data-kind='{kind}'>{html.escape(text)}</div>"

    # ------------------------------------------------------------------ into the Lab
    def use(self) -> None:
        """Put the text into the Lab's editor and show it; the editor checks it against the data."""
        if self.lab is None or not self.text:
            return
        editor = self.lab.editor
        editor.value = self.text
        self.lab.tabs.selected_index = MODEL_TAB
        if editor.status_kind == "error":
            self._say(f"In the editor, but it does not fit these data yet: {editor.status}", "error")
        else:
            self._say(f"In the editor: {editor.status}")
