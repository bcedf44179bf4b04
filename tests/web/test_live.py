"""LiveRun and its worker processes: a run trains in turns, pauses, stops when nobody watches, survives its worker."""

import dataclasses
import gc
import json
import operator
import time
import weakref
from pathlib import Path

import numpy as np
import plotly.io
import pytest

from dropviz.core.config import RunConfig
from dropviz.core.presets import PRESETS
from dropviz.web import jobs, live, worker
from dropviz.web.live import LiveRun, step_cost

CONFIG = RunConfig(n_train=40, hidden=(8, 8), p=(0.5, 0.5), batch_size=8, epochs=5000)


def _wait(condition, timeout=30.0, what=lambda: ""):
    """Until condition() holds; the time limit is generous, for a loaded machine: a passing test never waits it out."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out {what()}"
        time.sleep(0.01)


def _steps(run: LiveRun) -> int:
    return run.with_trainer(operator.attrgetter("step_count"))


def _worker_takes_turns(steps: int = 500) -> None:
    """Plays another run on the one worker (one_worker) until it has trained `steps` steps (several turns): proof that
    the worker has had turns to give since, however slow the machine. The run's page stays (no idle stop)."""
    clock = LiveRun(CONFIG, page_open=lambda: True)
    clock.play()
    _wait(lambda: _steps(clock) >= steps)
    clock.pause()


def _trains_past(run: LiveRun, seconds: float) -> None:
    """Until `seconds` have passed and the run has trained a step after that: its worker had a turn for it, late."""
    began, late = time.monotonic(), None

    def past() -> bool:
        nonlocal late
        if late is None and time.monotonic() - began > seconds:
            late = _steps(run)
        return late is not None and _steps(run) > late

    _wait(past)


def test_play_trains_in_the_background_and_pause_stops_it(one_worker):
    run = LiveRun(CONFIG)
    run.play()
    _wait(lambda: _steps(run) > 50)
    run.pause()  # answered between two turns: no turn of this run after it
    steps = _steps(run)
    _worker_takes_turns()
    assert _steps(run) == steps and not run.playing


