"""Command line: the engine without a browser.

    python -m dropviz run     [settings] [--preset NAME] [--data FILE.csv] [--out FILE.json]
    python -m dropviz trace   [settings] [--preset NAME] [--data FILE.csv] --steps N --out FILE.npz
    python -m dropviz script  [settings] [--preset NAME] [--data FILE.csv] --out FILE.py
    python -m dropviz presets

Not here: any check of a setting's value. Every setting is read as text and handed, with only the
options actually given, to config.validate(..., base=the preset, strict=True): a value that cannot
enter stops the command (exit status 2, one line on stderr); a value out of range is clamped and the
clamp is reported on stderr. An option given twice (`--lr 0.1 --lr 0.2`) is refused, as the page
refuses a setting given twice in its URL, and --out is checked writable before any training.
--data FILE.csv trains on your own points (x1,x2,label; the README's "Your own points" gives the format), read
through config.read_points: a file it refuses stops the command like a bad setting, naming the problem and its row.
p is the DROP probability (PyTorch's convention; the paper's keep probability is 1 - p).
Exit status: 0 done, 1 the output file could not be written after all, 2 bad command line or
setting (a repeated option, an --out that cannot be written), 130 interrupted.

run
    Trains the dropout run and its no-dropout twin (same initial weights, same batches, differing
    only in dropout) to --epochs, prints a summary table on stdout, and with --out writes strict
    JSON (no NaN or Infinity):
        {"config": {every RunConfig setting, as config.to_dict gives it},
         "runs": {"dropout": R, "twin": R}}
    where R = {"train_loss": [...], "val_loss": [...], "train_acc": [...], "val_acc": [...],
    "optimized_loss": [...], "status": "ok" | "diverged at epoch N"}: one entry per epoch,
    metrics measured in evaluation mode (no dropout), optimized_loss the mean mini-batch loss with
    the masks that trained. A diverged run keeps only its epochs before N.

trace
    Takes N optimizer steps (fewer if --epochs ends first) and saves everything about the dropout
    run's steps (not the twin's) with numpy.savez. Needs n_train to be a multiple of batch_size, so
    that every step has a full batch. With S steps, B examples per batch, L hidden layers of h_l
    units, h_0 = D inputs (2 for points in the plane, 64 for digits) and h_{L+1} = C classes:
        x             (S, B, D) float64     the batch's inputs
        y             (S, B) int64          its labels, 0 to C - 1
        batch_index   (S, B) int64          their rows in the training set
        mask_input    (S, B, D) bool        True = input kept
        mask_l        (S, B, h_l) bool      l = 1..L: True = unit of hidden layer l kept
        weight_l      (S, h_l, h_{l-1})     l = 1..L+1, float64, (out, in) as torch.nn.Linear stores
                                            it, BEFORE the step's update (the weights that made loss)
        bias_l        (S, h_l)              l = 1..L+1
        loss          (S,) float64          the mean cross-entropy that was optimized
        classes       0-d int               C
        activation    0-d str               relu, tanh or sigmoid
        p             0-d float if every hidden layer has the same p, else (L,)
        p_input       0-d float
        p_layers      (L,) float            p per hidden layer, always an array
    The p values are the ones in force: all 0 with --dropout off (then every mask is True).
    Inverted dropout: a kept unit is scaled by 1 / (1 - p); nothing else is. Each loss is
    recomputed in plain NumPy by:

        import numpy as np
        t = np.load("trace.npz")
        L = len(t["p_layers"])
        f = {"relu": lambda z: np.maximum(z, 0.0), "tanh": np.tanh,
             "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z))}[str(t["activation"])]
        p = np.concatenate([[t["p_input"]], t["p_layers"]])  # (L + 1,) drop probability of each layer's input
        for s in range(len(t["loss"])):
            a = t["x"][s]  # (B, D)
            for l in range(L + 1):
                mask = t["mask_input"][s] if l == 0 else t[f"mask_{l}"][s]
                a = a * mask / (1.0 - p[l])  # dropout on this layer's input
                a = a @ t[f"weight_{l + 1}"][s].T + t[f"bias_{l + 1}"][s]
                if l < L:
                    a = f(a)
            z = a - a.max(axis=1, keepdims=True)  # (B, C) logits, shifted for exp
            log_softmax = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            loss = -log_softmax[np.arange(len(z)), t["y"][s]].mean()
            assert np.isclose(loss, t["loss"][s], rtol=1e-9, atol=1e-10)

script
    Writes the setup as a plain PyTorch training script (dropviz/core/script.py): nn.Sequential with
    nn.Dropout(p), the same optimizer and settings, and the setup's exact points, inside the file or,
    when there are too many, in FILE_data.csv beside it (the command says which). `python FILE.py`
    needs only torch (and numpy for the CSV); it prints a line per epoch and ends with the dropout
    network's final {"val_loss", "val_acc", "train_loss", "train_acc"} as one JSON line; with --twin
    it also trains the same network without dropout.

presets
    Lists the presets, each with the lesson it is meant to show.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import itertools
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import numpy as np

from .core.config import FILE_ONLY, LIMITS, MAX_LAYERS, ConfigError, RunConfig, io_sizes, read_points, to_dict, validate
from .core.own_data import MAX_BYTES, OWN
from .core.presets import DEFAULT_PRESET, PRESETS
from .core.records import RUN_NAMES, History, StepTrace

PROG = "python -m dropviz"
RUN_LABELS = {"dropout": "with dropout", "twin": "no-dropout twin"}  # keyed by records.RUN_NAMES
MAX_TRACE_STEPS = 100_000
MAX_TRACE_BYTES = 1 << 30  # a trace bigger than this is refused before it is taken

# What each setting means, for --help; the allowed values are added from config.LIMITS.
# A RunConfig field missing here still gets its option (the parser is built from the dataclass).
HELP = {
    "dataset": "data set",
    "n_train": "training points",
    "n_val": "validation points",
    "noise": "jitter added to the points",
    "label_noise": "probability that a label is flipped",
    "hidden": "neurons per hidden layer, comma list, e.g. 64,64",
    "activation": "activation of the hidden layers",
    "p": "drop probability of the hidden units: one value for every layer, or a comma list, one per layer",
    "p_input": "drop probability of the inputs",
    "dropout": "the toggle: off trains the dropout run without dropout too",
    "optimizer": "optimizer",
    "lr": "learning rate",
    "momentum": "momentum (SGD only)",
    "batch_size": "examples per mini-batch",
    "weight_decay": "L2 penalty, as torch.optim's weight_decay",
    "epochs": "epochs to train",
    "seed": "seed of data, initial weights, batches and masks",
}


class UsageError(Exception):
    """A command line that cannot run: exit status 2 with this one-line message."""


# --- the parser -----------------------------------------------------------------------------------
def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _help(name: str) -> str:
    limit = LIMITS[name]
    if limit.choices:
        allowed = "one of " + ", ".join(limit.choices)
    elif limit.kind is bool:
        allowed = "on or off"
    elif limit.kind is tuple and name == "hidden":
        allowed = f"1 to {MAX_LAYERS} layers of {limit.low:g} to {limit.high:g}"
    else:
        allowed = f"{limit.low:g} to {limit.high:g}"
    return f"{HELP.get(name, name)} ({allowed})"


class _Once(argparse.Action):
    """Stores an option's value, refusing a second one: `--lr 0.1 --lr 0.2` is an error, as ?lr=0.1&lr=0.2 is on the page."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = namespace.__dict__.setdefault("_given", {})  # dest -> the value given first
        if self.dest in given:
            raise argparse.ArgumentError(self, f"given twice ({given[self.dest][:40]!r}, then {values[:40]!r}); give each option once")
        given[self.dest] = values
        setattr(namespace, self.dest, values)


