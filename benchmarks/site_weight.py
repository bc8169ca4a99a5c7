"""Page weight of the built site: bytes per page, and per widget on pages with widgets.

Reads a built site (default _build/html) and prints, for every page with embedded
ipywidgets, the HTML size, the size of the widget state (the decoded frames live there),
the number of widgets shown, and the state bytes per widget; then the size of the
JavaScript and fonts the site serves itself (_static/vendor/).

Usage: python benchmarks/site_weight.py [SITE_DIR]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

STATE = re.compile(
    r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', re.S
)
VIEW = "application/vnd.jupyter.widget-view+json"


def measure(site: Path) -> list[dict[str, float | str]]:
    rows = []
    for page in sorted(site.rglob("*.html")):
        html = page.read_text(encoding="utf-8")
        states = STATE.findall(html)
        if not states:
            continue
        state = json.loads(states[0])["state"]
        images = [
            m for m in state.values()
            if m["model_name"] == "ImageModel" or "<img" in str(m["state"].get("value", ""))
        ]  # fmt: skip
        widgets = html.count(VIEW)
        state_bytes = len(states[0].encode())
        rows.append({
            "page": page.relative_to(site).as_posix(),
            "html_bytes": len(html.encode()),
            "state_bytes": state_bytes,
            "widgets": widgets,
            "frames": len(images),
            "bytes_per_widget": state_bytes / widgets,
        })  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", type=Path, default=Path("_build/html"))
    site = parser.parse_args().site
    for row in measure(site):
        print(
            f"{row['page']}: page {row['html_bytes'] / 1e3:.0f} KB, widget state "
            f"{row['state_bytes'] / 1e3:.0f} KB for {row['widgets']} widgets "
            f"({row['frames']} PNG frames): {row['bytes_per_widget'] / 1e3:.0f} KB per widget"
        )
    vendor = site / "_static" / "vendor"
    total = sum(f.stat().st_size for f in vendor.rglob("*") if f.is_file())
    print(f"_static/vendor (served by the site itself): {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
