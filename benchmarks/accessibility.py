"""Accessibility findings of a built site, by rule: axe-core in Debian's Chromium.

Serves a built site (default _build/html) on 127.0.0.1, opens every page at desktop
(1280 px) and phone (390 px) width, runs axe-core (tests/browser/axe_audit.py) and prints
each violated rule with its impact, the number of nodes and the pages where it occurs.

Usage: python benchmarks/accessibility.py [SITE_DIR] [--nodes]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from axe_audit import WIDTHS, audit  # noqa: E402
from conftest import CHROMIUM, CHROMIUM_FLAGS, SiteBrowser, serve  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--nodes", action="store_true", help="print every offending node")
    args = parser.parse_args()
    pages = sorted(p.relative_to(args.site).as_posix() for p in args.site.rglob("*.html")
                   if "_static" not in p.parts and "_sources" not in p.parts)  # fmt: skip
    from playwright.sync_api import sync_playwright

    findings = []
    with serve(args.site) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        site = SiteBrowser(browser, base)
        for width, px in WIDTHS.items():
            for path in pages:
                page, _ = site.open(path, width=px)
                findings += audit(page, path, width)
                page.context.close()
        browser.close()
    by_rule = defaultdict(list)
    for f in findings:
        by_rule[(f.impact, f.rule)].append(f)
    order = {"critical": 0, "serious": 1, "moderate": 2, "minor": 3}
    for (impact, rule), found in sorted(by_rule.items(), key=lambda kv: order[kv[0][0]]):
        where = sorted({f"{f.page} ({f.width})" for f in found})
        print(f"{impact:<9} {rule:<32} {len(found):>4} nodes on {len(where)} page views")
        if args.nodes:
            for f in found:
                print(f"    {f.page} ({f.width}): {f.target}  {f.html[:120]}")
    print(f"{len(findings)} findings on {len(pages)} pages x {len(WIDTHS)} widths")


if __name__ == "__main__":
    main()
