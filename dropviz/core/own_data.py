"""The user's own points: a CSV file of x1,x2,label read into an OwnPoints value, or refused with the row that stopped it.

Not here: how a refusal reaches the user (config.read_points, the one gate, raises it as a ConfigError), nor the
split into training and validation points (data.make_dataset). The format, as the README says:
- UTF-8 text, at most MAX_BYTES bytes; one point per line, three comma-separated cells: x1, x2, label.
- The first non-blank line is a header when it has three cells and none is a number (its names are not read: the
  columns are always x1, x2, label, in that order). Blank lines are skipped. Rows are the file's lines, from 1.
- x1, x2: plain decimal numbers (1.5, -2, 3e4), finite, within ±MAX_ABS. label: a whole number 0 to 9 (2.0 is 2).
- MIN_ROWS to MAX_ROWS points, of at least two classes; the network gets max(label) + 1 outputs.
Each axis is then moved and scaled on its own so that its points span -SPAN to SPAN, where the built-in sets lie
(an axis on which every point has the same value is put at 0).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

OWN = "own"  # the data set name of a run on the user's own points
# 1 MB as Streamlit counts it (its maxUploadSize, .streamlit/config.toml): a file this size parses in a blink, so a hostile
# upload costs the server nothing, and the page's uploader refuses a larger one before it is sent.
MAX_BYTES = 1 << 20
MAX_ROWS = 5000  # points in one file
MIN_ROWS = 20  # 10 to train and 10 to validate, the smallest sizes config.LIMITS allows
MAX_ABS = 1e6  # a larger coordinate is more likely a typo or a unit mistake than a point
MAX_LABEL = 9  # ten classes at most
SPAN = 1.1  # each axis is scaled to [-SPAN, SPAN], as the built-in sets' noiseless points (data.py)
VALIDATION_SHARE = 4  # a quarter of the points (at least 10) validate; the rest, up to 2000, train
COLUMNS = ("x1", "x2", "label")
NEWLINE = b"\n"

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")  # what a spreadsheet writes; float() also takes "1_0"
_NAN = {"nan", "+nan", "-nan"}
_INF = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


@dataclass(frozen=True)
class OwnPoints:
    """A checked file of points: frozen and hashable (as bytes), so a RunConfig holding it pickles and compares."""

    x_bytes: bytes = field(repr=False)  # (rows, 2) float64, scaled into [-SPAN, SPAN]
    y_bytes: bytes = field(repr=False)  # (rows,) int64 in 0 .. classes - 1
    classes: int  # max(label) + 1: the network's outputs
    name: str = field(default="", compare=False)  # the file's name, shown on the page

    @property
    def rows(self) -> int:
        return len(self.y_bytes) // 8

    @property
    def x(self) -> np.ndarray:
        """(rows, 2) float64, read-only."""
        return np.frombuffer(self.x_bytes, dtype=np.float64).reshape(-1, 2)

    @property
    def y(self) -> np.ndarray:
        """(rows,) int64, read-only."""
        return np.frombuffer(self.y_bytes, dtype=np.int64)


def split_sizes(rows: int) -> tuple[int, int]:
    """(n_train, n_val) of a file of `rows` points: a quarter (at least 10) validates, the rest (at most 2000) trains."""
    n_val = max(10, rows // VALIDATION_SHARE)
    n_train = min(2000, rows - n_val)
    return n_train, rows - n_train


def _number(text: str, column: str) -> float:
    """A cell's finite number within ±MAX_ABS; raises ValueError saying what it is instead."""
    if not text:
        raise ValueError(f"{column} is empty; expected a number")
    if text.lower() in _NAN:
        raise ValueError(f"{column} is NaN; every value must be a number")
    if text.lower() in _INF or _NUMBER.fullmatch(text) and not math.isfinite(float(text)):
        raise ValueError(f"{column} is infinite; every value must be within ±{MAX_ABS:,.0f}")
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{column} is {text[:20]!r}, not a number")
    value = float(text)
    if abs(value) > MAX_ABS:
        raise ValueError(f"{column} = {value:g} is beyond ±{MAX_ABS:,.0f}")
    return value


