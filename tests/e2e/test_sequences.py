"""Sequences a teacher or a student does on the live page, in real Chromium; after every action the views must agree."""

import json
import re

import pytest
from playwright.sync_api import Browser, Page, expect

from dropviz.web.worker import CATCH_UP
from tests.e2e.views import click, open_page, play_to_end, settle, slider, speed, view


@pytest.fixture
def app(page: Page):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_viewport_size({"width": 1440, "height": 1000})
    yield page
    assert errors == [], errors  # no console errors during the whole test


def test_play_to_the_end_reset_and_play_again_the_curves_follow(app: Page, app_url: str):
    open_page(app, f"{app_url}/?epochs=60")
    assert play_to_end(app)["epoch"] == 60
    click(app, "Reset")
    assert settle(app, lambda v: v["epoch"] == 0 and v["step"] == 0)["last"] == 0
    done = play_to_end(app)  # the curves froze at epochs 0-6 here, while the status said 60
    assert done["epoch"] == 60 and done["last"] == 60


def test_a_preset_change_after_the_end_restarts_and_the_curves_follow(app: Page, app_url: str):
    open_page(app, f"{app_url}/?epochs=40")
    play_to_end(app)
    app.get_by_role("combobox", name="Preset").click()  # the walkthrough's step 6
    app.get_by_role("option", name="too much dropout").click()
    fresh = settle(app, lambda v: v["epoch"] == 0 and v["epochs"] == 300)
    expect(app.get_by_text("training restarted from epoch 0")).to_have_count(1)
    assert not fresh["finished"]
    click(app, "Play")
    assert settle(app, lambda v: v["epoch"] >= 20, timeout=60)["playing"]  # settle checked the curves on the way
    click(app, "Pause")
    settle(app, lambda v: not v["playing"])


def test_an_architecture_change_mid_run_restarts_and_play_works(app: Page, app_url: str):
    open_page(app, f"{app_url}/?epochs=5000")
    speed(app, 30)
    click(app, "Play")
    settle(app, lambda v: v["playing"] and v["epoch"] >= 3)
    slider(app, "Hidden layers", ["ArrowRight"])  # 2 -> 3 while playing
    settle(app, lambda v: v["epoch"] == 0 and not v["playing"])
    expect(app.get_by_text("training restarted from epoch 0")).to_have_count(1)
    click(app, "Play")
    settle(app, lambda v: v["playing"] and v["epoch"] >= 3)
    click(app, "Pause")
    settle(app, lambda v: not v["playing"])


def test_dropout_toggled_while_playing_marks_each_switch_and_keeps_training(app: Page, app_url: str):
    open_page(app, f"{app_url}/?epochs=5000")
    speed(app, 30)
    click(app, "Play")
    start = settle(app, lambda v: v["playing"] and v["epoch"] >= 2)
    toggle = app.get_by_label("Dropout", exact=True)
    for switches in range(1, 4):  # off, on, off
        before = view(app)["epoch"]
        toggle.click(force=True)  # its input is visually hidden
        settle(app, lambda v, n=switches, b=before: v["markers"] == n and v["epoch"] > b + 1, timeout=60)
    expect(app.get_by_text("restarted")).to_have_count(0)  # the weights were kept
    expect(toggle).not_to_be_checked()
    off = settle(app, lambda v: v["playing"] and v["droppedCount"] == 0)  # dropout is off: nothing dropped from its next step
    assert off["markers"] == 3 and off["epoch"] > start["epoch"]
    click(app, "Pause")
    settle(app, lambda v: not v["playing"])


def test_after_the_end_step_and_play_are_off_until_epochs_is_raised(app: Page, app_url: str):
    open_page(app, f"{app_url}/?epochs=20")
    play_to_end(app)
    expect(app.get_by_role("button", name="Play", exact=True)).to_be_disabled()
    expect(app.get_by_role("button", name="Step", exact=True)).to_be_disabled()
    epochs = app.get_by_role("spinbutton", name="Epochs")
    epochs.fill("70")
    epochs.press("Enter")
    raised = settle(app, lambda v: v["epochs"] == 70 and not v["finished"])
    assert raised["epoch"] == 20  # the run goes on from where it stopped
    click(app, "Step")
    settle(app, lambda v: v["step"] == raised["step"] + 1)
    done = play_to_end(app)
    assert done["epoch"] == 70 and done["last"] == 70


def test_a_diverged_run_names_the_learning_rate_and_a_lower_one_trains_again(app: Page, app_url: str):
    open_page(app, f"{app_url}/?lr=10")
    stopped = play_to_end(app, timeout=60)  # settle: Play off, Reset on, curves and status agree
    assert stopped["diverged"] and "learning rate" in stopped["text"] and "raise Epochs" not in stopped["text"]
    assert re.search(r"lower it|Reset", stopped["text"])
    curves_note = app.locator(".dropviz-chart").nth(2).get_by_text(re.compile("diverged at epoch"))
    expect(curves_note.first).to_be_visible()  # the empty curves say why
    slider(app, "Learning rate", ["Home"])  # the lowest rate: a restart
    lowered = settle(app, lambda v: v["epoch"] == 0 and not v["finished"])
    assert not lowered["diverged"]
    click(app, "Play")
    settle(app, lambda v: v["epoch"] >= 5 and not v["diverged"], timeout=60)