def test_a_worker_trains_in_one_thread_however_often_play_is_pressed(one_worker):
    run = LiveRun(CONFIG)
    for _ in range(5):
        run.play()
    _wait(lambda: _steps(run) > 50)
    pid = one_worker.workers[0].process.pid
    threads = int(next(line.split()[1] for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Threads:")))
    assert threads == 1  # no training thread, no BLAS thread pool: one core per worker
    run.pause()


def test_a_run_nobody_watches_stops_by_itself(monkeypatch, one_worker):
    monkeypatch.setattr(live, "IDLE_STOP", 0.3)
    run = LiveRun(CONFIG)
    run.play()
    _wait(lambda: not run.playing)
    steps = _steps(run)
    assert 0 < steps and not run.finished  # it trained, then stopped before its last epoch
    _worker_takes_turns()
    assert _steps(run) == steps


def test_snapshots_keep_a_watched_run_going(monkeypatch):
    monkeypatch.setattr(live, "IDLE_STOP", 0.5)
    run = LiveRun(CONFIG)
    run.set_speed(500.0)  # CONFIG's 5000 epochs of a tiny network would be over before the snapshots are
    run.play()
    began, late = time.monotonic(), None
    while late is None or _steps(run) <= late:  # until a step after twice IDLE_STOP: the idle check had its chances
        run.snapshot()
        if late is None and time.monotonic() - began > 2 * live.IDLE_STOP:
            late = _steps(run)
        assert time.monotonic() - began < 30, "timed out"
        time.sleep(live.IDLE_STOP / 10)
    assert run.playing
    run.pause()


def test_a_finished_run_stops_and_step_and_reset_pause_first():
    run = LiveRun(RunConfig(n_train=40, hidden=(4,), p=(0.5,), batch_size=8, epochs=3))
    run.play()
    _wait(lambda: not run.playing)
    assert run.finished and run.snapshot().epoch == 3
    run.reset()
    assert run.snapshot().epoch == 0 and not run.finished
    run.play()
    run.step()
    assert not run.playing
    run.pause()


def test_the_thread_trains_exactly_what_a_plain_trainer_trains():
    run = LiveRun(RunConfig(n_train=40, hidden=(6,), p=(0.5,), batch_size=8, epochs=4))
    run.play()
    _wait(lambda: run.finished)
    from dropviz.core.engine import Trainer

    plain = Trainer(run.config).run()
    threaded = run.snapshot().history
    assert np.array_equal(plain.runs["dropout"].val_loss, threaded.runs["dropout"].val_loss)


def test_two_sessions_at_once_train_exactly_what_one_alone_trains():
    config = RunConfig(n_train=40, hidden=(6, 6), p=(0.5, 0.5), batch_size=8, epochs=30, seed=3)
    from dropviz.core.engine import Trainer

    alone = Trainer(config).run()
    first, second = LiveRun(config), LiveRun(config)
    first.play()
    second.play()
    _wait(lambda: first.finished and second.finished, timeout=60)
    for run in (first, second):
        history = run.snapshot().history
        for name in ("dropout", "twin"):
            assert np.array_equal(history.runs[name].val_loss, alone.runs[name].val_loss)
            assert np.array_equal(history.runs[name].optimized_loss, alone.runs[name].optimized_loss)


def test_runs_on_one_worker_take_fair_turns_and_say_that_they_share(one_worker):
    first, second = LiveRun(CONFIG), LiveRun(CONFIG)
    assert "in turns" not in first.frame().status
    first.play()
    second.play()
    _wait(lambda: _steps(first) > 0 and _steps(second) > 0)
    assert "training in turns with 1 other run on this processor core" in first.frame().status
    _wait(lambda: min(_steps(first), _steps(second)) > 4000)  # a few thousand steps each: many turns
    second.pause()
    assert "in turns" not in first.frame().status and first.frame().playing  # alone again
    first.pause()
    a, b = _steps(first), _steps(second)
    assert 0.5 < a / b < 2  # the same network: about the same share each (a few turns more or less)


def test_a_run_whose_worker_dies_starts_again_on_a_new_one_and_says_so(one_worker):
    run = LiveRun(CONFIG)
    run.play()
    _wait(lambda: _steps(run) > 20)
    run.pause()  # paused, it starts again paused (a playing run plays on: tests/web/test_faults.py)
    dead = one_worker.workers[0]
    dead.process.kill()
    _wait(lambda: not dead.alive)
    assert run.frame().status.startswith("**Epoch 0**") and "started again from epoch 0" in run.lost
    assert one_worker.workers[0] is not dead and one_worker.workers[0].alive
    run.play()
    _wait(lambda: _steps(run) > 20)
    run.pause()


def test_an_error_in_the_worker_is_raised_here_and_the_worker_goes_on(one_worker):
    run = LiveRun(CONFIG)
    with pytest.raises(worker.WorkerError, match="AttributeError"):
        run.with_trainer(operator.attrgetter("no_such_thing"))
    assert _steps(run) == 0


def test_a_request_after_the_senders_shutdown_fails_as_a_lost_worker_and_keeps_the_order(one_worker):
    run = LiveRun(CONFIG)  # the watcher may still look at pages while the interpreter exits and shuts executors down
    sender = one_worker.workers[0]._sender
    sender.shutdown(wait=True)
    with pytest.raises(worker.WorkerGone):
        one_worker.workers[0].submit(worker.Runs.state, 0).result(1)
    assert len(one_worker.workers[0]._waiting) == 0  # nothing left waiting for an answer that never comes
    del run


def _inputs(run: LiveRun):
    from dropviz.experiments.registry import Inputs

    return Inputs(run.config, run.snapshot(), run.data, passes=5)


def test_an_experiment_runs_in_its_process_and_sends_only_its_figures_and_csv(one_worker):
    from dropviz.experiments.registry import EXPERIMENTS

    run = LiveRun(CONFIG)
    run.step()
    inputs = _inputs(run)
    job = jobs.ExperimentJob("scaling lesson", inputs)
    job.wait(60)
    assert not job.running and job.error is None and not job.cancelled
    assert job.fraction == 1.0 and job.seconds > 0
    # The same, here (a pure function of inputs), up to the last bits: this process's BLAS may use several threads.
    result = EXPERIMENTS["scaling lesson"].run(inputs, lambda fraction: True)
    assert [row.split(",")[:2] for row in job.result.csv.splitlines()] == [row.split(",")[:2] for row in result.to_csv().splitlines()]
    figures = [json.loads(plotly.io.to_json(figure.to_dict())) for figure in EXPERIMENTS["scaling lesson"].figures(result)]
    sent = [json.loads(plotly.io.to_json(figure)) for figure in job.result.figures]
    assert [sorted(figure["layout"]) for figure in sent] == [sorted(figure["layout"]) for figure in figures]
    assert [[(trace["type"], trace.get("name")) for trace in figure["data"]] for figure in sent] == [
        [(trace["type"], trace.get("name")) for trace in figure["data"]] for figure in figures
    ]


def test_a_class_trains_and_gets_frames_while_an_experiment_runs_and_a_cancel_ends_it_at_once(one_worker):
    run = LiveRun(CONFIG, page_open=lambda: True)
    run.set_speed(50.0)  # plays on until the experiment has run a while
    run.play()
    job = jobs.ExperimentJob("p-sweep", _inputs(run))
    _wait(lambda: job.running and job.fraction > 0, timeout=60)
    before = _steps(run)
    frames = [run.frame() for _ in range(3)]
    _wait(lambda: _steps(run) > before + 50, timeout=10)  # the run takes its turns too
    assert job.running and all(frame.playing for frame in frames)
    progress = job.fraction
    _wait(lambda: job.fraction > progress, timeout=10)  # it says how far it is as it goes
    began = time.monotonic()
    job.cancel()
    assert not job.running and time.monotonic() - began < 5  # its process ended: not at its next progress call
    assert job.cancelled and job.result is None and job.error is None
    run.pause()


def test_an_experiment_that_fails_says_why(one_worker):
    run = LiveRun(CONFIG)
    job = jobs.ExperimentJob("no such experiment", _inputs(run))
    job.wait(30)
    assert job.error == "KeyError: 'no such experiment'" and job.result is None
    assert run.with_trainer(operator.attrgetter("epoch")) == 0  # the worker goes on


def test_a_run_stops_when_its_page_is_gone_not_when_frames_are_late(monkeypatch, one_worker):
    monkeypatch.setattr(live, "IDLE_STOP", 0.2)  # would stop a run without snapshots: not used with page_open
    page = {"open": True}
    run = LiveRun(CONFIG, page_open=lambda: page["open"])
    run.play()
    _trains_past(run, 2 * live.IDLE_STOP)  # no snapshot at all: a busy server's frames are late, the page is still there
    assert run.playing
    page["open"] = False
    _wait(lambda: not run.playing)
    steps = _steps(run)
    _worker_takes_turns()
    assert _steps(run) == steps


def test_a_run_whose_page_stays_away_is_dropped_from_its_worker_and_starts_again_if_it_comes_back(monkeypatch, one_worker):
    monkeypatch.setattr(live, "RELEASE_AFTER", 0.5)
    page = {"open": True}
    run = LiveRun(CONFIG, page_open=lambda: page["open"])
    run.play()
    _wait(lambda: _steps(run) > 20)
    page["open"] = False
    _wait(lambda: one_worker.workers[0].runs == 0)  # paused, then dropped
    with pytest.raises(worker.UnknownRun):
        one_worker.workers[0].call(worker.Runs.state, run._id)
    page["open"] = True  # the page came back: its run starts again, and the page says why
    assert run.frame().status.startswith("**Epoch 0**") and "was away" in run.lost
    assert one_worker.workers[0].runs == 1


def test_when_students_leave_a_worker_a_playing_run_moves_to_it_and_goes_on_where_it_was(monkeypatch):
    # No rotation while the runs start or pause (2 and 1 playing): only the move under test. Infinite, since a new pool
    # has never moved (moved_at 0.0): any finite wait has passed, and a watcher left running by other tests may tick.
    monkeypatch.setattr(live, "ROTATE_EVERY", float("inf"))
    pool = live._Pool(2)
    monkeypatch.setattr(live, "POOL", pool)
    try:
        runs = [LiveRun(CONFIG, page_open=lambda: True) for _ in range(4)]
        for run in runs:
            run.play()
        first, second = pool.workers
        assert [run._worker for run in runs].count(first) == 2  # placed two and two
        _wait(lambda: all(_steps(run) > 0 for run in runs))  # each has trained: a restart from 0 would show
        for run in runs:
            if run._worker is second:
                run.pause()  # their students left: 2 playing on one worker, none on the other
        moving = [run for run in runs if run._worker is first]
        steps = {id(run): _steps(run) for run in moving}
        _wait(lambda: len(first.playing) == 1 == len(second.playing), what=lambda: f"playing {first.playing} and {second.playing}")
        moved = next(run for run in moving if run._worker is second)
        assert moved.playing and _steps(moved) >= steps[id(moved)] > 0  # the same run, trained on
        _wait(lambda: _steps(moved) > steps[id(moved)] + 20)
        for run in runs:
            run.pause()
    finally:
        pool.stop()


class _DeadWorker:
    """A worker that died just before a run moved to it."""

    def call(self, method, *args):
        raise worker.WorkerGone("the training process has ended")


def test_a_run_whose_new_worker_dies_during_the_move_stays_where_it_was(one_worker):
    run = LiveRun(CONFIG, page_open=lambda: True)
    try:
        run.play()
        _wait(lambda: _steps(run) > 5)
        before, home = _steps(run), run._worker
        with pytest.raises(worker.WorkerGone):
            run._move(_DeadWorker())
        assert run._worker is home and run.playing and run.lost is None  # not restarted from epoch 0
        assert _steps(run) >= before
        _wait(lambda: _steps(run) > before + 20)  # and it trains on
    finally:
        run.pause()


def test_a_speed_limit_holds_the_epochs_per_second():
    run = LiveRun(RunConfig(n_train=40, hidden=(4,), p=(0.5,), batch_size=8, epochs=5000))  # unlimited: hundreds a second
    run.set_speed(20.0)
    began = time.monotonic()  # before the limit counts: the bound below is a little loose, never tight
    run.play()
    seen = []

    def ahead() -> bool:
        seen.append((run.snapshot().epoch_progress, time.monotonic() - began))  # progress, then an upper bound on its time
        return seen[-1][0] >= 10

    _wait(ahead)  # however slow the machine: it trains on
    run.pause()
    assert all(epochs <= 20.0 * seconds + 1e-9 for epochs, seconds in seen)  # never ahead of 20 a second


def test_playing_count_counts_the_runs_that_play_and_forgets_deleted_ones(one_worker):
    before = LiveRun.playing_count()
    run = LiveRun(RunConfig(epochs=5000), page_open=lambda: True)
    idle = LiveRun(RunConfig(), page_open=lambda: True)
    run.play()
    try:
        assert LiveRun.playing_count() == before + 1
    finally:
        run.pause()
    assert LiveRun.playing_count() == before and idle.playing is False
    placed, run_id, ref = one_worker.workers[0].runs, idle._id, weakref.ref(idle)
    assert idle in LiveRun._all
    del idle  # a closed session's run: the registry holds it weakly, and its worker drops it
    gc.collect()
    assert ref() is None
    _wait(lambda: one_worker.workers[0].runs == placed - 1)  # as its worker's answer to the drop says
    with pytest.raises(worker.UnknownRun):
        one_worker.workers[0].call(worker.Runs.state, run_id)


def test_runs_rotate_between_workers_whose_playing_counts_differ_by_one_and_go_on_where_they_were(monkeypatch):
    check = live._check_pages
    monkeypatch.setattr(live, "_check_pages", lambda pool: None)  # its watcher stays out: the test looks, with check(pool)
    pool = live._Pool(2)
    monkeypatch.setattr(live, "POOL", pool)
    try:
        runs = [LiveRun(CONFIG, page_open=lambda: True) for _ in range(3)]
        first, second = pool.workers
        assert [run._worker for run in runs] == [first, second, first]
        for run in runs:
            run.set_speed(100.0)  # slow enough never to finish, light on cores that other work shares
            run.play()
        _wait(lambda: all(_steps(run) > 20 for run in runs))
        movers, sources = [], []
        for _ in range(6):
            monkeypatch.setattr(live, "ROTATE_EVERY", 0.0)  # time for a rotation (the waiting itself: the test below)
            epochs = {id(run): run.snapshot().epoch_progress for run in runs}  # the snapshots bring the counts up to date
            assert sorted(len(worker.playing) for worker in pool.workers) == [1, 2]
            busiest = max(pool.workers, key=lambda w: len(w.playing))
            longest = min((run for run in runs if run._worker is busiest), key=lambda run: run._moved_at)
            where = [run._worker for run in runs]
            check(pool)
            moved = [run for run, was in zip(runs, where) if run._worker is not was]
            assert moved == [longest] and longest._worker is not busiest  # one run, the one there longest, moved over
            movers.append(runs.index(longest))
            sources.append(busiest)
            after = [run._worker for run in runs]
            monkeypatch.setattr(live, "ROTATE_EVERY", 60.0)
            check(pool)  # again: the counts have flipped (2 and 1 the other way), but it is not time yet
            assert [run._worker for run in runs] == after
            for run in runs:
                assert run.snapshot().epoch_progress >= epochs[id(run)] > 0 and run.lost is None  # went on where it was
        assert sources == [first, second] * 3  # the crowded worker alternates
        assert movers == [0, 1, 2, 0, 1, 2]  # every run in its turn, so all spend the same time on the crowded worker
        steps = {id(run): _steps(run) for run in runs}
        _wait(lambda: all(_steps(run) > steps[id(run)] + 20 for run in runs))  # all three still train
        assert all(run.playing and run.lost is None for run in runs)

        for run in runs[1:]:
            run.pause()  # one playing run on one worker, none on the other: a lone run has a core wherever it is
        assert sorted(len(worker.playing) for worker in pool.workers) == [0, 1]
        where = [run._worker for run in runs]
        monkeypatch.setattr(live, "ROTATE_EVERY", 0.0)  # time for a rotation, and the counts differ by one: no move
        for _ in range(3):
            check(pool)
        assert [run._worker for run in runs] == where
        for run in runs:
            run.pause()
    finally:
        pool.stop()


class _FakeWorker:
    """Stands for a worker in _Pool.to_move: its playing count, alive."""

    def __init__(self, playing: int):
        self.playing, self.alive, self.adopted_at = frozenset(range(playing)), True, 0.0


def test_with_more_workers_rotations_take_every_idle_worker_in_turn(monkeypatch):
    monkeypatch.setattr(live, "ROTATE_EVERY", 0.0)
    pool = live._Pool(3)
    pool.workers = [_FakeWorker(1), _FakeWorker(1), _FakeWorker(2)]
    a, b, c = pool.workers
    targets = []
    for _ in range(3):
        busiest, idlest = pool.to_move()
        assert busiest == [w for w in pool.workers if len(w.playing) == 2]
        busiest[0].playing, idlest.playing = frozenset({1}), frozenset({1, 2})  # what the move's answers say
        pool.moved(idlest)
        targets.append(idlest)
    assert targets == [a, b, c]  # c, idle once a had its run, is not passed over
    monkeypatch.setattr(live, "ROTATE_EVERY", 60.0)
    assert pool.to_move() is None  # a rotation waits ROTATE_EVERY after the last move
    c.playing = frozenset({1, 2, 3})  # 1, 1, 3: students left; no waiting
    assert pool.to_move() == ([c], a)


def test_a_steps_cost_counts_the_data_sets_inputs_and_classes():
    digits = PRESETS["handwritten digits"].config
    plane = dataclasses.replace(digits, dataset="circle", p_input=0.0)  # the same network on two inputs and two classes
    ratio = step_cost(digits) / step_cost(plane)
    assert ratio == pytest.approx((64 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10) / (2 * 64 + 64 + 64 * 64 + 64 + 64 * 2 + 2))


def test_a_frame_asked_again_with_nothing_new_is_the_same_frame_and_anything_new_makes_another(monkeypatch):
    made = []
    monkeypatch.setattr(worker, "make_frame", lambda *args: made.append(args) or object())
    runs = worker.Runs()
    runs.create(1, CONFIG, None, None)
    first = runs.frame(1, False, "/f/a")
    assert runs.frame(1, False, "/f/a") is first and len(made) == 1  # no step since: sent again, not made again
    runs.step(1)
    stepped = runs.frame(1, False, "/f/a")
    assert stepped is not first and len(made) == 2
    changed = [
        lambda: runs.frame(1, True, "/f/a"),  # presenting
        lambda: runs.frame(1, True, "/f/b"),  # the next source
        lambda: runs.update(1, dataclasses.replace(CONFIG, p=(0.2, 0.2))) and runs.frame(1, True, "/f/b"),  # a live change
        lambda: runs.reset(1) and runs.frame(1, True, "/f/b"),  # a new trainer at step 0, the same config
        lambda: runs.play(1) or runs.frame(1, True, "/f/b"),  # playing
    ]
    for count, change in enumerate(changed, start=3):
        change()
        assert len(made) == count, f"change {count - 3} sent the old frame"


def test_a_run_held_back_makes_up_at_most_a_moment_of_its_speed_limit_at_once():
    run = worker._Run(CONFIG, None, 10.0)  # 10 epochs a second at most
    run.playing = True
    run.pace_from = (time.monotonic() - 5.0, 0.0)  # 5 s without a turn (a busy machine): 50 epochs behind
    allowed = run.allowed_steps()
    assert allowed <= worker.CATCH_UP * 10.0 * run.trainer.steps_per_epoch  # not a 50-epoch burst, but a moment's worth
    assert allowed >= 0.9 * worker.CATCH_UP * 10.0 * run.trainer.steps_per_epoch  # and it does make that up
    assert run.pace_from[0] > time.monotonic() - 1.0  # the limit counts from a moment ago, not from 5 s ago
