"""The dropviz page: layout, session state and the live loop. Thin: controls are in dropviz/ui.py, pictures in dropviz/figures.py.

Run it with `make run`. Each browser session owns one LiveRun in st.session_state: its run trains in a
worker process while the browser paints, and a fragment tick asks it for a frame a few times a second.
"""

from __future__ import annotations

import operator
import os
import time
from pathlib import Path
from urllib.parse import urlencode

import streamlit as st
from streamlit.runtime import get_instance
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dropviz import exports, ui
from dropviz.experiments import EXPERIMENTS, Inputs
from dropviz.frames import PLOT_CONFIG
from dropviz.live import POOL, ExperimentJob, LiveRun
from dropviz.live_chart import live_view, preload_plotly, serve_plotly_js

# Seconds between frames while playing: the browser asks for a frame every tick. With the live charts changing
# in place, headless Chromium here paints a median of 6.8 frames a second (bench/ui.py).
TICK = 0.1
# A busy server (a class sharing it) makes a frame slower than TICK; the browser asks for the next one anyway
# and Streamlit drops the frame in progress, or the finished one not yet sent, for it. Each session's tick
# therefore follows how long its frames take (_pace), up to MAX_TICK.
MAX_TICK = 4.0
TICK_MARGIN = 1.25  # a tick at least this many times a frame's making
# Frames per second the whole server sends, shared by the sessions that play: about what it can make and relay.
# The workers make frames on every core; this process relays them, a script per frame (~14 ms of its one
# interpreter, so about 70/s at most on any machine). bench/load.py on 2 cores measured 25-35 in all at N=30, and
# asking for more only got frames cut short: at 60, N=30 got 6 epochs/s and 1.0 frames/s each and N=60 froze (no
# frame in 12 s); at 30, N=10 got 19.6 epochs/s and 2.6 frames/s, N=30 10.4 and 0.92, N=60 4.7 and 0.42.
# 15 per core up to 60 is that measure, scaled (not measured on more cores).
SERVER_FRAMES = min(15.0 * (os.cpu_count() or 1), 60.0)
SPEEDS = {3: 3.0, 10: 10.0, 30: 30.0, 100: 100.0, 300: 300.0, "max": None}  # the speed slider: epochs per second
# Presentation mode: no sidebar, larger type, for a projector at the back of a classroom.
PRESENTATION_CSS = """<style>
section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] {display: none;}
.stMainBlockContainer {max-width: 100%; padding-left: 2rem; padding-right: 2rem;}
[data-testid="stMarkdownContainer"] p, .dropviz-status, .dropviz-caption {font-size: 1.35rem;}
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

**What to watch.** The graph shows the neurons switched off for one training example (circled on the
boundary plots) in the step just taken. The twin is the same network from the same start, on the same
batches, without dropout: when it memorizes the flipped labels, its validation loss climbs away from its
training loss (the shaded gap) while the dropout run's stays close.
"""


def _state() -> None:
    """First run of a session: settings from the URL into the widgets."""
    if "run" not in st.session_state:
        config, preset, warnings = ui.config_from_url(st.query_params)
        ui.show(config, preset)
        st.session_state.url_warnings = warnings
        st.session_state.notice = None


def _sync(config) -> LiveRun:
    """Makes the session's run match config: live settings in place, anything else restarts."""
    run: LiveRun | None = st.session_state.get("run")
    if run is None:
        run = st.session_state.run = LiveRun(config, page_open=_page_open_check())
    elif not run.update(config):
        run.reset(config)
        st.session_state.notice = "Data, network or optimizer changed: training restarted from epoch 0."
    return run


def _page_open_check():
    """A check the page watcher (dropviz/live.py) can call: is this browser session still connected?"""
    runtime, context = get_instance(), get_script_run_ctx()
    if context is None:  # not under a Streamlit server (AppTest): LiveRun's own idle timeout applies
        return None
    session_id = context.session_id
    return lambda: runtime.is_active_session(session_id)


def _play(playing: bool) -> None:
    # Sets rather than toggles: a click Streamlit delivers twice (a rerun interrupted mid-tick) is still one click.
    run: LiveRun = st.session_state.run
    if playing:
        run.play()
    else:
        run.pause()
    st.session_state.notice = None


def _step() -> None:
    st.session_state.run.step()


def _reset() -> None:
    st.session_state.run.reset()
    st.session_state.notice = None


