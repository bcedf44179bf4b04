"""The one gate: typed values in, clamped or refused with a named reason, never an exception to the page."""

import dataclasses

import pytest

from dropviz.core.config import LIMITS, MAX_LAYERS, ConfigError, RunConfig, to_dict, validate
from dropviz.core.data import DATASETS
from dropviz.core.own_data import OWN


def test_every_field_has_one_limit_and_datasets_match_the_registry():
    assert set(LIMITS) == {f.name for f in dataclasses.fields(RunConfig)}
    assert LIMITS["dataset"].choices == (*DATASETS, OWN)


def test_round_trip_through_plain_values_and_strings():
    config = RunConfig(dataset="spiral", hidden=(5, 7, 9), p=(0.1, 0.2, 0.3), lr=0.5, dropout=False)
    assert validate(to_dict(config)) == (config, [])
    strings = {k: ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in to_dict(config).items()}
    assert validate(strings) == (config, [])


@pytest.mark.parametrize(
    "name,raw,expected",
    [
        ("lr", "nan", RunConfig().lr),
        ("lr", "inf", RunConfig().lr),
        ("lr", "-1", 1e-6),
        ("lr", "1e300", 10.0),
        ("n_train", "5", 10),
        ("n_train", "12.5", RunConfig().n_train),
        ("n_train", "abc", RunConfig().n_train),
        ("n_train", "", RunConfig().n_train),
        ("noise", ["0.1", "0.2"], RunConfig().noise),
        ("dataset", "<script>alert(1)</script>", RunConfig().dataset),
        ("dataset", "x" * 10_000, RunConfig().dataset),
        ("p", "1", (0.95, 0.95)),
        ("p_input", "1", 0.95),
        ("hidden", "0,abc", RunConfig().hidden),
        ("hidden", "1000", (256,)),
        ("hidden", "4,4,4,4,4,4,4,4", RunConfig().hidden),
        ("hidden", [[[[4]]]], RunConfig().hidden),
        ("p", {"a": 1}, RunConfig().p),
        ("dropout", "maybe", True),
        ("seed", "-3", 0),
    ],
)
def test_hostile_values_are_clamped_or_ignored_with_a_named_warning(name, raw, expected):
    config, warnings = validate({name: raw})
    assert getattr(config, name) == expected
    assert any(w.startswith(f"{name}: ") for w in warnings)
    assert all(len(w) < 300 for w in warnings)  # a 10,000-character value is not echoed back
    assert len(config.p) == len(config.hidden)


def test_one_p_is_broadcast_to_every_hidden_layer_silently():
    assert validate({"p": "0.3"}) == (RunConfig(p=(0.3, 0.3)), [])


def test_p_of_one_is_explained():
    _, warnings = validate({"p": "1"})
    assert any("nothing would pass through" in w for w in warnings)


class Trap:
    """An item that fails the test if anything converts it: a list of these must be refused by its length alone."""

    def __float__(self):
        raise AssertionError("an item of an over-long list was parsed")

    __int__ = __index__ = __float__


@pytest.mark.parametrize("name", ["hidden", "p"])
def test_a_list_longer_than_the_layer_cap_is_refused_unparsed_with_one_warning(name):
    for raw in ([Trap()] * 10**6, [Trap()] * (MAX_LAYERS + 1), ",".join(["1"] * (MAX_LAYERS + 1))):
        config, warnings = validate({name: raw})
        assert getattr(config, name) == getattr(RunConfig(), name)
        assert len(warnings) == 1 and warnings[0].startswith(f"{name}: ") and f"at most {MAX_LAYERS}" in warnings[0]
        assert len(warnings[0]) < 200  # counted, not echoed
    with pytest.raises(ConfigError):
        validate({name: ",".join(["1"] * (MAX_LAYERS + 1))}, strict=True)


def test_every_setting_gets_at_most_one_warning_however_many_values_are_wrong():
    hostile = {"hidden": [1000] * 6, "p": ["5"] * 6, "batch_size": "5000", "n_train": "10", "lr": "-1"}
    hostile |= {f"unknown{i}": i for i in range(10_000)}
    config, warnings = validate(hostile)
    assert config.hidden == (config.hidden[0],) * 6 < (256,) * 6 and config.p == (0.95,) * 6 and config.batch_size == 10
    names = [w.split(": ", 1)[0] for w in warnings]
    assert len(names) == len(set(names)) == 5, warnings  # hidden, p, batch_size, lr, and one for all unknown keys
    assert "unknown0, unknown1, unknown2 and 9997 more: unknown settings, ignored" in warnings
    hidden = next(w for w in warnings if w.startswith("hidden: "))
    assert "outside 1 to 256" in hidden and "share one server" in hidden  # the clamp and the cap, in one warning


def test_unknown_keys_are_named_and_strict_mode_raises():
    config, warnings = validate({"bogus": "1", "lr": "0.1"})
    assert config.lr == 0.1 and warnings == ["bogus: unknown setting, ignored"]
    with pytest.raises(ConfigError):
        validate({"bogus": "1"}, strict=True)
    with pytest.raises(ConfigError):
        validate({"lr": "nan"}, strict=True)


def test_batch_size_never_exceeds_training_points():
    config, warnings = validate({"n_train": "20", "batch_size": "64"})
    assert config.batch_size == 20 and warnings


def test_mismatched_p_is_refused_by_the_dataclass():
    with pytest.raises(ValueError):
        RunConfig(hidden=(3,), p=(0.5, 0.5))


def test_a_network_too_big_for_a_shared_server_is_capped_with_a_reason():
    from dropviz.core.config import MAX_WEIGHTS, weight_count

    config, warnings = validate({"hidden": "256,256,256,256,256,256"})
    assert weight_count(config.hidden) <= MAX_WEIGHTS < weight_count((256,) * 6)
    assert len(config.hidden) == 6 and len(set(config.hidden)) == 1
    assert weight_count(tuple(h + 1 for h in config.hidden)) > MAX_WEIGHTS  # the largest width that fits
    assert any(w.startswith("hidden:") and "share one server" in w for w in warnings)
    assert validate({"hidden": "256,256"})[0].hidden == (256, 256)  # the largest two-layer network still fits
