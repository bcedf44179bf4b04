"""The one gate: typed values in, clamped or refused with a named reason, never an exception to the page."""

import dataclasses
import pickle
import re

import numpy as np
import pytest

from dropviz.core.config import LIMITS, MAX_LAYERS, ConfigError, RunConfig, read_points, to_dict, validate
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


# --- data sets beyond the plane, and the user's own points --------------------------------------------
def _csv(rows: int = 40, classes: int = 3, header: bool = True) -> str:
    """A good file of points: rows lines of x1,x2,label (after a header line when asked)."""
    lines = ["x1,x2,label"] if header else []
    return "\n".join(lines + [f"{i * 0.5 - 3},{(i * 7) % 11},{i % classes}" for i in range(rows)]) + "\n"


def _with_row(line: str, at: int = 5) -> bytes:
    """The good file with its line `at` (counted from 1, the header being line 1) replaced."""
    lines = _csv().splitlines()
    lines[at - 1] = line
    return "\n".join(lines).encode()


@pytest.mark.parametrize(
    "raw,problem,row",
    [
        (b"", "empty", None),
        (b"\n  \n\n", "empty", None),
        (b"x1,x2,label\n", "header", "row 1"),
        (b"x1,x2,label\n" + b"".join(b"%d,1,4\n" % i for i in range(30)), "class 4", "row 31"),
        (_with_row("1.5,abc,1"), "'abc', not a number", "row 5"),
        (_with_row("nan,2,1"), "NaN", "row 5"),
        (_with_row("1,inf,1"), "infinite", "row 5"),
        (_with_row("1,-Infinity,1"), "infinite", "row 5"),
        (_with_row("1,1e400,1"), "infinite", "row 5"),
        (_with_row("2000000,1,1"), "beyond ±1,000,000", "row 5"),
        (_with_row("1,-1.5e6,1"), "beyond ±1,000,000", "row 5"),
        (_with_row("1,2"), "missing column label", "row 5"),
        (_with_row("1"), "missing column x2,label", "row 5"),
        (_with_row("1,2,"), "label is empty", "row 5"),
        (_with_row("1,2,1,7"), "4 cells", "row 5"),
        (_with_row("1,2,1.5"), "not a whole number", "row 5"),
        (_with_row("1,2,-1"), "negative", "row 5"),
        (_with_row("1,2,10"), "above 9", "row 5"),
        (_with_row("1,2,cat"), "'cat', not a number", "row 5"),
        (_csv().encode()[:30] + b"\xff\xfe\x00\x01garbage", "NUL byte", "row 4"),
        (_with_row("1,\xe9,1").decode().encode("latin-1"), "not UTF-8", "row 5"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "NUL byte", "row 3"),
        (_csv().encode("utf-16"), "UTF-16", "row 1"),
        (_csv(rows=12).encode(), "only 12 points", "row 13"),
        (_csv(rows=5001).encode(), "more than 5,000 points", "row 5002"),
        (b"1,2,0\n" * 180_000, "1,080,000 bytes; at most 1 MB (1,048,576 bytes)", None),
    ],
)
def test_a_bad_file_of_points_is_refused_with_one_line_naming_the_problem_and_the_row(raw, problem, row):
    with pytest.raises(ConfigError) as refused:
        read_points(raw, "points.csv")
    message = str(refused.value)
    assert message.startswith("data file: ") and problem in message, message
    assert "\n" not in message and len(message) < 200
    if row is not None:
        assert re.search(rf"\b{row}\b", message), message


def test_a_good_file_header_or_not_quoted_or_not_crlf_or_not():
    plain = read_points(_csv(header=False).encode())
    assert plain.rows == 40 and plain.classes == 3
    assert read_points(_csv().encode()) == plain  # the header changes nothing
    assert read_points(_csv().replace("\n", "\r\n").encode()) == plain
    assert read_points(("\ufeff" + _csv()).encode()) == plain  # a spreadsheet's byte-order mark
    quoted = "\n".join(",".join(f'"{cell}"' for cell in line.split(",")) for line in _csv().splitlines())
    assert read_points(quoted.encode()) == plain
    assert read_points(_csv().replace("\n", "\n\n").encode()) == plain  # blank lines are skipped
    assert read_points(_csv().encode(), "a.csv").name == "a.csv" and read_points(_csv().encode(), "b.csv") == plain


def test_a_file_with_5000_rows_and_a_missing_class_is_accepted():
    points = read_points(_csv(rows=5000).replace(",1\n", ",9\n").encode())
    assert points.rows == 5000 and points.classes == 10  # labels 0, 2 and 9: max + 1 outputs, class 1 has no point


def test_own_points_enter_as_a_frozen_hashable_setting_that_pickles_and_compares():
    points = read_points(_csv().encode(), "mine.csv")
    config, warnings = validate({"points": points, "n_train": 500}, base=RunConfig(batch_size=64))
    assert warnings == ["batch_size: 64 is more than the 30 training points; using 30"]
    assert config.dataset == OWN and config.points == points
    assert (config.n_train, config.n_val, config.batch_size) == (30, 10, 30)  # the file decides: a quarter validates
    assert pickle.loads(pickle.dumps(config)) == config and hash(pickle.loads(pickle.dumps(config))) == hash(config)
    other = read_points(_csv(rows=41).encode(), "mine.csv")
    assert dataclasses.replace(config, points=other) != config
    with pytest.raises(dataclasses.FrozenInstanceError):
        points.classes = 4
    assert not points.x.flags.writeable and points.x.shape == (40, 2)