def build_parser() -> argparse.ArgumentParser:
    """The CLI's parser. Every setting is an option named after its RunConfig field, kept as text."""
    settings = argparse.ArgumentParser(add_help=False)
    group = settings.add_argument_group("settings (default: the preset's value)")
    for field in dataclasses.fields(RunConfig):
        if field.name in FILE_ONLY:  # brought by --data, never typed
            continue
        # SUPPRESS: an option not given is absent from the namespace, so only given values are validated.
        group.add_argument(
            _option(field.name), dest=field.name, action=_Once, metavar="VALUE", default=argparse.SUPPRESS, help=_help(field.name)
        )
    group.add_argument(
        "--data",
        action=_Once,
        metavar="FILE.csv",
        help="train on your own points: a CSV of x1,x2,label (labels 0 to 9), at most 5,000 rows and 1 MB",
    )
    group.add_argument(
        "--preset", action=_Once, default=DEFAULT_PRESET, metavar="NAME", help=f"start from this preset (default: {DEFAULT_PRESET!r})"
    )

    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0], allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("run", parents=[settings], allow_abbrev=False, help="train a dropout run and its twin, print a summary")
    run.add_argument("--out", action=_Once, metavar="FILE.json", help="also write the config and per-epoch curves as JSON")
    trace = commands.add_parser("trace", parents=[settings], allow_abbrev=False, help="record every step's batch, masks, weights and loss")
    trace.add_argument("--steps", action=_Once, required=True, metavar="N", help=f"optimizer steps to record (1 to {MAX_TRACE_STEPS})")
    trace.add_argument(
        "--out",
        action=_Once,
        required=True,
        metavar="FILE.npz",
        help="where numpy.savez writes the trace (format: see the module docstring)",
    )
    script = commands.add_parser("script", parents=[settings], allow_abbrev=False, help="write the setup as a PyTorch training script")
    script.add_argument(
        "--out", action=_Once, required=True, metavar="FILE.py", help="where the script is written (a data CSV, if any, beside it)"
    )
    commands.add_parser("presets", help="list the presets and their lessons")
    return parser


