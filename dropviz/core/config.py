"""RunConfig, its LIMITS, and validate(): the one gate every setting passes, from widgets, URLs, the CLI or files.

Nothing here trains or draws; it only says what a run is and whether a value may enter.
p is the DROP probability everywhere (PyTorch's convention); the dropout paper writes the keep
probability 1 - p.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from . import own_data
from .own_data import OWN, OwnPoints

# Keys of data.DATASETS (tested), then OWN: the user's points, which only a file brings (read_points).
DATASET_NAMES = ("circle", "xor", "gauss", "spiral", "moons", "digits", OWN)
# (inputs, classes) of a data set that is not two classes in the plane; must match data.DATASETS (tested).
SHAPES = {"digits": (64, 10)}
POOL_SIZES = {"digits": 1797}  # examples in a fixed set: n_train + n_val is capped here (data.DIGITS_SIZE, tested)
ACTIVATIONS = ("relu", "tanh", "sigmoid")
OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class RunConfig:
    """Every setting of one run (a dropout network and its no-dropout twin).

    The defaults are the "overfitting demo" preset: the twin memorizes flipped labels, dropout does not.
    """

    dataset: str = "circle"  # key of data.DATASETS
    n_train: int = 100  # training points
    n_val: int = 500  # validation points, same distribution
    noise: float = 0.1  # moves points (see each data set's noise_effect)
    label_noise: float = 0.2  # probability that a label is flipped: wrong labels to memorize
    hidden: tuple[int, ...] = (128, 128)  # neurons per hidden layer: ample capacity to overfit 100 points
    activation: str = "relu"
    p: tuple[float, ...] = (0.5, 0.5)  # drop probability per hidden layer, len == len(hidden)
    p_input: float = 0.0  # drop probability of the two inputs
    dropout: bool = True  # the toggle: False trains the dropout run without dropout too
    optimizer: str = "adam"
    lr: float = 0.01  # learning rate
    momentum: float = 0.9  # SGD only
    batch_size: int = 16
    weight_decay: float = 0.0  # L2 penalty, as torch.optim's weight_decay
    epochs: int = 300  # the run stops here
    seed: int = 0  # data, initial weights, batches and masks
    # The user's points, exactly when dataset is OWN; to_dict leaves them out: a link cannot carry a file.
    points: OwnPoints | None = None

    def __post_init__(self):
        if len(self.p) != len(self.hidden):
            raise ValueError(f"p has {len(self.p)} values for {len(self.hidden)} hidden layers; validate() broadcasts one value")
        if (self.dataset == OWN) != (self.points is not None):
            raise ValueError("points are given exactly when the data set is 'own'")

    @property
    def p_effective(self) -> tuple[float, ...]:
        """The hidden-layer drop probabilities in force: all zero when the toggle is off."""
        return self.p if self.dropout else tuple(0.0 for _ in self.p)

    @property
    def p_input_effective(self) -> float:
        return self.p_input if self.dropout else 0.0


@dataclass(frozen=True)
class Limit:
    kind: type  # int, float, bool, str or tuple (of int / float)
    low: float | None = None  # inclusive, numbers only
    high: float | None = None  # inclusive
    choices: tuple[str, ...] = ()
    why: str = ""  # said to the user when a value is refused or clamped


# The one table of what may enter. Each field of RunConfig has exactly one row (tested).
LIMITS: dict[str, Limit] = {
    "dataset": Limit(str, choices=DATASET_NAMES),
    "n_train": Limit(int, 10, 2000),
    "n_val": Limit(int, 10, 5000),
    "noise": Limit(float, 0.0, 0.5),
    "label_noise": Limit(float, 0.0, 0.5, why="above 0.5 the labels mean their opposite"),
    "hidden": Limit(tuple, 1, 256, why="1 to 6 layers of 1 to 256 neurons"),
    "activation": Limit(str, choices=ACTIVATIONS),
    "p": Limit(tuple, 0.0, 0.95, why="p is the drop probability; at p = 1 nothing would pass through"),
    "p_input": Limit(float, 0.0, 0.95, why="p is the drop probability; at p = 1 nothing would pass through"),
    "dropout": Limit(bool),
    "optimizer": Limit(str, choices=OPTIMIZERS),
    "lr": Limit(float, 1e-6, 10.0),
    "momentum": Limit(float, 0.0, 0.99),
    "batch_size": Limit(int, 1, 2000, why="at most the number of training points"),
    "weight_decay": Limit(float, 0.0, 1.0),
    "epochs": Limit(int, 1, 5000),
    "seed": Limit(int, 0, 2**31 - 1),
    "points": Limit(OwnPoints, why="only read_points makes them, from a file"),
}
FILE_ONLY = ("points",)  # settings a file brings (the page's upload, the CLI's --data), never a URL or a text option
MAX_LAYERS = 6
# Per-session cap on the network, so that one student's 6 x 256 network cannot starve a class sharing a
# server: about 200k weights still allows 6 layers of 180 neurons, or 2 of 256.
MAX_WEIGHTS = 200_000
MAX_TEXT = 200  # longer raw values are refused unread


class ConfigError(ValueError):
    """A value that cannot enter, with the reason; strict callers (the CLI) raise it."""


def _parse_float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise TypeError("expected a number")
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def _parse_int(raw: Any) -> int:
    value = _parse_float(raw)
    if value != int(value):
        raise ValueError("expected a whole number")
    return int(value)


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "on", "yes"):
        return True
    if text in ("0", "false", "off", "no"):
        return False
    raise ValueError("expected on/off")


def _parse_tuple(raw: Any, item) -> tuple:
    """A comma-separated string or a list -> a tuple of items; counted before any item is parsed."""
    parts = raw.split(",") if isinstance(raw, str) else raw if isinstance(raw, (list, tuple)) else [raw]
    if len(parts) > MAX_LAYERS:  # a hostile list of a million items is refused by its length alone
        raise ValueError(f"{len(parts)} values; a network has at most {MAX_LAYERS} hidden layers")
    if not parts or any(isinstance(part, str) and part.strip() == "" for part in parts):
        raise ValueError("expected a comma-separated list")
    return tuple(item(part) for part in parts)


def _clamped(value, limit: Limit):
    """value moved into [limit.low, limit.high], keeping its type."""
    if limit.low is not None and value < limit.low or limit.high is not None and value > limit.high:
        return type(value)(min(max(value, limit.low), limit.high))
    return value


def _clamp(name: str, values: tuple, limit: Limit, warnings: list[str]) -> tuple:
    """Each value clamped into range; one warning for the whole setting, however many values moved."""
    used = tuple(_clamped(value, limit) for value in values)
    if used != values:
        given, shown = (repr(values[0]), repr(used[0])) if len(values) == 1 else (_joined(values), _joined(used))
        why = f" ({limit.why})" if limit.why else ""
        warnings.append(f"{name}: {given} is outside {limit.low:g} to {limit.high:g}; using {shown}{why}")
    return used


def _joined(values: tuple) -> str:
    return ",".join(f"{v:g}" for v in values)


def _shown(raw: Any) -> str:
    """A raw value as a warning quotes it: at most 40 characters; a list or object is counted, never stringified
    (a deeply nested one would exhaust the recursion limit, a long one the page)."""
    if isinstance(raw, (list, tuple)):
        return f"a list of {len(raw)}"
    if isinstance(raw, dict):
        return f"an object of {len(raw)} keys"
    return repr(str(raw)[:40])


def _check_one(name: str, raw: Any, limit: Limit, warnings: list[str]):
    """One raw value -> its typed, in-range value. Raises ValueError with a reason when unusable."""
    if isinstance(raw, (list, tuple)) and limit.kind is not tuple:
        if len(raw) != 1:
            raise ValueError("expected one value, not a list")
        raw = raw[0]
    if isinstance(raw, str) and len(raw) > MAX_TEXT:
        raise ValueError(f"longer than {MAX_TEXT} characters")
    if limit.kind is str:
        text = str(raw).strip().lower()
        if text not in limit.choices:
            raise ValueError(f"unknown; choose one of {', '.join(limit.choices)}")
        return text
    if limit.kind is bool:
        return _parse_bool(raw)
    if limit.kind is OwnPoints:
        if not isinstance(raw, OwnPoints):
            raise TypeError("points come only from a file, through read_points")
        return raw
    if limit.kind in (int, float):
        return _clamp(name, ((_parse_int if limit.kind is int else _parse_float)(raw),), limit, warnings)[0]
    values = _parse_tuple(raw, _parse_int if name == "hidden" else _parse_float)
    return _clamp(name, values, limit, warnings)


def validate(values: Mapping[str, Any], base: RunConfig | None = None, strict: bool = False) -> tuple[RunConfig, list[str]]:
    """Check raw values (strings, numbers, lists) against LIMITS and build a RunConfig on top of base.

    Unknown keys are ignored; an unusable value keeps base's value; an out-of-range number is
    clamped. Each of these is named in the returned warnings, at most one per setting and one for
    all unknown keys. strict=True raises ConfigError instead of warning about an unusable or unknown
    value (clamping still only warns).
    """
    base = base or RunConfig()
    warnings: list[str] = []
    accepted: dict[str, Any] = {}
    unknown = [str(name)[:40] for name in values if name not in LIMITS]
    if unknown:
        more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
        message = f"{', '.join(unknown[:3])}{more}: unknown setting{'s' if len(unknown) > 1 else ''}, ignored"
        if strict:
            raise ConfigError(message)
        warnings.append(message)
    for name, raw in values.items():
        if name not in LIMITS:
            continue
        try:
            accepted[name] = _check_one(name, raw, LIMITS[name], warnings)
        except (ValueError, TypeError, OverflowError) as error:
            message = f"{name}: {_shown(raw)} {'refused' if strict else 'ignored'} ({error})"
            if strict:
                raise ConfigError(message) from None
            warnings.append(message)
    config, warnings = _consistent(base, accepted, warnings, strict)
    return config, _one_per_setting(warnings)


def _one_per_setting(warnings: list[str]) -> list[str]:
    """Warnings about the same setting ("name: ...") joined into one, in order of first mention."""
    joined: dict[str, list[str]] = {}
    for warning in warnings:
        name, _, text = warning.partition(": ")
        joined.setdefault(name, []).append(text)
    return [f"{name}: {'; '.join(texts)}" for name, texts in joined.items()]


def _consistent(base: RunConfig, accepted: dict[str, Any], warnings: list[str], strict: bool) -> tuple[RunConfig, list[str]]:
    """Cross-field rules: the data set's points and sizes, one p per hidden layer, a network within MAX_WEIGHTS, batch no
    larger than the training set."""
    merged = {field.name: getattr(base, field.name) for field in dataclasses.fields(base)} | accepted
    _data_rules(base, merged, accepted, warnings, strict)
    layers, p = len(merged["hidden"]), tuple(merged["p"])
    if len(p) != layers:
        if len(p) != 1 and "p" in accepted:
            warnings.append(f"p: {len(p)} values for {layers} hidden layers; using {p[0]:g} for every layer")
        merged["p"] = (p[0],) * layers
    hidden = tuple(merged["hidden"])
    inputs, outputs = _io_sizes(merged["dataset"], merged["points"])
    count = functools.partial(weight_count, inputs=inputs, outputs=outputs)
    if count(hidden) > MAX_WEIGHTS:
        width = max((w for w in range(1, max(hidden) + 1) if count(tuple(min(h, w) for h in hidden)) <= MAX_WEIGHTS), default=1)
        merged["hidden"] = tuple(min(h, width) for h in hidden)
        warnings.append(
            f"hidden: {count(hidden):,} weights is more than the {MAX_WEIGHTS:,} a session may train (so that a class "
            f"can share one server); layers capped at {width} neurons"
        )
    if merged["batch_size"] > merged["n_train"]:
        warnings.append(
            f"batch_size: {merged['batch_size']} is more than the {merged['n_train']} training points; using {merged['n_train']}"
        )
        merged["batch_size"] = merged["n_train"]
    return RunConfig(**merged), warnings


def _data_rules(base: RunConfig, merged: dict[str, Any], accepted: dict[str, Any], warnings: list[str], strict: bool) -> None:
    """Modifies merged: a file's points make the data set OWN and decide its sizes; OWN without points falls back (a
    link or a setup file cannot carry them); a fixed pool caps n_train + n_val at its size, the validation set first."""
    if "points" in accepted and accepted.get("dataset", OWN) != OWN:
        message = f"dataset: {accepted['dataset']!r} and a file of points were both given; the points are used"
        if strict:
            raise ConfigError(message.replace("the points are used", "give one"))
        warnings.append(message)
    if "points" in accepted:
        merged["dataset"] = OWN
    if merged["dataset"] == OWN and merged["points"] is None:
        message = "dataset: 'own' means your own points, which a link or a setup file cannot carry; upload the CSV under Data"
        if strict:
            raise ConfigError("dataset: 'own' needs a file of points: --data FILE.csv")
        merged["dataset"] = base.dataset if base.dataset != OWN else RunConfig.dataset
        warnings.append(f"{message} (using {merged['dataset']} meanwhile)")
    if merged["dataset"] != OWN:
        merged["points"] = None
        size = POOL_SIZES.get(merged["dataset"])
        if size is not None and merged["n_train"] + merged["n_val"] > size:
            asked = merged["n_train"], merged["n_val"]
            merged["n_train"] = min(merged["n_train"], size - int(LIMITS["n_val"].low))
            merged["n_val"] = min(merged["n_val"], size - merged["n_train"])
            warnings.append(
                f"n_val: {asked[0]} + {asked[1]} examples is more than the {size:,} of {merged['dataset']}; "
                f"using {merged['n_train']} to train and {merged['n_val']} to validate"
            )
    else:  # the file decides: a seeded quarter validates (own_data.split_sizes), whatever the size widgets say
        merged["n_train"], merged["n_val"] = own_data.split_sizes(merged["points"].rows)


def _io_sizes(dataset: str, points: OwnPoints | None) -> tuple[int, int]:
    return (2, points.classes) if dataset == OWN and points is not None else SHAPES.get(dataset, (2, 2))


def io_sizes(config: RunConfig) -> tuple[int, int]:
    """(inputs, classes) of config's data set: the network's first and last layer widths."""
    return _io_sizes(config.dataset, config.points)


def weight_count(hidden: tuple[int, ...], inputs: int = 2, outputs: int = 2) -> int:
    """Weights and biases of one network with these hidden layers, inputs and outputs (2 and 2: points in the plane)."""
    sizes = (inputs, *hidden, outputs)
    return sum(i * o + o for i, o in pairwise(sizes))


def read_points(raw: bytes, name: str = "") -> OwnPoints:
    """A CSV file of points (own_data's format) through the gate: its OwnPoints, or a ConfigError saying in one line
    what is wrong and in which row."""
    try:
        return own_data.parse(bytes(raw), name)
    except ValueError as error:
        raise ConfigError(f"data file: {error}") from None


def to_dict(config: RunConfig) -> dict[str, Any]:
    """JSON-ready settings (tuples become lists), without FILE_ONLY ones; validate(to_dict(c)) gives c back, except for
    own points (dataset 'own' then says that a file is missing)."""
    values = {field.name: getattr(config, field.name) for field in dataclasses.fields(config) if field.name not in FILE_ONLY}
    return {name: list(value) if isinstance(value, tuple) else value for name, value in values.items()}
