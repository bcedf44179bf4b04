"""The dropviz page: layout, session state and the live view. Thin: controls are in dropviz/web/controls.py, pictures in dropviz/figures/.

Run it with `make run` (server.py serves it). Each browser session owns one LiveRun in st.session_state: its run
trains in a worker process, and while it plays the page fetches frames from dropviz/web/frame_route.py a few times a second.
"""

from __future__ import annotations

import copy
import operator
from pathlib import Path
from urllib.parse import urlencode

import streamlit as st
from streamlit.runtime import get_instance
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dropviz.core.script import pytorch_script
from dropviz.experiments.registry import EXPERIMENTS, Inputs
from dropviz.figures.theme import for_projector
from dropviz.web import controls, exports, keys, neuron_view, plotly_js
from dropviz.web.frame_route import frame_source
from dropviz.web.frames import PLOT_CONFIG, Frame
from dropviz.web.jobs import ExperimentJob
from dropviz.web.live import POOL, LiveRun
from dropviz.web.live_chart import clicked_neuron, live_view

SPEEDS = {3: 3.0, 10: 10.0, 30: 30.0, 100: 100.0, 300: 300.0, "max": None}  # the speed slider: epochs per second
# The ordinary page: a smaller title and top margin, so that the network and the curves fit a laptop's screen.
PAGE_CSS = """<style>
.stMainBlockContainer {padding-top: 3.5rem;}
h1 {font-size: 2rem !important; padding-top: 0 !important;}
</style>"""
# Presentation mode: no sidebar or header, a small title, larger type, for a projector at the back of a classroom.
PRESENTATION_CSS = """<style>
section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header[data-testid="stHeader"] {display: none;}
.stMainBlockContainer {max-width: 100%; padding: 0.5rem 2rem 2rem 2rem;}
.stMainBlockContainer [data-testid="stVerticalBlock"] {gap: 0.4rem;}
h1 {font-size: 1.4rem !important; padding: 0 !important;}
.dropviz-status, .dropviz-caption, .stMainBlockContainer button p {font-size: 1.25rem; line-height: 1.4;}
</style>"""

EXPLANATION = r"""
**Standard network.** Each neuron of layer $l+1$ takes the outputs $y^{(l)}$ of the layer before:
$z^{(l+1)}_i = w^{(l+1)}_i \cdot y^{(l)} + b^{(l+1)}_i$ and $y^{(l+1)}_i = f(z^{(l+1)}_i)$.

**With dropout** (training only). A fresh coin is tossed for every neuron of every example at every step:
$r^{(l)}_j \sim \mathrm{Bernoulli}(1-p)$, $\tilde y^{(l)} = r^{(l)} * y^{(l)} / (1-p)$, and
$z^{(l+1)}_i = w^{(l+1)}_i \cdot \tilde y^{(l)} + b^{(l+1)}_i$. A dropped neuron ($r=0$) sends nothing; the kept
ones are scaled up by $1/(1-p)$ so that each neuron's expected output is unchanged ("inverted dropout", as
`torch.nn.Dropout` does it).

**At test time** nothing is dropped and nothing is scaled: the full network is used. Every curve and both
decision boundaries on this page are measured this way (evaluation mode). The faint dotted curve is the
loss that was actually optimized, with the masks.

**Why p here and 1 − p in the paper.** Here, as in PyTorch, *p is the probability of dropping* a neuron.
Srivastava et al. (2014) write *p for the probability of keeping* it and scale the weights by $p$ at test time
instead; both give the same predictions.

**What to watch.** The graph shows the neurons switched off for one training example (ringed in black and yellow on the
boundary plots) in the step just taken. The twin is the same network from the same start, on the same
batches, without dropout: when it memorizes the flipped labels, its validation loss climbs away from its
training loss (the shaded gap) while the dropout run's stays close.
"""