# --- settings -> RunConfig --------------------------------------------------------------------------
def find_preset(name: str) -> str:
    """The PRESETS key for name; case, '-' and '_' are forgiven. Raises UsageError if there is none."""
    if name in PRESETS:
        return name
    wanted = name.strip().lower().replace("-", " ").replace("_", " ")
    for key in PRESETS:
        if key.lower() == wanted:
            return key
    raise UsageError(f"unknown preset {name[:40]!r}; choose one of: " + ", ".join(repr(k) for k in PRESETS))


def make_config(args: argparse.Namespace, err: TextIO) -> RunConfig:
    """The preset, then the given options through config.validate (strict). Clamps are reported on err."""
    base = PRESETS[find_preset(args.preset)].config
    given = {field.name: getattr(args, field.name) for field in dataclasses.fields(RunConfig) if hasattr(args, field.name)}
    try:
        if getattr(args, "data", None) is not None:
            given["points"] = read_points(_read_data(args.data), Path(args.data).name)
        config, warnings = validate(given, base=base, strict=True)
    except ConfigError as error:
        raise UsageError(str(error)) from None
    for warning in warnings:
        print(f"dropviz: warning: {warning}", file=err)
    return config


def _read_data(path: str) -> bytes:
    """--data's bytes, at most one more than the gate accepts (so that it can say the file is too large)."""
    try:
        with open(path, "rb") as file:
            return file.read(MAX_BYTES + 1)
    except OSError as error:
        raise UsageError(f"--data {path!r}: cannot read it ({error.strerror or error})") from None


def _check_out(path: str) -> Path:
    """--out's path, checked writable before any training, so that a typo never costs a finished run."""
    out = Path(path)
    if not out.parent.is_dir():
        raise UsageError(f"--out {path!r}: directory {str(out.parent)!r} does not exist")
    if out.is_dir():
        raise UsageError(f"--out {path!r} is a directory")
    try:
        if out.exists():
            with open(out, "ab"):  # opened to append nothing: the file is left as it is
                pass
        else:
            with tempfile.TemporaryFile(dir=out.parent):  # a file made and removed where --out will be written
                pass
    except OSError as error:
        raise UsageError(f"--out {path!r}: cannot write in {str(out.parent)!r} ({error.strerror or error})") from None
    return out


# --- progress -------------------------------------------------------------------------------------
class ProgressBar:
    """One line on a terminal: appears only once `delay` seconds have passed, redraws at most `rate`
    times a second, and close() erases it. Modifies only its stream. Silent when not a terminal."""

    width = 30  # characters of the bar itself

    def __init__(
        self,
        total: int,
        stream: TextIO,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        delay: float = 1.0,
        rate: float = 10.0,
    ):
        self.total, self.stream, self.clock = total, stream, clock
        self.enabled = stream.isatty() if enabled is None else enabled
        self.delay, self.interval = delay, 1.0 / rate
        self.start = clock()
        self.last_draw: float | None = None
        self.drawn = 0  # characters on the line now

    def __call__(self, done: int) -> None:
        if not self.enabled:
            return
        now = self.clock()
        elapsed = now - self.start
        if elapsed < self.delay or (self.last_draw is not None and now - self.last_draw < self.interval):
            return
        self.last_draw = now
        fraction = min(done / self.total, 1.0) if self.total else 1.0
        filled = int(self.width * fraction)
        left = elapsed * (1.0 - fraction) / fraction if fraction else math.inf
        line = f"epoch {done}/{self.total} [{'#' * filled}{'.' * (self.width - filled)}] {fraction:4.0%}  {_seconds(left)} left"
        self.stream.write("\r" + line.ljust(self.drawn))
        self.stream.flush()
        self.drawn = len(line)

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * self.drawn + "\r")
            self.stream.flush()
            self.drawn = 0


