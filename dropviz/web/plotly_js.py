"""Which plotly.js the live page loads and how it gets it: the basic bundle from node_modules/, else the plotly package's full one.

Not how the basic bundle gets there: package.json pins it and `make` installs it with npm's own client (`npm ci`,
checked against package-lock.json's integrity). Without npm (the Docker image, say) the page loads the full bundle and
works the same, only slower.
Why the basic bundle: the live charts draw only scatter traces, layout images, shapes and annotations, which it
(scatter, bar, pie) has. The full bundle is several times its size: a browser's main thread evaluates it on every page
load, and the page server gzips it for every student, each several times the basic bundle's cost (bench/RESULTS.md).
It is the plotly package's own plotly.js release (tests/web/test_plotly_js.py checks package.json's pin). It is served
by Streamlit's static file serving (`server.enableStaticServing` in .streamlit/config.toml) from static/ next to app.py.
"""

from __future__ import annotations

import functools
import shutil
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


PLOTLY_FILE = "plotly.min.js"  # in static/, whichever bundle it is: live_chart.js and PRELOAD load app/static/plotly.min.js


@functools.cache
def serve(app_dir: Path) -> Path:
    """Once per process: copies plotly.js (bundle(): the basic bundle when setup fetched it) to
    app_dir/static/plotly.min.js, where the page loads it from."""
    source, target = bundle(), app_dir / "static" / PLOTLY_FILE
    if not target.exists() or target.read_bytes() != source.read_bytes():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        shutil.copyfile(source, partial)
        partial.replace(target)  # atomic: a page never loads half a file
    return target


# Runs in the page (app.py adds it with st.html, before the charts): the browser starts loading plotly.js, a large file
# whichever bundle, with the page's first elements; dropviz/web/live_chart.js then waits for this script tag.
PRELOAD = """<script>
if (!window.Plotly && !document.querySelector("script[data-dropviz-plotly]")) {
  const script = document.createElement("script");
  script.src = "app/static/plotly.min.js";
  script.dataset.dropvizPlotly = "";
  script.onerror = () => script.remove();  // the charts then load it themselves, and say so if that fails too
  document.head.appendChild(script);
}
</script>"""
