"""Sidebar controls -> RunConfig, and the page URL <-> RunConfig. Not here: the page layout (app.py).

Widgets hold raw values; every value goes through config.validate() before it reaches the engine, and an uploaded
file of points through config.read_points.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ..core.config import ACTIVATIONS, LIMITS, OPTIMIZERS, ConfigError, RunConfig, read_points, to_dict, validate
from ..core.data import DATASETS, OWN_NOISE_EFFECT
from ..core.own_data import MAX_BYTES, MAX_ROWS, OWN, split_sizes
from ..core.presets import DEFAULT_PRESET, PRESETS

LEARNING_RATES = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)  # the Playground's ladder
BATCH_SIZES = (1, 2, 4, 8, 10, 16, 32, 64, 128, 256)
WEIGHT_DECAYS = (0.0, 0.00001, 0.0001, 0.001, 0.01, 0.1)
PRESET_KEY = "w_preset"
POINTS_KEY = "own_points"  # the last file of points the gate accepted (OwnPoints), or None
REFUSED_KEY = "own_points_refused"  # the gate's line about the file in the uploader, while it is refused
UPLOAD_KEY = "w_points_file"
POINTS_HELP = (
    f"A CSV of points in the plane: x1,x2,label per line (a header line is optional), labels whole numbers 0 to 9, at "
    f"least two classes, at most {MAX_ROWS:,} rows and {MAX_BYTES >> 20} MB. Each axis is scaled to fit the plot; a "
    f"quarter of the points, shuffled by the seed, validates. A link cannot carry the file."
)


def _key(field: str) -> str:
    return f"w_{field}"


def _ladder(options: tuple, field: str) -> list:
    """A slider's steps plus the value it holds now, so a value from a URL or file is shown, not moved."""
    return sorted({*options, st.session_state[_key(field)]})


# Settings that have exactly one widget holding exactly their value; hidden and p have two widgets each.
ONE_WIDGET = ("dataset", "n_train", "n_val", "noise", "label_noise", "seed", "activation", "dropout", "p_input",
              "optimizer", "lr", "momentum", "batch_size", "weight_decay", "epochs")  # fmt: skip


def widget_values(config: RunConfig) -> dict[str, Any]:
    """The widget state that shows config: session_state key -> value."""
    values = {_key(field): getattr(config, field) for field in ONE_WIDGET}
    values[_key("layers")] = len(config.hidden)
    values[_key("neurons")] = config.hidden[0]
    values[_key("uneven")] = "" if len(set(config.hidden)) == 1 else ",".join(map(str, config.hidden))
    values[_key("p")] = config.p[0]
    values[_key("uneven_p")] = "" if len(set(config.p)) == 1 else ",".join(f"{v:g}" for v in config.p)
    return values


def show(config: RunConfig, preset: str | None = None) -> None:
    """Puts config (and the preset name) into the widgets' state; call before the widgets are drawn."""
    if config.points is not None:
        st.session_state[POINTS_KEY] = config.points
    st.session_state.update(widget_values(config))
    if preset is not None:
        st.session_state[PRESET_KEY] = preset


def _apply_preset() -> None:
    show(PRESETS[st.session_state[PRESET_KEY]].config)


def _raw_from_widgets() -> dict[str, Any]:
    """Widget state -> raw settings for validate()."""
    s = st.session_state
    raw = {field: s[_key(field)] for field in ONE_WIDGET}
    uneven = str(s[_key("uneven")]).strip()
    raw["hidden"] = uneven or ",".join([str(s[_key("neurons")])] * int(s[_key("layers")]))
    raw["p"] = str(s[_key("uneven_p")]).strip() or s[_key("p")]
    if raw["dataset"] == OWN:
        raw["points"] = s.get(POINTS_KEY)
    return raw


def _load_points() -> None:
    """Upload callback (before the widgets): a file the gate accepts becomes the data set; a refused one leaves the data
    as it is and says why. A file taken away leaves its points: the browser takes the old file away before it sends the
    one replacing it, and a refused replacement must find the data as it was (another data set is a pick away)."""
    s = st.session_state
    upload = s.get(UPLOAD_KEY)
    s[REFUSED_KEY] = None
    if upload is None:
        return
    try:
        s[POINTS_KEY] = read_points(upload.getvalue(), upload.name)
    except ConfigError as error:
        s[REFUSED_KEY] = f"{error}; the data is unchanged"
        return
    s[_key("dataset")] = OWN