def _state() -> None:
    """First run of a session: settings from the URL into the widgets."""
    if "run" not in st.session_state:
        config, preset, warnings = controls.config_from_url(st.query_params)
        controls.show(config, preset)
        st.session_state.url_warnings = warnings
        st.session_state.notice = None


def _sync(config) -> LiveRun:
    """Makes the session's run match config: live settings in place, anything else restarts."""
    run: LiveRun | None = st.session_state.get("run")
    if run is None:
        run = st.session_state.run = LiveRun(config, page_open=_page_open_check(), client=_client())
    elif not run.update(config):
        run.reset(config)
        st.session_state.notice = "Data, network or optimizer changed: training restarted from epoch 0."
    return run


def _page_open_check():
    """A check the page watcher (dropviz/web/live.py) can call: is this browser session still connected?"""
    runtime, context = get_instance(), get_script_run_ctx()
    if context is None:  # not under a Streamlit server (AppTest): LiveRun's own idle timeout applies
        return None
    session_id = context.session_id
    return lambda: runtime.is_active_session(session_id)


def _client() -> str | None:
    """The computer this page is on, for the cap on runs per computer: the address a proxy on this machine saw (the last
    X-Forwarded-For entry, which the client cannot forge), else the connection's own; None when neither says."""
    address = st.context.ip_address
    if address in (None, "127.0.0.1", "::1"):
        forwarded = (st.context.headers.get("X-Forwarded-For") or "").split(",")[-1].strip()
        return forwarded or None
    return address


def _play(playing: bool) -> None:
    # Sets rather than toggles: a click Streamlit delivers twice (a rerun interrupted mid-tick) is still one click.
    run: LiveRun = st.session_state.run
    st.session_state.notice = run.play() if playing else run.pause()  # a refused Play says which cap applied


def _step() -> None:
    st.session_state.run.step()


def _reset() -> None:
    st.session_state.run.reset()
    st.session_state.notice = None


def live_frame(run: LiveRun) -> Frame:
    """The run as it is now, made in its worker; while it plays, the page fetches the next frames itself
    (dropviz/web/frame_route.py). When the run stops by itself (its last epoch, a divergence, a lost worker), the page's
    last fetched frame says so and the view asks for this page again, so that the button says Play.
    """
    presenting = bool(st.session_state.get("presenting"))
    return run.frame(presenting, frame_source(run.token, presenting))


def _pick_neuron() -> None:
    """A neuron clicked in the live graph: shown up close."""
    neuron_view.pick(clicked_neuron(), (2, *st.session_state.run.config.hidden, 2))


def _noop() -> None:
    """The live view's "stopped" trigger needs a callback; the page's rerun is all it asks for."""


def _load_setup() -> None:
    """Upload callback: a setup file goes through the gate into the widgets (callbacks run before them)."""
    upload = st.session_state.get("upload")
    if upload is None:
        return
    config, warnings = exports.read_setup(upload.getvalue(), base=st.session_state.run.config)
    st.session_state.url_warnings = warnings
    if config is not None:
        controls.show(config)


def _network_file(run: LiveRun) -> bytes:
    from dropviz.core.model import export_network  # torch takes seconds to import: only when a file is asked for

    layers = run.snapshot().params["dropout"]
    return export_network([lp.weight for lp in layers], [lp.bias for lp in layers], run.config.activation, run.config.p, run.config.p_input)


SCRIPT_NAME = "dropviz_train.py"  # the "PyTorch script" download