def test_a_burst_of_p_changes_leaves_one_marker(app: Page, app_url: str):
    open_page(app, f"{app_url}/?epochs=5000")
    speed(app, 10)
    click(app, "Play")
    settle(app, lambda v: v["playing"] and v["epoch"] >= 1)
    slider(app, "Dropout p", ["ArrowLeft"] * 3)  # 0.5 -> 0.35, three quick presses
    burst = settle(app, lambda v: v["markers"] >= 1 and v["playing"])
    expect(app.locator(".dropviz-chart").nth(2).get_by_text("p 0.5 -> 0.35")).to_have_count(1)
    assert burst["markers"] == 1
    click(app, "Pause")
    settle(app, lambda v: not v["playing"])


def test_two_pages_play_at_once_and_each_shows_its_own_run(browser: Browser, app_url: str):
    pages = [browser.new_page(viewport={"width": 1440, "height": 1000}) for _ in range(2)]
    try:
        open_page(pages[0], f"{app_url}/?epochs=5000")
        open_page(pages[1], f"{app_url}/?epochs=5000&dataset=xor")
        for page in pages:
            speed(page, 30)
        for page in pages:
            click(page, "Play")
        for page in pages:
            settle(page, lambda v: v["playing"] and v["epoch"] >= 5, timeout=60)
        click(pages[0], "Pause")
        paused = settle(pages[0], lambda v: not v["playing"])
        later = settle(pages[1], lambda v: v["playing"] and v["epoch"] >= 10, timeout=60)  # the other page trains on
        assert view(pages[0])["epoch"] == paused["epoch"] and later["playing"]
        click(pages[1], "Pause")
        settle(pages[1], lambda v: not v["playing"])
    finally:
        for page in pages:
            page.close()


def test_the_speed_slider_limits_the_epochs_per_second(app: Page, app_url: str):
    open_page(app, f"{app_url}/?epochs=5000")
    speed(app, 3)
    click(app, "Play")
    first = settle(app, lambda v: v["playing"] and v["epoch"] >= 1, timeout=60)
    started = app.evaluate("performance.now()")
    later = settle(app, lambda v: v["epoch"] >= first["epoch"] + 6, timeout=60)
    seconds = (app.evaluate("performance.now()") - started) / 1000
    # An upper bound only: at most 3 epochs a second, plus what a run held back by a busy machine makes up at once
    # (worker.CATCH_UP), a frame's lag on screen (0.5 s at most here) and one for the edges. Unlimited, it trains
    # hundreds a second.
    assert later["epoch"] - first["epoch"] <= 3 * (seconds + CATCH_UP + 0.5) + 1
    click(app, "Pause")
    settle(app, lambda v: not v["playing"])


def test_an_uploaded_setup_lands_in_the_controls_and_the_url(app: Page, app_url: str, tmp_path):
    open_page(app, app_url)
    setup = tmp_path / "setup.json"
    setup.write_text(json.dumps({"preset": "overfitting demo", "config": {"dataset": "xor", "hidden": [6, 4], "epochs": 120}}))
    app.get_by_text("Save and share").click()
    uploader = app.locator("[data-testid=stFileUploader]").filter(has_text="Load a setup (JSON)")  # the sidebar has one for points
    uploader.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(setup))
    settle(app, lambda v: v["epochs"] == 120 and v["epoch"] == 0)
    expect(app).to_have_url(re.compile(r"dataset=xor"))
    expect(app.get_by_role("textbox", name="Uneven layers (optional)")).to_have_value("6,4")
    expect(app.get_by_role("slider", name="Neurons per layer")).to_be_disabled()  # the uneven field overrides it


def test_presentation_mode_hides_the_controls_and_enlarges_the_charts(app: Page, app_url: str):
    open_page(app, app_url)
    # The charts' type (their fonts), and their heights, which fill the window in either mode (tests/e2e/test_screens.py).
    sizes = "Array.from(document.querySelectorAll('.dropviz-chart.js-plotly-plot')).map(p => p._fullLayout.font.size)"
    fonts = app.evaluate(sizes)
    app.get_by_text("Presentation mode").click()
    settle(app, lambda v: True)
    expect(app.locator("section[data-testid=stSidebar]")).to_be_hidden()
    app.wait_for_function(
        f"(before) => {sizes}.every((size, i) => size >= 1.4 * before[i]) && "
        "Array.from(document.querySelectorAll('.dropviz-chart')).every((c) => c.getBoundingClientRect().bottom <= innerHeight)",
        arg=fonts,
        timeout=30_000,
    )