def _pace(began: float | None) -> None:
    """Adapts this session's tick to how long its frames take; re-registers the tick when it moved a lot.

    began: when the frame now ending started, or None when a frame starts (and the last one never ended).
    The browser asks for a frame every tick whether or not the last one is done, and when a new run of the
    fragment starts before the last run's messages have left the server, Streamlit drops them: a frame
    must take well under a tick (bench/load.py counted 61 of 80 frames dropped at a 0.1 s tick).
    """
    ss = st.session_state
    tick = ss.setdefault("tick", TICK)
    took = None if began is None else time.monotonic() - began
    if took is None:
        tick = min(tick * 1.5, MAX_TICK)  # the previous frame was cut short by this one
    elif took > tick / TICK_MARGIN:
        tick = min(took * TICK_MARGIN, MAX_TICK)
    elif took < tick / 4:
        tick = max(tick * 0.9, TICK)
    tick = min(max(tick, LiveRun.playing_count() / SERVER_FRAMES), MAX_TICK)  # a class shares the server's frames
    ss.tick = tick
    if not 0.7 < tick / ss.get("registered_tick", TICK) < 1.4:
        st.rerun()  # the whole page: run_every is set where the fragment is registered


# A frame made by a run that was cut short before it could send it is sent by the next run, if it is this young.
FRAME_SHELF_LIFE = 1.0


def live() -> None:
    """Draws the run as it is now; the run trains in its worker meanwhile.

    A run of this fragment is cut short when the browser asks for the next one before it ends (a busy
    server). The frame is therefore made first and kept in the session; a run cut short leaves it for the
    next run, which sends it at once instead of making another that could be cut short in turn.
    """
    ss = st.session_state
    run: LiveRun = ss.run
    if ss.get("frame_open") and ss.get("was_playing"):
        ss.frame_open = False
        _pace(None)
    began = time.monotonic()
    ss.frame_open = True
    made, frame = ss.get("unsent_frame") or (None, None)
    if frame is None or began - made > FRAME_SHELF_LIFE:
        frame = run.frame(bool(ss.get("presenting")))
        ss.unsent_frame = (time.monotonic(), frame)
    if ss.get("was_playing") and not frame.playing:
        ss.was_playing = False
        ss.unsent_frame = None
        st.rerun()  # finished or stopped: the whole page, so the tick stops and the button says Play
    ss.was_playing = frame.playing
    live_view(frame.view)
    ss.unsent_frame = None
    ss.frame_open = False
    if frame.playing:
        _pace(began)


def _load_setup() -> None:
    """Upload callback: a setup file goes through the gate into the widgets (callbacks run before them)."""
    upload = st.session_state.get("upload")
    if upload is None:
        return
    config, warnings = exports.read_setup(upload.getvalue(), base=st.session_state.run.config)
    st.session_state.url_warnings = warnings
    if config is not None:
        ui.show(config)


def _network_file(run: LiveRun) -> bytes:
    from dropviz.model import export_network  # torch takes seconds to import: only when a file is asked for

    layers = run.snapshot().params["dropout"]
    return export_network([lp.weight for lp in layers], [lp.bias for lp in layers], run.config.activation,
                          run.config.p, run.config.p_input)


def save_and_share(run: LiveRun, preset: str) -> None:
    """Link, downloads and upload of a setup; the trained network as a PyTorch file."""
    query = urlencode(ui.url_from_config(run.config, preset))
    st.markdown("**Copy link to this setup** (the copy button is at the right of the link):")
    st.code(f"{st.context.url or ''}?{query}", language=None)
    left, middle, right = st.columns(3)
    # Deferred: each file is made from the run as it is when the button is pressed.
    left.download_button("Curves (CSV)", lambda: exports.curves_csv(run.snapshot().history), "dropviz-curves.csv",
                         "text/csv", on_click="ignore", use_container_width=True)
    middle.download_button("Setup (JSON)", lambda: exports.setup_json(run.config, preset), "dropviz-setup.json",
                           "application/json", on_click="ignore", use_container_width=True)
    right.download_button("Trained dropout network (PyTorch)", lambda: _network_file(run), "dropviz-network.pt",
                          "application/octet-stream", on_click="ignore", use_container_width=True,
                          help="torch.load(file, weights_only=True); its state_dict loads into the nn.Sequential in its 'architecture'.")
    st.file_uploader("Load a setup (JSON)", type=["json"], key="upload", on_change=_load_setup,
                     help="A file saved with 'Setup (JSON)'; every value is checked like any other input.")