def _label(cell: str) -> int:
    value = _number(cell, "label")
    if value < 0:
        raise ValueError(f"label {value:g} is negative; labels are whole numbers 0 to {MAX_LABEL}")
    if value != int(value):
        raise ValueError(f"label {value:g} is not a whole number; labels are 0 to {MAX_LABEL}")
    if value > MAX_LABEL:
        raise ValueError(f"label {value:g} is above {MAX_LABEL}; at most ten classes, 0 to {MAX_LABEL}")
    return int(value)


def _text(raw: bytes) -> str:
    """raw as text; raises ValueError naming the row of the first byte that is not text."""
    if len(raw) > MAX_BYTES:
        raise ValueError(f"the file is {len(raw):,} bytes; at most 1 MB ({MAX_BYTES:,} bytes)")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # what a spreadsheet's "Unicode text" writes
        raise ValueError("row 1: UTF-16 text; save the file as CSV in UTF-8")
    nul = raw.find(b"\0")
    if nul >= 0:
        raise ValueError(f"row {raw.count(NEWLINE, 0, nul) + 1}: a NUL byte; this is a binary file, not a CSV text file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        row = raw.count(NEWLINE, 0, error.start) + 1
        raise ValueError(f"row {row}: byte 0x{raw[error.start]:02x} is not UTF-8 text; is this a CSV file?") from None


def _cell(text: str) -> str:
    # A spreadsheet may quote a cell; the quotes are not part of the value.
    text = text.strip()
    return text[1:-1].strip() if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _is_header(cells: list[str]) -> bool:
    return len(cells) == len(COLUMNS) and not any(_NUMBER.fullmatch(cell) or cell.lower() in _NAN | _INF for cell in cells)


def _rows(text: str):
    """Yields (row number, cells, is the header) of every non-blank line: rows are the file's lines, from 1."""
    first = True
    for row, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            cells = [_cell(cell) for cell in line.split(",")]
            yield row, cells, first and _is_header(cells)
            first = False


def _point(row: int, cells: list[str]) -> tuple[float, float, int]:
    if len(cells) < len(COLUMNS):
        missing = ",".join(COLUMNS[len(cells) :])
        raise ValueError(f"row {row}: {len(cells)} cell{'s' * (len(cells) != 1)}, missing column {missing} (expected x1,x2,label)")
    if len(cells) > len(COLUMNS):
        raise ValueError(f"row {row}: {len(cells)} cells; expected 3: x1,x2,label")
    try:
        return _number(cells[0], "x1"), _number(cells[1], "x2"), _label(cells[2])
    except ValueError as error:
        raise ValueError(f"row {row}: {error}") from None


def parse(raw: bytes, name: str = "") -> OwnPoints:
    """A CSV file's bytes -> its points, scaled (module docstring). Raises ValueError with one line: the problem and its row."""
    points, last, header = [], 0, None
    for row, cells, is_header in _rows(_text(raw)):
        if is_header:
            header = row
            continue
        if len(points) == MAX_ROWS:
            raise ValueError(f"row {row}: more than {MAX_ROWS:,} points; at most {MAX_ROWS:,}")
        points.append(_point(row, cells))
        last = row
    if not points:
        raise ValueError("the file is empty: no rows of points" if header is None else f"row {header} is a header and no points follow it")
    if len(points) < MIN_ROWS:
        raise ValueError(f"only {len(points)} points (to row {last}); at least {MIN_ROWS}: 10 to train and 10 to validate")
    x = np.array([p[:2] for p in points], dtype=np.float64)  # (rows, 2)
    y = np.array([p[2] for p in points], dtype=np.int64)  # (rows,)
    if len(np.unique(y)) < 2:
        raise ValueError(f"every point, to row {last}, is of class {y[0]}; at least two classes are needed")
    low, high = x.min(axis=0), x.max(axis=0)  # (2,) each
    half = (high - low) / 2
    x = np.where(half > 0, (x - (low + high) / 2) / np.where(half > 0, half, 1.0) * SPAN, 0.0)
    return OwnPoints(x.tobytes(), y.tobytes(), int(y.max()) + 1, name[:80])
