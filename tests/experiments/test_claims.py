"""What the presets' lessons and the experiment texts claim holds on seed 0: every claim of dropviz.experiments.claims, measured.

bench/claims.py checks the same claims over 5 seeds; here one seed keeps the test fast. Each claim compares a
measured number with the threshold its text states, so a change to training or to a probe that breaks a text fails here.
"""

import numpy as np
import pytest

from dropviz.core.presets import DEFAULT_PRESET
from dropviz.experiments import claims

SEED = 0


@pytest.fixture(scope="module")
def pair() -> claims.Pair:
    return claims.train(DEFAULT_PRESET, SEED)


def _check(found: list[claims.Claim]) -> None:
    assert found
    failed = [f"{c.topic}: {c.statement} {c.figures}" for c in found if not c.holds]
    assert not failed, "\n".join(failed)
    assert all(np.isfinite(v) for c in found for v in c.figures.values())


@pytest.mark.parametrize("check", claims.PROBES, ids=lambda f: f.__name__)
def test_the_default_presets_lesson_and_experiment_texts_hold(pair, check):
    _check(check(pair))


@pytest.mark.parametrize("name", list(claims.OTHER_PRESETS))
def test_the_other_presets_lessons_hold(name):
    _check(claims.OTHER_PRESETS[name](claims.train(name, SEED)))


def test_a_claim_fails_when_its_number_misses_the_threshold(pair, monkeypatch):
    # The lesson's margin, made impossible: the same measured climb must now fail.
    monkeypatch.setattr(claims, "CLIMB_RATIO", 0.0)
    lesson = claims.overfitting_claims(pair)
    assert [c.holds for c in lesson] == [True, False]
    assert lesson[1].figures["ratio"] > 0
