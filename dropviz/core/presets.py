"""PRESETS: named scenarios for a lesson, each a RunConfig. A new one is one entry here.

The first is the default and must make the product's point (tests/core/test_presets.py checks it over 5 seeds). Each lesson
says only what its run shows: claims.py measures every lesson's claim (bench/claims.py over 5 seeds).
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import RunConfig


@dataclass(frozen=True)
class Preset:
    config: RunConfig
    lesson: str  # one sentence: what the class should see


PRESETS: dict[str, Preset] = {
    "overfitting demo": Preset(
        RunConfig(),  # circle, 100 points, 20% flipped labels, 2 x 128 ReLU, Adam 0.01, p 0.5
        "The twin memorizes the flipped labels and its validation loss climbs far above its best; dropout's climbs too, "
        "but less than half as much over the 300 epochs.",
    ),
    "too much dropout": Preset(
        RunConfig(dataset="spiral", noise=0.0, label_noise=0.0, n_train=200, hidden=(16, 16), p=(0.9, 0.9)),
        "With p = 0.9 a 16-neuron layer keeps 1 or 2 units: the dropout run stays at chance on the spiral, the twin learns it.",
    ),
    "TensorFlow Playground classic": Preset(
        RunConfig(
            dataset="spiral",
            n_train=250,  # the Playground's 500 points at 50% training
            n_val=250,
            noise=0.0,
            label_noise=0.0,
            hidden=(8, 8),
            activation="tanh",
            p=(0.2, 0.2),
            optimizer="sgd",
            lr=0.03,
            momentum=0.0,
            batch_size=10,
            epochs=1000,
        ),
        "The Playground's own spiral, with dropout added: in 1000 epochs a small tanh network with p = 0.2 gets only part way "
        "around the arms (about 60% of validation points right); its twin usually gets about as far.",
    ),
    "handwritten digits": Preset(
        RunConfig(
            dataset="digits",  # scikit-learn's 8x8 digits: 64 pixels in, ten classes out
            n_train=100,  # ten of each digit, about: few enough to memorize
            n_val=500,
            noise=0.0,
            label_noise=0.2,  # wrong labels the twin memorizes, as in the overfitting demo
            hidden=(64, 64),
            p=(0.5, 0.5),
            p_input=0.2,  # the dropout paper's input dropout: a fifth of the pixels off each step
        ),
        "The twin learns every training digit, wrong labels included, and its validation loss ends more than three "
        "times its best; with dropout the validation loss ends at less than half the twin's and more validation digits "
        "are right (seeds 0 to 4).",
    ),
}
DEFAULT_PRESET = "overfitting demo"

# What the network graph's neuron maps show; claims.neuron_map_claims measures each sentence's claim.
NEURON_MAPS_LESSON = (
    "Each square in the graph is what that neuron computes over the plane, on one scale shared by both runs: "
    "blue where it is positive, vermillion where negative, white at zero. A grey, crossed square is a neuron "
    "dropout switched off for this step; the others had to do without it. On this lesson's preset at the end "
    "of training (seeds 0 to 4), the dropout run's first-layer neurons are on over a smaller part of the plane "
    "than the twin's, and their maps are fainter: weaker activations. Pick a neuron below to see it large, "
    "beside the twin's neuron that started from the same weights."
)