def save_and_share(run: LiveRun, preset: str) -> None:
    """Link, downloads and upload of a setup; the trained network as a PyTorch file, the setup as a PyTorch script."""
    query = urlencode(controls.url_from_config(run.config, preset))
    st.markdown("**Copy link to this setup** (point at the link: a copy button appears at its right):")
    if note := controls.link_note(run.config):
        st.caption(note)
    st.code(f"{st.context.url or ''}?{query}", language=None)
    left, middle, right = st.columns(3)
    # Deferred: each file is made from the run as it is when the button is pressed.
    left.download_button(
        "Curves (CSV)",
        lambda: exports.curves_csv(run.snapshot().history),
        "dropviz-curves.csv",
        "text/csv",
        on_click="ignore",
        use_container_width=True,
    )
    middle.download_button(
        "Setup (JSON)",
        lambda: exports.setup_json(run.config, preset),
        "dropviz-setup.json",
        "application/json",
        on_click="ignore",
        use_container_width=True,
    )
    right.download_button(
        "Trained dropout network (PyTorch)",
        lambda: _network_file(run),
        "dropviz-network.pt",
        "application/octet-stream",
        on_click="ignore",
        use_container_width=True,
        help="torch.load(file, weights_only=True); its state_dict loads into the nn.Sequential in its 'architecture'.",
    )
    st.download_button(
        "PyTorch script",
        lambda: pytorch_script(run.config, run.data, SCRIPT_NAME, origin="the page's current setup", embed=True),
        SCRIPT_NAME,
        "text/x-python",
        on_click="ignore",
        use_container_width=True,
        help=f"This setup, trained the ordinary PyTorch way on the same points: `python {SCRIPT_NAME}` "
        "(add `--twin` to train it without dropout too). Needs only torch.",
    )
    st.file_uploader(
        "Load a setup (JSON)",
        type=["json"],
        key="upload",
        on_change=_load_setup,
        help="A file saved with 'Setup (JSON)'; every value is checked like any other input.",
    )


def _start_experiment(name: str) -> None:
    run: LiveRun = st.session_state.run
    inputs = Inputs(run.config, run.snapshot(), run.data, passes=st.session_state.get("mc_passes", 100))
    st.session_state.job = ExperimentJob(name, inputs)
    st.session_state.job_name = name
    st.session_state.job_ticking = False  # the view must rerun as a whole page to start its progress ticks


def experiments_view() -> None:
    """Pick an experiment, run it in the background with a progress bar, see and download its results."""
    name = st.selectbox("Experiment", list(EXPERIMENTS), format_func=lambda n: EXPERIMENTS[n].title, key="experiment")
    experiment = EXPERIMENTS[name]
    st.markdown(experiment.text)
    run: LiveRun = st.session_state.run
    if (why := experiment.refuses(run.config)) is not None:
        st.info(f"Not for this data: {why} The p-sweep, the training-set size and inside the network work on every data set.")
        return
    if name == "Monte Carlo dropout":
        st.slider("Monte Carlo passes", 1, 200, 100, key="mc_passes", help="Stochastic forward passes with dropout on, T.")
    if not experiment.trains and run.with_trainer(operator.attrgetter("epoch")) == 0:  # no snapshot per tick
        st.info("This experiment looks inside the trained pair: train for a few epochs on the Live training tab first.")
    job: ExperimentJob | None = st.session_state.get("job")
    running = job is not None and job.running
    if running != st.session_state.get("job_ticking", False):
        st.session_state.job_ticking = running
        st.rerun()  # the whole page: the view ticks (0.5 s) only while a job runs
    left, right, _ = st.columns([1, 1, 3])
    left.button(
        "Run experiment",
        type="primary",
        disabled=running,
        on_click=_start_experiment,
        args=(name,),
        use_container_width=True,
        help="Uses the current setup; the live run is not disturbed.",
    )
    if running:
        right.button("Cancel", on_click=job.cancel, use_container_width=True)
        st.progress(job.fraction, text=f"{EXPERIMENTS[st.session_state.job_name].title}: {job.fraction:.0%} · {job.elapsed:.0f} s")
        return
    if job is None or st.session_state.get("job_name") != name:
        return
    if job.cancelled:
        st.warning("Cancelled.")
    elif job.error:
        st.error(f"The experiment stopped: {job.error}")
    elif job.result is not None:
        st.caption(f"Finished in {job.seconds:.1f} s.")
        for number, figure in enumerate(job.result.figures):  # made in the job's process (registry.Shown)
            shown = for_projector(copy.deepcopy(figure)) if st.session_state.get("presenting") else figure
            st.plotly_chart(shown, key=f"experiment_{number}", config=PLOT_CONFIG)
        st.download_button("Results (CSV)", job.result.csv, f"dropviz-{name.replace(' ', '-')}.csv", "text/csv", on_click="ignore")