def _seconds(value: float) -> str:
    if not math.isfinite(value):
        return "?"
    return f"{value:.0f} s" if value < 100 else f"{value / 60:.0f} min"


# --- output -----------------------------------------------------------------------------------------
def describe(config: RunConfig) -> str:
    """One line saying what was trained."""
    p = config.p_effective
    p_text = f"{p[0]:g}" if len(set(p)) == 1 else "/".join(f"{v:g}" for v in p)
    data = f"own points ({config.points.name or 'a file'}, {config.points.classes} classes)" if config.dataset == OWN else config.dataset
    parts = [
        f"{data}, {config.n_train} train / {config.n_val} val points",
        f"hidden {'x'.join(map(str, config.hidden))} {config.activation}",
        f"p {p_text}"
        + (f", input p {config.p_input_effective:g}" if config.p_input_effective else "")
        + ("" if config.dropout else " (dropout off)"),
        f"{config.optimizer} lr {config.lr:g}" + (f" momentum {config.momentum:g}" if config.optimizer == "sgd" else ""),
        f"batch {config.batch_size}, {config.epochs} epochs, seed {config.seed}",
    ]
    return "; ".join(parts)


def summary_table(history: History) -> str:
    """Plain aligned text: one row per figure, one column per run. '-' where a run has no epoch."""

    def figures(name: str) -> list[str]:
        run = history.runs[name]
        if run.epochs == 0:
            return ["-"] * 7 + [run.status]
        best = run.best_epoch
        return [
            f"{run.train_loss[-1]:.4f}",
            f"{run.val_loss[-1]:.4f}",
            f"{run.train_acc[-1]:.1%}",
            f"{run.val_acc[-1]:.1%}",
            f"{run.val_loss[-1] - run.train_loss[-1]:+.4f}",
            "-" if best is None else str(best),
            "-" if best is None else f"{run.val_loss[best - 1]:.4f}",
            run.status,
        ]

    labels = [
        "final train loss",
        "final val loss",
        "final train accuracy",
        "final val accuracy",
        "gap (val - train loss)",
        "best val epoch",
        "best val loss",
        "status",
    ]
    columns = [figures(name) for name in RUN_NAMES]
    heads = [RUN_LABELS[name] for name in RUN_NAMES]
    first = max(map(len, labels))
    widths = [max(len(head), *map(len, column)) for head, column in zip(heads, columns)]
    lines = [" " * first + "".join(f"  {head:>{w}}" for head, w in zip(heads, widths))]
    for row, label in enumerate(labels):
        lines.append(f"{label:<{first}}" + "".join(f"  {column[row]:>{w}}" for column, w in zip(columns, widths)))
    return "\n".join(lines)


def history_json(config: RunConfig, history: History) -> str:
    """The --out document; allow_nan=False makes a stray NaN an error, never invalid JSON."""
    dumps = functools.partial(json.dumps, allow_nan=False)
    runs = ",\n".join(f"  {dumps(name)}: {dumps(history.runs[name].to_json())}" for name in RUN_NAMES)
    return f'{{\n "config": {dumps(to_dict(config))},\n "runs": {{\n{runs}\n }}\n}}'  # one line per block


def trace_arrays(trace: StepTrace) -> dict[str, np.ndarray]:
    """StepTrace -> the arrays of the npz format documented above."""
    arrays = {"x": trace.x, "y": trace.y, "batch_index": trace.batch_index, "mask_input": trace.masks[0]}
    for l, mask in enumerate(trace.masks[1:], start=1):
        arrays[f"mask_{l}"] = mask
    for l, (weight, bias) in enumerate(zip(trace.weights, trace.biases), start=1):
        arrays[f"weight_{l}"] = weight
        arrays[f"bias_{l}"] = bias
    p_layers = np.asarray(trace.p, dtype=np.float64)  # (L,)
    arrays.update(
        loss=trace.loss,
        classes=np.int64(trace.classes),
        activation=np.asarray(trace.activation),
        p=np.float64(p_layers[0]) if len(set(trace.p)) == 1 else p_layers,
        p_input=np.float64(trace.p_input),
        p_layers=p_layers,
    )
    return {name: np.asarray(value) for name, value in arrays.items()}


def _trace_bytes(config: RunConfig, steps: int) -> int:
    inputs, classes = io_sizes(config)
    sizes = (inputs, *config.hidden, classes)
    per_example = inputs * 8 + 8 + 8 + sum(sizes[:-1])  # x, y, batch index, masks
    parameters = sum(i * o + o for i, o in itertools.pairwise(sizes))
    return steps * (config.batch_size * per_example + 8 * (parameters + 1))


