"""Frozen records that leave the engine: History, Snapshot, StepTrace. NumPy only, no tensors.

Everything downstream of the Trainer (figures, page, CLI, exports) reads these and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

RUN_NAMES = ("dropout", "twin")  # model k of the stacked pair: 0 trains with dropout, 1 never does


def frozen(array) -> np.ndarray:
    """A read-only copy, so a record cannot be changed behind its reader's back."""
    out = np.array(array)
    out.flags.writeable = False
    return out


@dataclass(frozen=True)
class RunHistory:
    """Per-epoch curves of one run. Metrics are measured in evaluation mode (no masks)."""

    train_loss: np.ndarray  # (E,)
    val_loss: np.ndarray  # (E,)
    train_acc: np.ndarray  # (E,) in [0, 1]
    val_acc: np.ndarray  # (E,)
    optimized_loss: np.ndarray  # (E,) mean mini-batch loss with the masks that trained
    status: str  # "ok" or "diverged at epoch N"

    @property
    def epochs(self) -> int:
        return len(self.val_loss)

    @property
    def best_epoch(self) -> int | None:
        """1-based epoch of the lowest validation loss, None before the first epoch."""
        finite = np.where(np.isfinite(self.val_loss), self.val_loss, np.inf)
        return int(np.argmin(finite)) + 1 if len(finite) and np.isfinite(finite).any() else None

    def to_json(self) -> dict:
        lists = {
            name: [float(v) for v in getattr(self, name)] for name in ("train_loss", "val_loss", "train_acc", "val_acc", "optimized_loss")
        }
        return {**lists, "status": self.status}


@dataclass(frozen=True)
class Event:
    """A change made during training without a reset (dropout toggled, p moved)."""

    epoch: float  # epochs completed when it took effect, fractional mid-epoch (step / steps per epoch)
    text: str  # e.g. "dropout off", "p 0.5 -> 0.3"


@dataclass(frozen=True)
class History:
    runs: dict[str, RunHistory]  # keyed by RUN_NAMES
    events: tuple[Event, ...]
    classes: int = 2  # of the data set: the accuracies' chance level is 1 / classes


@dataclass(frozen=True)
class LayerParams:
    """One linear layer of one run, stored as torch.nn.Linear stores it."""

    weight: np.ndarray  # (out, in) float32
    bias: np.ndarray  # (out,) float32


@dataclass(frozen=True)
class Snapshot:
    """What the page shows at one moment: weights, this step's masks, boundaries, curves."""

    epoch: int  # completed epochs
    step: int  # optimizer steps taken in all
    epoch_progress: float  # epochs including the current partial one
    sizes: tuple[int, ...]  # (inputs, hidden..., classes): units per column of the network graph
    params: dict[str, tuple[LayerParams, ...]]  # keyed by run name, L + 1 layers
    activation: str  # of the hidden layers: with sizes and params, the whole network
    masks: tuple[np.ndarray, ...]  # keep masks of the last step for the tracked example: (inputs,), (h_1,), ... bool
    tracked_index: int | None  # index in the training set of the tracked example, None before the first step
    p_effective: tuple[float, ...]  # drop probability per hidden layer at the last step (0 when off)
    p_input_effective: float
    grid_axis: np.ndarray  # (G,) coordinates of the boundary grid along x and y
    grid_proba: dict[str, np.ndarray]  # by run: (G, G) float32 P(class 1), or (G, G, C) per class; rows = y, eval mode; {} off the plane
    history: History
    finished: bool  # all epochs done or both runs diverged
    # Keyed by run name, one array per column (U_c, G, G) float32, rows = y, for the first units of each column: the
    # inputs, the hidden activations over neuron_scale (so in [-1, 1]), the output's P(class 1). Empty unless asked for.
    neuron_maps: dict[str, tuple[np.ndarray, ...]] = field(default_factory=dict)
    neuron_scale: float = 1.0  # the |activation| that a hidden neuron's map shows in full colour, shared by both runs
    # Keyed by run name: (n_val,) int each validation example's predicted class, evaluation mode, as of the last epoch's
    # end (the curves' last point); empty before the first epoch ends. What the digits' strip and confusion matrix show.
    val_predicted: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class StepTrace:
    """Everything about S steps of the dropout run, enough to recompute each loss in plain NumPy."""

    x: np.ndarray  # (S, batch, inputs)
    y: np.ndarray  # (S, batch) class indices
    batch_index: np.ndarray  # (S, batch) indices into the training set
    masks: tuple[np.ndarray, ...]  # input mask (S, batch, inputs), then one (S, batch, h_l) per hidden layer, bool
    weights: tuple[np.ndarray, ...]  # (S, out, in) per layer, before the step's update
    biases: tuple[np.ndarray, ...]  # (S, out) per layer
    loss: np.ndarray  # (S,) mean cross-entropy that was optimized
    activation: str
    p: tuple[float, ...]  # per hidden layer
    p_input: float
    classes: int = 2  # outputs of the network: the last weights are (S, classes, h_L)
