"""Which plotly.js the live page loads: plotly.js's basic bundle from node_modules/, else the plotly package's full one.

Not how the basic bundle gets there: package.json pins it and `make` installs it with npm's own client (`npm ci`,
checked against package-lock.json's integrity). Without npm (the Docker image, say) the page loads the full bundle and
works the same, only slower.
Why the basic bundle: the live charts draw only scatter traces, layout images, shapes and annotations, which it
(scatter, bar, pie) has. The full bundle is several times its size: a browser's main thread evaluates it on every page
load, and the page server gzips it for every student, each several times the basic bundle's cost (bench/RESULTS.md).
It is the plotly package's own plotly.js release (tests/web/test_plotly_js.py checks package.json's pin).
"""

from __future__ import annotations

from pathlib import Path

import plotly

FULL = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"  # where `npm ci` installs package.json's dependencies
BASIC = Path("plotly.js-basic-dist-min") / "plotly-basic.min.js"  # the basic bundle inside NODE_MODULES


def basic_path() -> Path:
    """Where npm installs the basic bundle."""
    return NODE_MODULES / BASIC


def bundle() -> Path:
    """The plotly.js to serve: the basic bundle when npm installed it, else the plotly package's full bundle."""
    path = basic_path()
    return path if path.is_file() else FULL
