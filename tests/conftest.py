"""Fixtures shared by the test modules that run training in worker processes."""

import pytest

from dropviz.web import live


@pytest.fixture
def one_worker(monkeypatch):
    """A pool of one worker process, so that the runs of a test share it."""
    pool = live._Pool(1)
    monkeypatch.setattr(live, "POOL", pool)
    yield pool
    pool.stop()
