"""Exports a person can download and load again: curves as CSV, a setup as JSON. Pure functions of records and configs.

The trained network's PyTorch file is model.export_network (torch lives in model.py). Loading a
setup goes back through config.validate like every other input.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from ..core.config import RunConfig, to_dict, validate
from ..core.records import RUN_NAMES, History

CURVES = ("train_loss", "val_loss", "train_acc", "val_acc", "optimized_loss")
MAX_SETUP_BYTES = 64 * 1024  # a setup is a few hundred bytes; anything larger is not one


def curves_csv(history: History) -> str:
    """One row per epoch: epoch, then each curve of each run ("dropout_val_loss", ...), empty where a run has stopped;
    each run's status; and the data set's number of classes (an accuracy's chance level is 1 / classes)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = [f"{run}_{curve}" for run in RUN_NAMES for curve in CURVES] + [f"{run}_status" for run in RUN_NAMES]
    writer.writerow(["epoch", *columns, "classes"])
    epochs = max(h.epochs for h in history.runs.values())
    for e in range(epochs):
        row: list[Any] = [e + 1]
        for run in RUN_NAMES:
            h = history.runs[run]
            row += [f"{float(getattr(h, curve)[e]):.6g}" if e < h.epochs else "" for curve in CURVES]
        row += [history.runs[run].status for run in RUN_NAMES]
        writer.writerow([*row, history.classes])
    return out.getvalue()


def setup_json(config: RunConfig, preset: str | None = None) -> str:
    """The setup as JSON: {"dropviz_setup": 1, "preset": ..., "config": {...every setting...}}."""
    return json.dumps({"dropviz_setup": 1, "preset": preset, "config": to_dict(config)}, indent=2)


def read_setup(data: bytes, base: RunConfig) -> tuple[RunConfig | None, list[str]]:
    """Uploaded bytes -> (config, warnings) through the one gate; None with a reason when unusable."""
    if len(data) > MAX_SETUP_BYTES:
        return None, [f"setup file: {len(data)} bytes is more than {MAX_SETUP_BYTES}; not read"]
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        return None, [f"setup file: not JSON ({str(error)[:80]})"]
    except RecursionError:  # [[[[...]]]] deeper than the interpreter's recursion limit
        return None, ["setup file: nested too deeply to be a setup (a setup is an object of settings, each a value or a list)"]
    settings = document.get("config", document) if isinstance(document, dict) else None
    if not isinstance(settings, dict):
        return None, ["setup file: expected a JSON object of settings"]
    return validate(settings, base=base)