st.set_page_config(page_title="dropviz: dropout, live", page_icon="🎲", layout="wide")
plotly_js.serve(Path(__file__).resolve().parent)
st.html(plotly_js.PRELOAD + keys.SCRIPT, unsafe_allow_javascript=True)  # one element: each takes a gap of the page
POOL.start()  # once per server in effect: the training workers load while this page is made
_state()
config, warnings = controls.controls()
for warning in st.session_state.url_warnings + warnings:
    st.sidebar.warning(warning)
run = _sync(config)
st.query_params.from_dict(controls.url_from_config(run.config, st.session_state[controls.PRESET_KEY]))

st.title("dropviz: watch dropout at work")
live_tab, experiments_tab = st.tabs(["Live training", "Experiments"])
with live_tab:
    frame = live_frame(run)
    playing, finished = frame.playing, frame.finished  # the buttons say what the frame below shows, never an older state
    presenting = bool(st.session_state.get("presenting"))
    if presenting:  # the sidebar is hidden: the lesson's Dropout switch and p join the row
        # Widths for the labels at a 1024 px projector: the buttons' words are short, the switches' are not.
        play, step, reset, switch, chance, pace, present = st.columns([0.9, 0.9, 0.9, 1.2, 1.5, 1.5, 1.8], vertical_alignment="center")
        controls.dropout_copy(switch, chance)
    else:
        play, step, reset, pace, present = st.columns([1, 1, 1, 2.2, 1.5], vertical_alignment="center")
    play.button(
        "Pause" if playing else "Play",
        on_click=_play,
        args=(not playing,),
        type="primary",
        use_container_width=True,
        disabled=finished,
        help="Train and watch live; Pause keeps everything as it is.",
    )
    step.button(
        "Step", on_click=_step, use_container_width=True, disabled=finished, help="One mini-batch: watch the switched-off neurons change."
    )
    reset.button("Reset", on_click=_reset, use_container_width=True, help="Back to epoch 0 and the same initial weights (same seed).")
    present.toggle("Presentation mode", key="presenting", help="Hides the controls and enlarges text and figures for a projector.")
    speed = pace.select_slider(
        "Speed (epochs per second)",
        list(SPEEDS),
        value=100,
        key="speed",
        help="How fast Play trains: slow enough for a class to watch, or as fast as the machine goes.",
    )
    run.set_speed(SPEEDS[speed])
    st.markdown(PRESENTATION_CSS if presenting else PAGE_CSS, unsafe_allow_html=True)
    if run.lost:
        st.warning(run.lost)
    if st.session_state.notice:
        st.info(st.session_state.notice)
    live_view(frame.view, on_stopped=_noop, on_neuron=_pick_neuron)
    run.said_lost()  # spent once the page has had it whole for a while: a run cut short, or rerun at once, shows it again
    # Below the view, which then fits the screen. Filled only when open: their math and code widgets would slow the
    # browser's first page for text few open.
    seeing = st.expander("What am I seeing?", key="seeing", on_change="rerun")
    if seeing.open:
        seeing.markdown(EXPLANATION)
    share = st.expander("Save and share", key="share", on_change="rerun")
    if share.open:
        with share:
            save_and_share(run, st.session_state[controls.PRESET_KEY])
    closeup = st.expander("A neuron up close", key=neuron_view.OPEN_KEY, on_change="rerun")
    if closeup.open:  # filled only when open: it asks the worker for the run's weights
        with closeup:
            neuron_view.neuron_panel(run.snapshot(), presenting)
with experiments_tab:
    job: ExperimentJob | None = st.session_state.get("job")
    st.fragment(run_every=0.5 if job is not None and job.running else None)(experiments_view)()
