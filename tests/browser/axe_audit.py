"""Run axe-core (node_modules/axe-core, pinned in package-lock.json) on pages of the site.

Holds `audit(page)`: inject axe-core into an open Playwright page (as a script's content:
nothing is fetched) and return its violations, each rule with its impact and the CSS
targets of the offending nodes. Used by tests/browser/test_accessibility.py and by
benchmarks/accessibility.py, which prints the findings of a whole site by rule.
Reference: axe-core API, https://github.com/dequelabs/axe-core/blob/develop/doc/API.md
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"desktop": 1280, "phone": 390}
BLOCKING = ("serious", "critical")  # the impacts that fail the tests


@dataclass(frozen=True)
class Finding:
    """One rule violated on one node of one page."""

    page: str
    width: str
    rule: str
    impact: str
    target: str
    html: str


def audit(page: object, page_path: str, width: str) -> list[Finding]:
    """axe-core's violations on the open `page` (WCAG 2.x A and AA rules and best practices)."""
    if not AXE.is_file():
        raise FileNotFoundError(f"{AXE} is missing: run `npm ci` (make install does)")
    page.evaluate(  # let fonts, icons and late scripts settle: audit what a reader sees
        "() => document.fonts.ready.then(() => new Promise(r => setTimeout(r, 300)))"
    )
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        Finding(page_path, width, v["id"], v["impact"] or "minor",
                " ".join(map(str, node["target"])), node["html"][:200])
        for v in result["violations"] for node in v["nodes"]
    ]  # fmt: skip
