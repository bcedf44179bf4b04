"""plotly_js: the basic bundle is a pinned npm dependency (the plotly package's own release), served from node_modules/ when installed, copied where the page loads it."""

import json
import os

import plotly.offline
import pytest

from dropviz.web import plotly_js
from tests.harness import ROOT

PACKAGE = "plotly.js-basic-dist-min"


def _pin() -> str:
    return json.loads((ROOT / "package.json").read_text())["dependencies"][PACKAGE]


def test_package_json_pins_exactly_the_release_the_plotly_package_draws_for():
    # Figures are made by the plotly package for its own plotly.js: a bundle of another release may read them otherwise.
    manifest = json.loads((ROOT / "package.json").read_text())
    assert manifest["private"] is True, "package.json is not to be published"
    assert manifest["dependencies"] == {PACKAGE: plotly.offline.get_plotlyjs_version()}  # exact: no ^ or ~ range


def test_the_lock_pins_the_same_release_with_its_integrity_and_no_address():
    text = (ROOT / "package-lock.json").read_text()
    assert "resolved" not in text and "://" not in text, "package-lock.json names a download address: .npmrc should omit it"
    packages = json.loads(text)["packages"]
    assert packages[""]["dependencies"] == {PACKAGE: _pin()}, "package-lock.json is stale: run `npm install --package-lock-only`"
    locked = packages[f"node_modules/{PACKAGE}"]
    assert locked["version"] == _pin()
    assert locked["integrity"].startswith("sha512-"), "without an integrity npm ci would not check what it downloads"
    assert sorted(packages) == ["", f"node_modules/{PACKAGE}"], "the bundle should need nothing else"
    npmrc = [line.strip() for line in (ROOT / ".npmrc").read_text().splitlines()]
    assert "omit-lockfile-registry-resolved=true" in npmrc, "a regenerated lock would name download addresses"


def test_the_bundle_is_the_basic_one_when_npm_installed_it_else_the_full_one(tmp_path, monkeypatch):
    monkeypatch.setattr(plotly_js, "NODE_MODULES", tmp_path / "node_modules")
    assert plotly_js.bundle() == plotly_js.FULL  # nothing installed: the plotly package's bundle
    assert plotly_js.FULL.read_bytes().startswith(b"/**\n* plotly.js v" + plotly.offline.get_plotlyjs_version().encode())
    plotly_js.basic_path().parent.mkdir(parents=True)
    plotly_js.basic_path().write_bytes(b"/* the basic bundle */")
    assert plotly_js.bundle() == tmp_path / "node_modules" / PACKAGE / "plotly-basic.min.js"


def test_make_installed_the_pinned_basic_bundle_in_ci():
    # Without it the page still works (the full bundle), so only this says that setup's `npm ci` broke.
    if os.environ.get("CI") != "true" and not plotly_js.NODE_MODULES.is_dir():
        pytest.skip("npm ci has not run here (no npm?): the page loads the full bundle")
    assert plotly_js.NODE_MODULES == ROOT / "node_modules"
    assert plotly_js.bundle() == plotly_js.basic_path(), "node_modules/ lacks the basic bundle: run `make` (npm ci)"
    assert plotly_js.basic_path().read_bytes().startswith(b"/**\n* plotly.js (basic - minified) v" + _pin().encode())
    installed = json.loads((plotly_js.NODE_MODULES / PACKAGE / "package.json").read_text())
    assert installed["version"] == _pin()


def test_plotly_js_is_copied_once_and_whole(tmp_path):
    target = plotly_js.serve(tmp_path)
    assert target == tmp_path / "static" / "plotly.min.js"
    assert target.read_bytes() == plotly_js.bundle().read_bytes()
    target.write_bytes(b"stale")  # another version left behind: replaced on the next process's first call
    plotly_js.serve.cache_clear()
    assert plotly_js.serve(tmp_path).read_bytes() == plotly_js.bundle().read_bytes()
    assert not list((tmp_path / "static").glob("*.partial"))


def test_the_bundle_served_follows_what_npm_installed(tmp_path, monkeypatch):
    monkeypatch.setattr(plotly_js, "NODE_MODULES", tmp_path / "node_modules")  # nothing installed: the plotly package's full bundle
    plotly_js.serve.cache_clear()
    assert plotly_js.serve(tmp_path / "app").read_bytes() == plotly_js.FULL.read_bytes()
    plotly_js.basic_path().parent.mkdir(parents=True)
    plotly_js.basic_path().write_bytes(b"/* the basic bundle */")
    plotly_js.serve.cache_clear()
    assert plotly_js.serve(tmp_path / "app").read_bytes() == b"/* the basic bundle */"  # same size check would not do
    plotly_js.serve.cache_clear()
