"""Screenshots of the real app in headless Chromium: the README's pictures, refreshed with `make screenshots`.

Starts its own server (as `make run` does) unless --url points at a running one.
Usage: python scripts/screenshot.py OUT.png [--url URL] [--play SECONDS] [--query "dataset=spiral&p=0.3"]
       [--width PX --height PX] [--present] [--window]
"""

import argparse
import contextlib
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.harness import CHART, CHROMIUM_ARGS, READY, find_chromium, streamlit_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--url", help="a running dropviz; default: start one")
    parser.add_argument("--query", default="", help="query parameters for the page, e.g. 'dataset=spiral'")
    parser.add_argument("--play", type=float, default=0.0, help="seconds to train before the picture")
    parser.add_argument("--width", type=int, default=1500)
    parser.add_argument("--height", type=int, default=1250)
    parser.add_argument("--dark", action="store_true", help="the browser prefers a dark colour scheme")
    parser.add_argument("--present", action="store_true", help="Presentation mode on, as a teacher at a projector")
    parser.add_argument("--window", action="store_true", help="only what the window shows, not the whole page")
    args = parser.parse_args()
    server = contextlib.nullcontext(args.url) if args.url else streamlit_server()
    with server as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": args.width, "height": args.height}, color_scheme="dark" if args.dark else "light")
        page.goto(f"{url}/?{args.query}")
        page.wait_for_selector(READY, timeout=30_000)
        page.wait_for_selector(CHART, timeout=30_000)
        if args.present:
            page.get_by_label("Presentation mode", exact=True).click(force=True)  # its input is visually hidden
            page.locator("[data-testid=stSidebar]").wait_for(state="hidden")
            page.wait_for_selector(READY, timeout=30_000)
        if args.play:
            page.get_by_role("button", name="Play", exact=True).click()
            time.sleep(args.play)
            page.get_by_role("button", name="Pause", exact=True).click()
            page.get_by_role("button", name="Play", exact=True).wait_for()
            page.wait_for_selector(READY, timeout=30_000)
            time.sleep(1.0)
        page.mouse.move(0, 0)  # no tooltip over the page
        time.sleep(0.5)
        page.screenshot(path=args.out, full_page=not args.window)
        browser.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
