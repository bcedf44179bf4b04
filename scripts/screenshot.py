"""Screenshots of the real app in headless Chromium: the README's pictures, refreshed with `make screenshots`.

Starts nothing: point it at a running server (make run). Usage: python scripts/screenshot.py URL OUT.png [--play SECONDS]
"""

import argparse
import time

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
READY = "[data-testid=stApp][data-test-script-state=notRunning]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("out")
    parser.add_argument("--play", type=float, default=0.0, help="seconds to train before the picture")
    parser.add_argument("--width", type=int, default=1500)
    parser.add_argument("--height", type=int, default=1250)
    args = parser.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(args.url)
        page.wait_for_selector(READY, timeout=30_000)
        page.wait_for_selector("[data-testid=stPlotlyChart] .main-svg", timeout=30_000)
        if args.play:
            page.get_by_role("button", name="Play").click()
            time.sleep(args.play)
            page.get_by_role("button", name="Pause").click()
            page.wait_for_selector(READY, timeout=30_000)
            time.sleep(1.0)
        page.screenshot(path=args.out, full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