def _data_widgets(sb) -> None:
    """The data set, your own points and the sizes: the sizes are greyed when the file decides them."""
    s = st.session_state
    points = s.get(POINTS_KEY)
    if s[_key("dataset")] == OWN and points is None:  # no file any more: back to the preset's set
        s[_key("dataset")] = PRESETS[s[PRESET_KEY]].config.dataset
    sb.selectbox(
        "Data set",
        [*DATASETS, *([OWN] if points is not None else [])],
        key=_key("dataset"),
        help="Two classes of points in the plane, handwritten digits (ten classes of 8x8 images), or 'own': your file's points.",
    )
    sb.file_uploader("Your own points (CSV)", type=["csv", "txt"], key=UPLOAD_KEY, on_change=_load_points, help=POINTS_HELP)
    if s.get(REFUSED_KEY):  # under the file it is about, not with the other warnings at the sidebar's foot
        sb.warning(s[REFUSED_KEY])
    own = s[_key("dataset")] == OWN
    if own:
        n_train, n_val = split_sizes(points.rows)
        sb.caption(
            f"own: {points.name or 'your file'}, {points.rows:,} points, {points.classes} classes: {n_train:,} to train, {n_val:,} to validate."
        )
    file_decides = " Greyed: your file decides (a quarter of its points validates)." if own else ""
    sb.slider(
        "Training points",
        10,
        2000,
        step=1,
        key=_key("n_train"),
        disabled=own,
        help="Fewer points are easier to memorize: overfitting." + file_decides,
    )
    sb.number_input(
        "Validation points",
        10,
        5000,
        step=50,
        key=_key("n_val"),
        disabled=own,
        help="Drawn from the same distribution; never trained on." + file_decides,
    )
    spec = DATASETS.get(s[_key("dataset")])
    noise_help = spec.noise_effect if spec is not None else OWN_NOISE_EFFECT
    sb.slider("Noise", 0.0, 0.5, step=0.01, key=_key("noise"), disabled=noise_help.startswith("Does not apply"), help=noise_help)


DROPOUT_HELP = "Switch dropout off and on during training: the weights are kept."
P_HELP = (
    "p is the DROP probability of each hidden neuron (PyTorch's convention); the dropout paper writes the keep "
    "probability 1 − p. Changing it during training keeps the weights."
)


def _dropout_pair(switch_box, p_box, key, on_change=None) -> None:
    """The lesson's two controls, the "Dropout" toggle and the "Dropout p" slider, drawn into two containers under key(field)."""
    uneven_p = bool(str(st.session_state.get(_key("uneven_p"), "")).strip())
    switch_box.toggle("Dropout", key=key("dropout"), help=DROPOUT_HELP, on_change=on_change, args=("dropout",) if on_change else None)
    p_box.slider(
        "Dropout p",
        0.0,
        0.95,
        step=0.05,
        key=key("p"),
        disabled=uneven_p,
        on_change=on_change,
        args=("p",) if on_change else None,
        help=P_HELP + (" Greyed: 'Uneven p' overrides it." if uneven_p else ""),
    )


def _copy_key(field: str) -> str:
    return f"copy_{field}"


def _from_copy(field: str) -> None:
    """A change of the page's copy goes to the sidebar's widget, whose value alone the gate reads."""
    st.session_state[_key(field)] = st.session_state[_copy_key(field)]


def dropout_copy(switch_box, p_box) -> None:
    """Presentation mode's Dropout toggle and Dropout p slider, in the page while the sidebar is hidden: a copy of the
    sidebar's pair (drawn first, by controls()) that shows its values and writes a change back to it, so there is one
    source of truth and one gate."""
    for field in ("dropout", "p"):
        st.session_state[_copy_key(field)] = st.session_state[_key(field)]
    _dropout_pair(switch_box, p_box, _copy_key, on_change=_from_copy)