def test_a_link_or_a_setup_cannot_carry_own_points_and_says_so():
    config = validate({"points": read_points(_csv().encode())})[0]
    shared = to_dict(config)
    assert "points" not in shared and shared["dataset"] == OWN
    back, warnings = validate(shared, base=RunConfig(dataset="moons"))
    assert back.dataset == "moons" and back.points is None
    assert len(warnings) == 1 and "cannot carry" in warnings[0] and "upload" in warnings[0], warnings
    with pytest.raises(ConfigError, match="--data"):
        validate({"dataset": OWN}, strict=True)


def test_a_file_and_another_data_set_together_are_refused_strictly_and_the_file_wins_otherwise():
    points = read_points(_csv().encode())
    with pytest.raises(ConfigError, match="give one"):
        validate({"points": points, "dataset": "xor"}, strict=True)
    config, warnings = validate({"points": points, "dataset": "xor"})
    assert config.dataset == OWN and warnings and warnings[0].startswith("dataset: ")
    assert validate({"dataset": "xor"}, base=config)[0].points is None  # another set drops the points


def test_points_come_only_from_read_points():
    config, warnings = validate({"points": "1,2,0\n3,4,1"})
    assert config.points is None and warnings[0].startswith("points: ")
    with pytest.raises(ValueError, match="own"):
        RunConfig(dataset=OWN)


def test_digits_cap_the_sizes_at_the_pool_validation_first():
    config, warnings = validate({"dataset": "digits", "n_train": 1000, "n_val": 5000})
    assert (config.n_train, config.n_val) == (1000, 797) and "1,797" in warnings[0]
    config, _ = validate({"dataset": "digits", "n_train": 2000, "n_val": 5000})
    assert (config.n_train, config.n_val) == (1787, 10)
    assert validate({"dataset": "digits", "n_train": 100, "n_val": 500}) == (RunConfig(dataset="digits", n_val=500), [])


def test_shapes_and_pool_sizes_match_the_registry():
    from dropviz.core.config import POOL_SIZES, SHAPES

    for name, spec in DATASETS.items():
        assert SHAPES.get(name, (2, 2)) == (spec.inputs, spec.classes), name
        assert POOL_SIZES.get(name) == (None if spec.pool is None else len(spec.pool()[1])), name


def test_weight_count_keeps_its_two_by_two_default_and_the_cap_counts_the_real_inputs_and_classes():
    from dropviz.core.config import MAX_WEIGHTS, io_sizes, weight_count

    assert weight_count((3,)) == 2 * 3 + 3 + 3 * 2 + 2 == weight_count((3,), inputs=2, outputs=2)
    assert weight_count((3,), inputs=64, outputs=10) == 64 * 3 + 3 + 3 * 10 + 10
    hidden = (256, 256, 256, 256)  # under the cap with 2 inputs, over it with 64
    assert weight_count(hidden) <= MAX_WEIGHTS < weight_count(hidden, inputs=64, outputs=10)
    assert validate({"hidden": "256,256,256,256"})[0].hidden == hidden
    digits, warnings = validate({"dataset": "digits", "hidden": "256,256,256,256"})
    assert io_sizes(digits) == (64, 10) and digits.hidden != hidden and warnings[0].startswith("hidden: ")
    assert weight_count(digits.hidden, *io_sizes(digits)) <= MAX_WEIGHTS
    points = read_points(_csv(classes=7).encode())
    assert io_sizes(validate({"points": points})[0]) == (2, 7)


def test_any_bytes_give_points_or_one_line_refusal_never_another_exception():
    rng = np.random.default_rng(17)
    good = _csv().encode()
    alphabet = np.frombuffer(b'0123456789.,-+eE \t\r\n"naif;x', dtype=np.uint8)
    for trial in range(400):
        if trial % 4 == 0:  # random bytes of any value
            raw = rng.integers(0, 256, rng.integers(0, 400)).astype(np.uint8).tobytes()
        elif trial % 4 == 1:  # CSV-like characters in any order
            raw = rng.choice(alphabet, rng.integers(0, 2000)).tobytes()
        else:  # a good file with a few bytes changed, inserted or cut
            raw = bytearray(good)
            for _ in range(rng.integers(1, 4)):
                at = int(rng.integers(0, len(raw)))
                raw[at : at + int(rng.integers(0, 3))] = bytes([int(rng.choice(alphabet))]) if rng.random() < 0.7 else b""
            raw = bytes(raw)
        try:
            points = read_points(raw)
        except ConfigError as error:
            assert str(error).startswith("data file: ") and "\n" not in str(error) and len(str(error)) < 200, str(error)
        else:
            assert points.rows >= 20 and 2 <= points.classes <= 10 and np.abs(points.x).max() <= 1.1 + 1e-12
