"""Sphinx extension with this site's fixes to its theme and extensions' output.

- Drops a script that a page would include twice. jupyter-book 1 with sphinx-thebe
  0.3.1 on Sphinx 7.4 puts sphinx-thebe's inline configuration (`const THEBE_JS_URL ...`)
  in every page twice, which throws "Identifier 'THEBE_JS_URL' has already been declared";
  the same guard keeps the widget-manager scripts from ever being included twice (which
  would render every widget twice).

It holds no content; `_config.yml` loads it with `local_extensions`.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


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


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
