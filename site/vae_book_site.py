"""Sphinx extension with this site's fixes to its theme and extensions' output.

- Drops a script that a page would include twice. jupyter-book 1 with sphinx-thebe
  0.3.1 on Sphinx 7.4 puts sphinx-thebe's inline configuration (`const THEBE_JS_URL ...`)
  in every page twice, which throws "Identifier 'THEBE_JS_URL' has already been declared";
  the same guard keeps the widget-manager scripts from ever being included twice (which
  would render every widget twice).

- Teaches the one-page (`singlehtml`) builder, which `make pdf` prints, the two nodes
  that stand for `hide-input` code: myst-nb 1.4's HideCodeCellNode and
  sphinx-jupyterbook-latex 1.0's HiddenCellNode are registered for the `html` builder
  only, so `singlehtml` stops with "unknown node type". The printed book leaves that code
  out (the set-up cell at the top of each chapter), as a LaTeX build does.
- Gives the one page the widget state of every chapter: myst-nb adds each notebook's
  widget state (and the widget manager) to that notebook's own page only, so in the
  one-page book no widget would render; with it, each shows its first frame in the PDF.

- Runs the book's models in the page (issue: in-browser demos): a page whose HTML has a
  `<div class="vae-demo" data-vae-model="NAME" data-vae-demo="KIND">` gets `vae-demo.js`,
  `vae-demo.css` and `vae-web/NAME.js`, the weights, as plain scripts (so the page works
  from `file://`); other pages load none of them. A KIND that is not one of
  `vae_tutorial.web.DEMO_KINDS` is a build warning (the page would show an empty box).
  At the end of the build each model named on some page is exported into
  `_static/vae-web/` by `vae_tutorial.web.export_web_model` (the function behind
  `vae-tutorial export-web`).

- Gives the references page's entries the role `listitem` (docutils writes a deprecated
  role there, and the list has no items for assistive technology).

It holds no content; `_config.yml` loads it with `local_extensions`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)


def _script_key(script: Any) -> tuple[str, tuple[tuple[str, str], ...]]:
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {})
    return str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items()))


def drop_duplicate_scripts(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    unique = []
    for script in context.get("script_files", []):
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def _skip(translator: Any, node: nodes.Element) -> None:
    raise nodes.SkipNode


def register_hidden_cells_for_singlehtml(app: Sphinx) -> None:
    from myst_nb.sphinx_ import HideCodeCellNode
    from sphinx_jupyterbook_latex.nodes import HiddenCellNode

    for node in (HideCodeCellNode, HiddenCellNode):
        app.add_node(node, override=True, singlehtml=(_skip, None))


def add_every_chapters_widget_state(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    if app.builder.name != "singlehtml":
        return
    from myst_nb.sphinx_ import NbMetadataCollector

    for docname in sorted(app.env.found_docs - {pagename}):
        for path, kwargs in NbMetadataCollector.get_js_files(app.env, docname).values():
            app.add_js_file(path, **kwargs)


DEMO_MODEL = re.compile(r'class="vae-demo"[^>]*data-vae-model="([\w.-]+)"')
DEMO_KIND = re.compile(r'class="vae-demo"[^>]*data-vae-demo="([\w.-]+)"')


def add_demo_scripts(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    body = context.get("body", "")
    names = sorted(set(DEMO_MODEL.findall(body)))
    if not names:
        return
    from vae_tutorial.web import DEMO_KINDS

    for kind in sorted(set(DEMO_KIND.findall(body)) - set(DEMO_KINDS)):
        logger.warning(
            f"{pagename}: no in-page demo {kind!r} (data-vae-demo); vae-demo.js has "
            f"{', '.join(DEMO_KINDS)}",
            location=pagename,
        )
    app.vae_web_models = getattr(app, "vae_web_models", set()) | set(names)  # type: ignore[attr-defined]
    app.add_css_file("vae-demo.css")
    for name in names:
        app.add_js_file(f"vae-web/{name}.js")
    app.add_js_file("vae-demo.js")


def export_demo_models(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None:
        return
    from vae_tutorial.web import export_web_model

    for name in sorted(getattr(app, "vae_web_models", ())):
        export_web_model(name, Path(app.outdir) / "_static" / "vae-web")


def fix_citation_roles(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """The references list: docutils writes `role="list"` with children of the deprecated
    role `doc-biblioentry`, which leaves the list without list items for assistive
    technology (axe-core: aria-required-children); make them list items."""
    if "body" in context:
        context["body"] = context["body"].replace('role="doc-biblioentry"', 'role="listitem"')


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("html-page-context", fix_citation_roles)
    app.connect("html-page-context", add_demo_scripts)
    app.connect("build-finished", export_demo_models)
    app.connect("html-page-context", add_every_chapters_widget_state)
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    app.connect("builder-inited", register_hidden_cells_for_singlehtml)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
