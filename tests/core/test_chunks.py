"""StepChunks: steps per call from the last call's time per step, on a clock the test controls."""

from dropviz.core.chunks import StepChunks


def test_one_step_until_a_call_is_timed_then_as_many_as_fit_and_never_none():
    now = [0.0]
    chunks = StepChunks(0.01, clock=lambda: now[0])
    assert chunks.next() == 1
    now[0] = 0.002  # one step took 2 ms
    chunks.took(0.0, 1)
    assert chunks.next() == 5
    began, now[0] = now[0], now[0] + 0.05  # the machine got slower: 5 steps took 50 ms
    chunks.took(began, 5)
    assert chunks.next() == 1  # a step costs more than the whole call: still one
    began = now[0]
    chunks.took(began, 0)  # a call that took no step (finished run) and no time
    assert chunks.next() == 1
