"""Every chapter page has launch links to Binder and Colab for its own notebook.

The links come from `_config.yml` (`repository:` and `launch_buttons:`), so a page that
lost its buttons, or buttons that open the wrong notebook or repository, fail here.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_every_notebook_page_launches_itself_on_binder_and_colab(
    site_dir: Path, pages: list[str]
) -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]["url"].removeprefix("https://github.com/")
    branch = config["repository"]["branch"]
    notebooks = sorted(p.stem for p in (ROOT / "book").glob("*.ipynb"))
    assert len(notebooks) == 11
    for name in notebooks:
        html = unquote((site_dir / "book" / f"{name}.html").read_text(encoding="utf-8"))
        hrefs = set(re.findall(r'href="([^"]+)"', html))
        binder = f"https://mybinder.org/v2/gh/{repo}/{branch}?urlpath=lab/tree/book/{name}.ipynb"
        colab = f"https://colab.research.google.com/github/{repo}/blob/{branch}/book/{name}.ipynb"
        assert binder in hrefs, (name, sorted(h for h in hrefs if "binder" in h))
        assert colab in hrefs, (name, sorted(h for h in hrefs if "colab" in h))
