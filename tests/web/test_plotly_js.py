"""plotly_js: the basic bundle is the plotly package's own plotly.js release, fetched only as npm published it."""

import io
import os
import tarfile

import plotly.offline
import pytest

from dropviz.web import plotly_js


def test_the_basic_bundle_is_the_release_the_plotly_package_draws_for():
    # Figures are made by the plotly package for its own plotly.js: a bundle of another release may read them otherwise.
    assert plotly_js.BASIC_VERSION == plotly.offline.get_plotlyjs_version()


def test_setup_fetched_the_basic_bundle_in_ci():
    # Without it the page still works (the full bundle), so only this says that setup's fetch broke.
    if os.environ.get("CI") != "true":
        pytest.skip("outside CI a machine without network may lack it: the page then loads the full bundle")
    path = plotly_js.bundle()
    assert path == plotly_js.basic_path()
    assert path.read_bytes().startswith(b"/**\n* plotly.js (basic - minified) v" + plotly_js.BASIC_VERSION.encode())


def _tarball(script: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in (("package/plotly-basic.min.js", script), ("package/LICENSE", b"MIT")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_fetch_stores_the_published_tarball_and_refuses_any_other(tmp_path, monkeypatch):
    good, bad = _tarball(b"/* published */"), _tarball(b"/* tampered */")
    monkeypatch.setattr(plotly_js, "CACHE", tmp_path)
    monkeypatch.setattr(plotly_js, "BASIC_INTEGRITY", plotly_js.integrity(good))
    served = {"data": bad}
    monkeypatch.setattr(plotly_js, "_download", lambda timeout: served["data"])
    with pytest.raises(ValueError, match="not the tarball npm published"):
        plotly_js.fetch()
    assert not plotly_js.basic_path().exists() and plotly_js.bundle() == plotly_js.FULL
    served["data"] = good
    assert plotly_js.fetch() == plotly_js.basic_path()
    assert plotly_js.basic_path().read_bytes() == b"/* published */" and plotly_js.bundle() == plotly_js.basic_path()
    assert (tmp_path / f"plotly-basic-{plotly_js.BASIC_VERSION}.LICENSE").read_bytes() == b"MIT"
    assert not list(tmp_path.glob("*.partial"))


def test_setup_goes_on_without_network(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(plotly_js, "CACHE", tmp_path)

    def offline(timeout):
        raise OSError("no route to host")

    monkeypatch.setattr(plotly_js, "_download", offline)
    assert plotly_js.main() == 0
    assert "the page will load the full bundle" in capsys.readouterr().err
    assert plotly_js.bundle() == plotly_js.FULL
