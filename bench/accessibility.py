"""axe-core's violations on every page, on a desktop and a phone, as counts by impact: the
figures in docs/accessibility.md. Run it against any running server of the app (a checkout of an
older commit too, to compare):

    .venv/bin/python -m bench.accessibility http://localhost:8630 [--details]
"""
from __future__ import annotations

import argparse
import collections
import sys

from playwright.sync_api import sync_playwright

from tests.accessibility import PAGES, PROFILES, audit, open_settled
from tests.browser import launch_chromium


def measure(base_url: str, details: bool = False) -> dict:
    counts = {}
    with sync_playwright() as p:
        browser = launch_chromium(p)
        for profile, options in PROFILES.items():
            context = browser.new_context(**options)
            for path, _ in PAGES:
                page = context.new_page()
                open_settled(page, base_url + path)
                violations = audit(page)
                tally = collections.Counter()
                for v in violations:
                    tally[v["impact"]] += 1
                counts[(profile, path)] = tally
                if details:
                    for v in violations:
                        print(f"  {profile} {path} {v['impact']} {v['id']} x{v['count']}: {v['help']} {v['nodes'][:2]}",
                              file=sys.stderr)
                page.close()
            context.close()
        browser.close()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("--details", action="store_true", help="each violation, on stderr")
    args = parser.parse_args()
    counts = measure(args.base_url.rstrip("/"), args.details)
    print("| profile | page | critical | serious | moderate | minor |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (profile, path), tally in counts.items():
        print(f"| {profile} | {path} | {tally['critical']} | {tally['serious']} | {tally['moderate']} | {tally['minor']} |")


if __name__ == "__main__":
    main()