def controls() -> tuple[RunConfig, list[str]]:
    """Draws the sidebar and returns the validated config with the warnings of anything refused or clamped."""
    sb = st.sidebar
    sb.selectbox(
        "Preset",
        list(PRESETS),
        key=PRESET_KEY,
        on_change=_apply_preset,
        help="A ready-made lesson. Picking one sets every control below and restarts training.",
    )
    sb.caption(PRESETS[st.session_state[PRESET_KEY]].lesson)

    # The lesson's controls first: a teacher finds them without scrolling the sidebar.
    sb.subheader("Dropout")
    _dropout_pair(sb, sb, _key)
    sb.text_input(
        "Uneven p (optional)",
        key=_key("uneven_p"),
        placeholder="e.g. 0.5,0.2",
        help="Drop probability of each hidden layer, comma-separated; overrides the Dropout p slider. Leave empty for one p.",
    )
    sb.slider(
        "Input dropout p",
        0.0,
        0.95,
        step=0.05,
        key=_key("p_input"),
        help="Drop probability of each input (a point's two coordinates, or a digit's 64 pixels).",
    )

    sb.subheader("Data")
    _data_widgets(sb)
    sb.slider(
        "Label noise", 0.0, 0.5, step=0.01, key=_key("label_noise"), help="Share of labels flipped: wrong answers a big network memorizes."
    )
    sb.number_input("Seed", 0, 2**31 - 1, step=1, key=_key("seed"), help="Same seed, same data, weights, batches and masks.")

    sb.subheader("Network")
    # Greyed while the uneven field overrides them (its value from the last rerun, already in session state).
    uneven_layers = bool(str(st.session_state.get(_key("uneven"), "")).strip())
    overridden = " Greyed: 'Uneven layers' overrides it." if uneven_layers else ""
    sb.slider(
        "Hidden layers", 1, 6, key=_key("layers"), disabled=uneven_layers, help="Changing the architecture restarts training." + overridden
    )
    sb.slider(
        "Neurons per layer",
        1,
        256,
        key=_key("neurons"),
        disabled=uneven_layers,
        help="Above 32 the graph draws 32 and says how many are hidden." + overridden,
    )
    sb.text_input(
        "Uneven layers (optional)",
        key=_key("uneven"),
        placeholder="e.g. 64,32,8",
        help="Neurons of each hidden layer, comma-separated; overrides the two sliders above. Leave empty for equal layers.",
    )
    sb.selectbox("Activation", ACTIVATIONS, key=_key("activation"), help="The non-linearity f in y = f(w·x + b).")

    sb.subheader("Training")
    sb.selectbox("Optimizer", OPTIMIZERS, key=_key("optimizer"), help="Adam, or SGD with momentum.")
    sb.select_slider(
        "Learning rate", _ladder(LEARNING_RATES, "lr"), key=_key("lr"), help="Too high and training diverges: the page says so."
    )
    # Always drawn (disabled for Adam): Streamlit forgets the state of a widget that is not drawn.
    sgd = st.session_state[_key("optimizer")] == "sgd"
    sb.slider("Momentum", 0.0, 0.99, step=0.01, key=_key("momentum"), disabled=not sgd, help="SGD only.")
    sb.select_slider(
        "Batch size", _ladder(BATCH_SIZES, "batch_size"), key=_key("batch_size"), help="Examples per step; each gets its own dropout mask."
    )
    sb.select_slider(
        "Weight decay",
        _ladder(WEIGHT_DECAYS, "weight_decay"),
        key=_key("weight_decay"),
        help="L2 penalty on every weight, another regularizer.",
    )
    sb.number_input("Epochs", 1, 5000, step=50, key=_key("epochs"), help="Training stops here; raising it continues the run.")

    base = PRESETS[st.session_state[PRESET_KEY]].config
    return validate(_raw_from_widgets(), base=base)


# --- URL -------------------------------------------------------------------------------------
def config_from_url(params) -> tuple[RunConfig, str, list[str]]:
    """st.query_params -> (config, preset name, warnings). Settings absent from the URL come from the preset.

    A setting given twice (?lr=0.1&lr=0.2) is refused, not guessed, with one warning however often it repeats.
    """
    raw = {key: params.get_all(key) for key in params}
    warnings: list[str] = []
    preset = DEFAULT_PRESET
    if "preset" in raw:
        wanted = raw.pop("preset")
        if len(wanted) > 1:
            warnings.append(f"preset: given {len(wanted)} times in the URL; ignored (give each setting once)")
        elif wanted[0] in PRESETS:
            preset = wanted[0]
        else:
            warnings.append(f"preset: {wanted[0][:40]!r} ignored (unknown; choose one of {', '.join(PRESETS)})")
    values = {}
    for key, value in raw.items():
        if len(value) > 1 and key in LIMITS:
            warnings.append(f"{key}: given {len(value)} times in the URL; ignored (give each setting once)")
        else:
            values[key] = value[0]  # an unknown key, however often, joins validate()'s one warning for them all
    config, more = validate(values, base=PRESETS[preset].config)
    return config, preset, warnings + more


def link_note(config: RunConfig) -> str | None:
    """What a link to config leaves out, said beside the link: a file of points (the URL says dataset=own only)."""
    if config.points is None:
        return None
    return (
        f"A link cannot carry your file of points ({config.points.name or 'your file'}): whoever opens it is asked to "
        "upload the file, and meanwhile trains on the preset's data set. The same holds for the setup (JSON)."
    )


def url_from_config(config: RunConfig, preset: str) -> dict[str, str]:
    """The query parameters that reproduce config: the preset plus every setting that differs from it."""
    base = to_dict(PRESETS[preset].config)
    params = {"preset": preset}
    for name, value in to_dict(config).items():
        if value != base[name]:
            params[name] = (
                ",".join(f"{v:g}" for v in value)
                if isinstance(value, list)
                else str(value).lower()
                if isinstance(value, bool)
                else f"{value}"
            )
    return params
