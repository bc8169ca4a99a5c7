"""The book's models in the reader's browser: the in-page demos and the weights they run.

`export.py` writes a shipped model as a JavaScript file; `static/vae-demo.js` runs it (the
layers, MNIST's preprocessing, the explorer, the latent map and the drawing pad) and
`static/vae-demo.css` lays the demos out. The site serves both (the Sphinx extension in
`site/` adds them to pages with a demo); `notebook.py` shows the same demos in a notebook.
"""

from .export import WebExportConfig, export_web_model, web_model
from .notebook import DEMO_KINDS, demo

__all__ = ["DEMO_KINDS", "WebExportConfig", "demo", "export_web_model", "web_model"]