# --- commands ---------------------------------------------------------------------------------------
def command_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .core.engine import Trainer  # torch is imported only by the commands that train

    config = make_config(args, err)
    path = _check_out(args.out) if args.out else None
    trainer = Trainer(config)
    bar = ProgressBar(config.epochs, err)
    started = time.perf_counter()
    try:
        history = trainer.run(bar)
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    print(describe(config), file=out)
    print(f"{trainer.epoch} epochs in {seconds:.1f} s\n", file=out)
    print(summary_table(history), file=out)
    if path is not None:
        text = history_json(config, history)
        try:
            path.write_text(text + "\n", encoding="utf-8")
        except OSError as error:
            print(f"dropviz: error: cannot write {str(path)!r}: {error.strerror or error}", file=err)
            return 1
        print(f"\nwrote {path}", file=out)
    return 0


def command_trace(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .core.engine import Trainer
    from .core.trace import trace_steps

    config = make_config(args, err)
    try:
        steps = int(args.steps.strip())
    except ValueError:
        raise UsageError(f"--steps {args.steps[:40]!r}: expected a whole number") from None
    if not 1 <= steps <= MAX_TRACE_STEPS:
        raise UsageError(f"--steps {steps}: expected 1 to {MAX_TRACE_STEPS}")
    size = _trace_bytes(config, steps)
    if size > MAX_TRACE_BYTES:
        raise UsageError(f"--steps {steps}: the trace would take about {size / 2**30:.1f} GiB; take fewer steps or a smaller network")
    path = _check_out(args.out)
    trainer = Trainer(config, backend="exact")  # float64: the recipe above recomputes each loss to 1e-9
    try:
        trace = trace_steps(trainer, steps)
    except ValueError as error:  # n_train not a multiple of batch_size
        raise UsageError(str(error)) from None
    taken = len(trace.loss)
    if taken < steps:
        print(f"dropviz: warning: the run ended after {taken} steps ({config.epochs} epochs of {trainer.steps_per_epoch})", file=err)
    try:
        with open(path, "wb") as file:  # a file object, so numpy does not append ".npz" to the name
            np.savez(file, **trace_arrays(trace))
    except OSError as error:
        print(f"dropviz: error: cannot write {str(path)!r}: {error.strerror or error}", file=err)
        return 1
    print(describe(config), file=out)
    print(f"wrote {path}: {taken} steps of {config.batch_size} examples, dropout run", file=out)
    return 0


def command_script(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .core.data import dataset_for
    from .core.script import data_csv, data_file_name, embeds, pytorch_script

    config = make_config(args, err)
    path = _check_out(args.out)
    data = dataset_for(config)
    preset = find_preset(args.preset)
    origin = f'the preset "{preset}"' + ("" if config == PRESETS[preset].config else " and the options given")
    files = {path: pytorch_script(config, data, filename=path.name, origin=origin)}
    if not embeds(data):
        files[path.with_name(data_file_name(path.name))] = data_csv(data)
    for file, text in files.items():
        try:
            file.write_text(text, encoding="utf-8")
        except OSError as error:
            print(f"dropviz: error: cannot write {str(file)!r}: {error.strerror or error}", file=err)
            return 1
    points = len(data.x_train) + len(data.x_val)
    where = "inside it" if embeds(data) else f"in {path.with_name(data_file_name(path.name))} beside it (too many to embed)"
    print(describe(config), file=out)
    print(f"wrote {path}: a PyTorch training script, its {points} points {where}", file=out)
    print(f"run it with: python {path}    (--twin: also without dropout)", file=out)
    return 0


def command_presets(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    for name, preset in PRESETS.items():
        print(f"{name}{'  (default)' if name == DEFAULT_PRESET else ''}", file=out)
        print(f"    {preset.lesson}", file=out)
    return 0


COMMANDS = {"run": command_run, "trace": command_trace, "script": command_script, "presets": command_presets}


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Runs one command; returns the exit status instead of exiting (tests call this in-process)."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse has printed usage or help
        return stop.code if isinstance(stop.code, int) else 2
    if args.command is None:
        parser.print_help(err)
        return 2
    try:
        return COMMANDS[args.command](args, out, err)
    except UsageError as error:
        print(f"dropviz: error: {error}", file=err)
        return 2
    except KeyboardInterrupt:
        print("dropviz: interrupted", file=err)
        return 130
    except BrokenPipeError:  # `python -m dropviz run | head`: the reader left; nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush goes nowhere
        return 0


if __name__ == "__main__":
    sys.exit(main())
