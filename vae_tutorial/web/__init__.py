"""The book's models in the reader's browser: weights exported for the in-page demos.

`export.py` writes a shipped model as a JavaScript file the site serves; the JavaScript
that runs it and draws the demos is the site's own code (`site/static/vae-demo.js`).
"""

from .export import WebExportConfig, export_web_model, web_model

__all__ = ["WebExportConfig", "export_web_model", "web_model"]