def _start_experiment(name: str) -> None:
    run: LiveRun = st.session_state.run
    inputs = Inputs(run.config, run.snapshot(), run.data, passes=st.session_state.get("mc_passes", 100))
    experiment = EXPERIMENTS[name]
    st.session_state.job = ExperimentJob(lambda progress: experiment.run(inputs, progress))
    st.session_state.job_name = name
    st.session_state.job_ticking = False  # the view must rerun as a whole page to start its progress ticks


def experiments_view() -> None:
    """Pick an experiment, run it in the background with a progress bar, see and download its results."""
    name = st.selectbox("Experiment", list(EXPERIMENTS), format_func=lambda n: EXPERIMENTS[n].title, key="experiment")
    experiment = EXPERIMENTS[name]
    st.markdown(experiment.text)
    run: LiveRun = st.session_state.run
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
    left.button("Run experiment", type="primary", disabled=running, on_click=_start_experiment, args=(name,),
                use_container_width=True, help="Uses the current setup; the live run is not disturbed.")
    if running:
        right.button("Cancel", on_click=job.cancel, use_container_width=True)
        st.progress(job.fraction, text=f"{EXPERIMENTS[st.session_state.job_name].title}: {job.fraction:.0%}")
        return
    if job is None or st.session_state.get("job_name") != name:
        return
    if job.cancelled:
        st.warning("Cancelled.")
    elif job.error:
        st.error(f"The experiment stopped: {job.error}")
    elif job.result is not None:
        st.caption(f"Finished in {job.seconds:.1f} s.")
        for number, figure in enumerate(experiment.figures(job.result)):
            st.plotly_chart(figure, key=f"experiment_{number}", config=PLOT_CONFIG)
        st.download_button("Results (CSV)", job.result.to_csv, f"dropviz-{name.replace(' ', '-')}.csv", "text/csv",
                           on_click="ignore")


st.set_page_config(page_title="dropviz: dropout, live", page_icon="🎲", layout="wide")
serve_plotly_js(Path(__file__).resolve().parent)
preload_plotly()
POOL.start()  # once per server in effect: the training workers load while this page is made
_state()
config, warnings = ui.controls()
for warning in st.session_state.url_warnings + warnings:
    st.sidebar.warning(warning)
run = _sync(config)
st.session_state.unsent_frame = None  # a whole-page run shows the run as it is now (after a click, say)
playing, finished = run.state()
st.query_params.from_dict(ui.url_from_config(run.config, st.session_state[ui.PRESET_KEY]))

st.title("dropviz: watch dropout at work")
live_tab, experiments_tab = st.tabs(["Live training", "Experiments"])
with live_tab:
    play, step, reset, _, present = st.columns([1, 1, 1, 1.5, 1.5])
    play.button("Pause" if playing else "Play", on_click=_play, args=(not playing,), type="primary", use_container_width=True,
                disabled=finished, help="Train and watch live; Pause keeps everything as it is.")
    step.button("Step", on_click=_step, use_container_width=True, disabled=finished,
                help="One mini-batch: watch the switched-off neurons change.")
    reset.button("Reset", on_click=_reset, use_container_width=True, help="Back to epoch 0 and the same initial weights (same seed).")
    present.toggle("Presentation mode", key="presenting", help="Hides the controls and enlarges text and figures for a projector.")
    speed = st.select_slider("Speed (epochs per second)", list(SPEEDS), value=100, key="speed",
                             help="How fast Play trains: slow enough for a class to watch, or as fast as the machine goes.")
    run.set_speed(SPEEDS[speed])
    if st.session_state.get("presenting"):
        st.markdown(PRESENTATION_CSS, unsafe_allow_html=True)
    if run.lost:
        st.warning(run.lost)
        run.lost = None
    if st.session_state.notice:
        st.info(st.session_state.notice)
    # Filled only when open: closed, their math and code widgets cost the first page 0.3-0.4 s of the browser's time.
    seeing = st.expander("What am I seeing?", key="seeing", on_change="rerun")
    if seeing.open:
        seeing.markdown(EXPLANATION)
    share = st.expander("Save and share", key="share", on_change="rerun")
    if share.open:
        with share:
            save_and_share(run, st.session_state[ui.PRESET_KEY])
    st.session_state.registered_tick = st.session_state.get("tick", TICK)
    st.fragment(run_every=st.session_state.registered_tick if playing else None)(live)()  # ticks only while training
with experiments_tab:
    job: ExperimentJob | None = st.session_state.get("job")
    st.fragment(run_every=0.5 if job is not None and job.running else None)(experiments_view)()
