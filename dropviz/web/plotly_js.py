"""Which plotly.js the live page loads: plotly.js's basic bundle, fetched once at setup, else the plotly package's full one.

Why: the live charts draw only scatter traces, layout images, shapes and annotations, which the basic bundle
(scatter, bar, pie) has. The full bundle is several times the basic one: a browser's main thread evaluates
it on every page load, and the page server gzips it for every student, each several times the basic bundle's cost
(bench/RESULTS.md).
It is the same plotly.js release as the plotly package's (BASIC_VERSION; tests/web/test_plotly_js.py checks), from the
npm registry through npm's own client (`npm pack`), checked against the sha512 the registry publishes for it before it is stored. Setup fetches it
(`python -m dropviz.web.plotly_js`, run by `make`, CI and the Dockerfile); without it (no network, say) the page
loads the full bundle and works the same, only slower.
"""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import plotly

FULL = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
BASIC_PACKAGE = "plotly.js-basic-dist-min"
BASIC_VERSION = "4.1.1"  # the plotly package's plotly.js (plotly.offline.get_plotlyjs_version())
BASIC_INTEGRITY = "sha512-1oNF8PeQx2hv/y7tqEVWKD3JGwn/MGEMQ8mL9HUwsaqG9FGy/OU5FHUHvzqbqxN4mnwZGI9abTiE775C4kkjMQ=="  # npm's dist.integrity
BASIC_SPEC = f"{BASIC_PACKAGE}@{BASIC_VERSION}"  # what npm's own client is asked for: no address in this code
CACHE = Path(sys.prefix) / "share" / "dropviz"  # beside what pip installed: the virtual environment's, or the image's Python's


def basic_path() -> Path:
    """Where setup stores the basic bundle (its licence beside it)."""
    return CACHE / f"plotly-basic-{BASIC_VERSION}.min.js"


def bundle() -> Path:
    """The plotly.js to serve: the basic bundle when setup fetched it, else the plotly package's full bundle."""
    path = basic_path()
    return path if path.is_file() else FULL


def integrity(data: bytes) -> str:
    """data's digest as npm's dist.integrity writes it."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _download(timeout: float) -> bytes:
    """The basic bundle's tarball as npm's own client packs it (`npm pack`). Raises OSError without npm or network."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            subprocess.run(
                ["npm", "pack", BASIC_SPEC, "--pack-destination", folder, "--silent"],
                cwd=folder,
                check=True,
                capture_output=True,
                timeout=timeout,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            raise OSError(f"npm pack {BASIC_SPEC} failed: {error}") from error
        tarballs = list(Path(folder).glob("*.tgz"))
        if len(tarballs) != 1:
            raise OSError(f"npm pack {BASIC_SPEC} left {len(tarballs)} tarballs")
        return tarballs[0].read_bytes()


def fetch(timeout: float = 120.0) -> Path:
    """Modifies CACHE: gets the basic bundle's npm tarball through npm, checks it against BASIC_INTEGRITY, and stores its
    plotly-basic.min.js and LICENSE. Raises OSError (no npm, network, disk) or ValueError (not the published tarball)."""
    data = _download(timeout)
    if integrity(data) != BASIC_INTEGRITY:
        raise ValueError(f"{BASIC_SPEC} is not the tarball npm published ({integrity(data)[:20]}...): not used")
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            script, licence = (tar.extractfile(f"package/{name}").read() for name in ("plotly-basic.min.js", "LICENSE"))
    except (tarfile.TarError, AttributeError, KeyError) as error:  # extractfile gives None for a non-file
        raise ValueError(f"{BASIC_SPEC}: {error}") from error
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / f"plotly-basic-{BASIC_VERSION}.LICENSE").write_bytes(licence)
    target = basic_path()
    partial = target.with_suffix(".partial")
    partial.write_bytes(script)
    partial.replace(target)  # atomic: a server never serves half a file
    return target


def main() -> int:
    """Setup's step: fetches the basic bundle unless it is there. Never fails setup: without it the page loads the full bundle."""
    if basic_path().is_file():
        print(f"plotly.js: {basic_path()}")
        return 0
    try:
        print(f"plotly.js: fetched {fetch()}")
    except (OSError, ValueError) as error:
        print(
            f"plotly.js: the basic bundle was not fetched ({error}); the page will load the full bundle (4.8 MB), "
            "which works the same but loads slower",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
