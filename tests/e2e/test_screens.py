"""The whole lesson on one screen: what a projector, a laptop and a phone show without scrolling, and the keys for the projector."""

import pytest
from playwright.sync_api import Page

from tests.e2e.views import click, open_page, settle

# Boxes (viewport px: left, top, right, bottom) of what the lesson needs on screen, the visible one of each name
# (presentation mode's copy of the Dropout switch, not the hidden sidebar's), with the window's size and font sizes.
BOXES = """() => {
  const seen = (e) => e && e.getClientRects().length > 0;
  const box = (e) => { if (!seen(e)) return null; const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const named = (selector, name) => Array.from(document.querySelectorAll(selector)).filter(
    (e) => e.textContent.trim() === name && seen(e))[0];
  const widget = (name) => { const label = named('[data-testid=stWidgetLabel]', name);
    return label && label.closest('[data-testid=stCheckbox], [data-testid=stSlider]'); };
  const [network, boundary, curves] = document.querySelectorAll('.dropviz-chart');
  const play = named('button', 'Play') || named('button', 'Pause');
  const status = document.querySelector('.dropviz-status');
  return {
    width: innerWidth, height: innerHeight,  // the page scrolls in Streamlit's main element, not the document
    scrollWidth: Math.max(document.scrollingElement.scrollWidth, document.querySelector('[data-testid=stMain]').scrollWidth),
    boxes: {network: box(network), boundary: box(boundary), curves: box(curves), status: box(status),
            keys: box(document.querySelector('.dropviz-keys')), play: box(play), step: box(named('button', 'Step')),
            reset: box(named('button', 'Reset')), dropout: box(widget('Dropout')), p: box(widget('Dropout p'))},
    statusFont: parseFloat(getComputedStyle(status).fontSize),
    buttonFont: parseFloat(getComputedStyle(play.querySelector('p') || play).fontSize),
    tickFont: Math.min(...Array.from(document.querySelectorAll('.dropviz-chart .xtick text')).map(
      (t) => parseFloat(t.style.fontSize))),
  };
}"""
# Per chart (the live view's, or those of a selector given), the pairs of its texts (annotations, axis titles, and each
# legend as one box) that cover each other by more than a pixel.
OVERLAPS = """(charts) => Array.from(document.querySelectorAll(charts || '.dropviz-chart')).map((chart) => {
  const texts = Array.from(chart.querySelectorAll('g.annotation, g.legend, g[class$="title"]'))
    .map((e) => [e.textContent, e.getBoundingClientRect()])
    .filter(([, r]) => r.width > 0 && r.height > 0);
  const cover = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
  return texts.flatMap(([name, box], i) => texts.slice(i + 1).filter(([, other]) => cover(box, other)).map(([other]) => [name, other]));
})"""
# Per live chart, the legends that scroll (plotly.js draws a scrollbar when the entries do not fit: some are hidden),
# and the width in px of its narrowest plot.
LEGENDS_AND_PLOTS = """() => Array.from(document.querySelectorAll('.dropviz-chart')).map((chart) => {
  const layout = chart._fullLayout;  // the chart's div is plotly.js's
  const scrolls = Array.from(chart.querySelectorAll('g.legend rect.scrollbar')).filter((r) => +r.getAttribute('height') > 0);
  const widths = Object.keys(layout).filter((key) => /^xaxis\\d*$/.test(key)).map((key) => layout[key]._length);
  return [scrolls.length, Math.round(Math.min(...widths))];
})"""
# Per live chart, the pairs of texts of one text trace (the digits' answers) that cover each other by more than a pixel.
TEXTS_APART = """() => Array.from(document.querySelectorAll('.dropviz-chart')).map((chart) =>
  Array.from(chart.querySelectorAll('g.trace.scatter')).flatMap((trace) => {
    const boxes = Array.from(trace.querySelectorAll('g.textpoint')).map((e) => [e.textContent, e.getBoundingClientRect()]);
    const cover = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
    return boxes.flatMap(([name, box], i) => boxes.slice(i + 1).filter(([, other]) => cover(box, other)).map(([other]) => [name, other]));
  }))"""
# The Dropout switches' states, in the page's order (the sidebar's first, then presentation mode's copy if drawn).
DROPOUT = """() => Array.from(document.querySelectorAll('[data-testid=stCheckbox]'))
  .filter((e) => e.textContent.trim() === 'Dropout').map((e) => e.querySelector('input').checked)"""


def _outside(shown: dict, names: list[str]) -> dict:
    """The named boxes not wholly inside the window (or not shown at all)."""
    inside = lambda b: b and b[0] >= 0 and b[1] >= 0 and b[2] <= shown["width"] + 0.5 and b[3] <= shown["height"] + 0.5
    return {name: shown["boxes"][name] for name in names if not inside(shown["boxes"][name])}


@pytest.fixture
def app(page: Page, app_url: str):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    assert errors == [], errors


def _present(page: Page) -> None:
    page.get_by_label("Presentation mode", exact=True).click(force=True)  # the toggle (its input is visually hidden)
    page.locator("[data-testid=stSidebar]").wait_for(state="hidden")
    settle(page)


def _play(page: Page) -> dict:
    click(page, "Play")
    return settle(page, lambda v: v["playing"] and v["epoch"] >= 2)


def _presenting_and_playing(page: Page, url: str, width: int, height: int) -> dict:
    """Opens url in a width x height window, turns presentation mode on and plays: the BOXES a few frames after Play,
    with the charts at their fitted heights."""
    page.set_viewport_size({"width": width, "height": height})
    open_page(page, url)
    _present(page)
    _play(page)
    page.wait_for_timeout(500)
    return page.evaluate(BOXES)


# The live chart number i's [left, right] and each of its notes' [left, right], in viewport px.
NOTE_EDGES = """(i) => { const chart = document.querySelectorAll('.dropviz-chart')[i]; const r = chart.getBoundingClientRect();
  return [[r.left, r.right], Array.from(chart.querySelectorAll('g.annotation')).map((e) => e.getBoundingClientRect())
    .filter((n) => n.width > 0).map((n) => [n.left, n.right])]; }"""


LESSON = ["network", "boundary", "curves", "status", "keys", "play", "step", "reset", "dropout", "p"]


@pytest.mark.parametrize("width, height", [(1280, 720), (1920, 1080)])
def test_presentation_mode_shows_the_whole_lesson_on_a_projector(app: Page, app_url: str, width: int, height: int):
    shown = _presenting_and_playing(app, f"{app_url}/?epochs=5000", width, height)
    assert _outside(shown, LESSON) == {}, shown
    # Readable from the back: the status and buttons at 20 px, the charts' ticks at 18 px (1.5 times the page's 12).
    assert shown["statusFont"] >= 20 and shown["buttonFont"] >= 20 and shown["tickFont"] >= 18, shown
    assert shown["boxes"]["boundary"][3] - shown["boxes"]["boundary"][1] >= 0.2 * height  # not squeezed to a strip
    assert app.evaluate(OVERLAPS) == [[], [], []]  # large type in short charts: no text covers another
    # Every legend entry shown (none scrolled away), and the curves' panels wide enough to read a run's course.
    (network, _), (boundary, _), (curves, narrowest) = app.evaluate(LEGENDS_AND_PLOTS)
    assert (network, boundary, curves) == (0, 0, 0) and narrowest >= 0.13 * width


@pytest.mark.parametrize("width, height", [(1280, 720), (1024, 768)])
def test_presentation_mode_shows_the_digits_lesson_without_texts_covering_each_other(app: Page, app_url: str, width, height):
    shown = _presenting_and_playing(app, f"{app_url}/?dataset=digits&hidden=64,64&epochs=5000", width, height)
    assert _outside(shown, LESSON) == {}, shown
    assert app.evaluate(OVERLAPS) == [[], [], []]
    answers = app.evaluate(TEXTS_APART)
    assert answers == [[], [], []] and app.locator(".dropviz-chart g.textpoint").count() >= 20, answers  # each answer apart
    # Every row name whole: none cut at the chart's left edge.
    _, notes = app.evaluate(NOTE_EDGES, 1)
    lefts = [left for left, _ in notes]
    assert lefts and min(lefts) >= shown["boxes"]["boundary"][0], lefts


def test_a_1024x768_projector_shows_the_whole_lesson_and_whole_status_lines(app: Page, app_url: str):
    shown = _presenting_and_playing(app, f"{app_url}/?epochs=5000", 1024, 768)
    assert _outside(shown, LESSON) == {}, shown
    cut = app.evaluate(
        "() => Array.from(document.querySelectorAll('.dropviz-status div')).filter((d) => d.scrollWidth > d.clientWidth + 1).map((d) => d.textContent)"
    )
    assert cut == []  # each line whole, the gap at its end included
    labels = app.evaluate(
        "() => Array.from(document.querySelectorAll('[data-testid=stHorizontalBlock] [data-testid=stMarkdownContainer]'))"
        ".filter((d) => d.scrollWidth > d.clientWidth + 1).map((d) => d.textContent)"
    )
    assert labels == []  # the controls' labels whole: "Dropout", not "Drop…"
    legends_and_plots = app.evaluate(LEGENDS_AND_PLOTS)
    assert [scrolls for scrolls, _ in legends_and_plots] == [0, 0, 0] and legends_and_plots[2][1] >= 100, legends_and_plots
    box, notes = app.evaluate(NOTE_EDGES, 0)  # the output's names whole beside a narrower graph
    assert notes and all(box[0] <= left and right <= box[1] for left, right in notes), (box, notes)


def test_presentation_mode_names_every_column_of_six_hidden_layers_readably(app: Page, app_url: str):
    _presenting_and_playing(app, f"{app_url}/?hidden=64,64,64,64,64,64&p=0.25&epochs=5000", 1280, 720)
    assert app.evaluate(OVERLAPS) == [[], [], []]  # the columns' headers side by side
    # Every note of the graph whole, the output's names included: none cut at the chart's edges.
    box, notes = app.evaluate(NOTE_EDGES, 0)
    assert notes and all(box[0] <= left and right <= box[1] for left, right in notes), (box, notes)


def test_a_phone_shows_the_digits_lesson_without_texts_covering_each_other(app: Page, app_url: str):
    app.set_viewport_size({"width": 390, "height": 844})
    open_page(app, f"{app_url}/?dataset=digits&hidden=64,64&epochs=5000")
    _play(app)
    shown = app.evaluate(BOXES)
    assert shown["scrollWidth"] <= shown["width"], shown
    assert app.evaluate(OVERLAPS) == [[], [], []]


def test_a_phone_shows_an_experiment_s_figures_without_texts_covering_each_other(app: Page, app_url: str):
    app.set_viewport_size({"width": 390, "height": 844})
    open_page(app, f"{app_url}/?epochs=5000")
    app.get_by_role("tab", name="Experiments").click()
    app.get_by_role("button", name="Run experiment").click()  # the p-sweep: two panels side by side
    app.get_by_text("Finished in").wait_for(timeout=90_000)
    app.locator("[data-testid=stPlotlyChart] .main-svg").first.wait_for()
    app.wait_for_timeout(500)
    overlaps = app.evaluate(OVERLAPS, "[data-testid=stPlotlyChart]")
    assert overlaps == [[]], overlaps


# Per chart of a selector, the texts (notes, axis and colour-bar titles) that reach past the chart's edges: cut off.
TEXTS_CUT = """(charts) => Array.from(document.querySelectorAll(charts)).map((chart) => {
  const edge = chart.getBoundingClientRect();
  return Array.from(chart.querySelectorAll('g.annotation, g[class$="title"]')).map((e) => [e.textContent, e.getBoundingClientRect()])
    .filter(([, r]) => r.width > 0 && (r.left < edge.left - 1 || r.right > edge.right + 1 || r.top < edge.top - 1))
    .map(([text]) => text);
})"""


@pytest.mark.parametrize(
    "experiment, charts",
    [("Monte Carlo dropout (Gal and Ghahramani 2016)", 2), ("Inside the network: dead units, correlations, robustness", 3)],
)
def test_a_phone_shows_the_probes_figures_whole(app: Page, app_url: str, experiment: str, charts: int):
    app.set_viewport_size({"width": 390, "height": 844})
    open_page(app, f"{app_url}/?epochs=5000")
    click(app, "Play")
    settle(app, lambda v: v["epoch"] >= 5)  # a trained pair to look inside
    click(app, "Pause")
    app.get_by_role("tab", name="Experiments").click()
    app.get_by_role("combobox", name="Experiment").click()
    app.get_by_role("option", name=experiment).click()
    app.get_by_role("button", name="Run experiment").click()
    app.get_by_text("Finished in").wait_for(timeout=90_000)
    app.locator("[data-testid=stPlotlyChart] .main-svg").first.wait_for()
    app.wait_for_timeout(500)
    assert app.evaluate(OVERLAPS, "[data-testid=stPlotlyChart]") == [[]] * charts
    assert app.evaluate(TEXTS_CUT, "[data-testid=stPlotlyChart]") == [[]] * charts  # no title cut at a chart's edge


def test_a_phone_shows_the_sampled_subnetworks_with_a_readable_title_over_each_map(app: Page, app_url: str):
    app.set_viewport_size({"width": 390, "height": 844})
    open_page(app, f"{app_url}/?epochs=5000")
    app.get_by_role("tab", name="Experiments").click()
    app.get_by_role("combobox", name="Experiment").click()
    app.get_by_role("option", name="Sampled subnetworks: the thinned networks dropout trains").click()
    app.get_by_role("button", name="Run experiment").click()  # eight maps: in one row they were 35 px wide
    app.get_by_text("Finished in").wait_for(timeout=90_000)
    app.locator("[data-testid=stPlotlyChart] .main-svg").first.wait_for()
    app.wait_for_timeout(500)
    assert app.evaluate(OVERLAPS, "[data-testid=stPlotlyChart]") == [[]]
    widths = app.evaluate(
        "() => Object.entries(document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot')._fullLayout)"
        ".filter(([key]) => /^xaxis\\d*$/.test(key)).map(([, axis]) => axis._length)"
    )
    assert len(widths) == 8 and min(widths) >= 60, widths


@pytest.mark.parametrize("width, height", [(1440, 900), (1280, 800)])
def test_the_ordinary_page_shows_network_curves_and_the_lesson_controls_on_a_laptop(app: Page, app_url: str, width, height):
    app.set_viewport_size({"width": width, "height": height})
    open_page(app, f"{app_url}/?epochs=5000")
    _play(app)
    shown = app.evaluate(BOXES)
    assert _outside(shown, ["network", "curves", "status", "play", "dropout", "p"]) == {}, shown
    assert app.evaluate(OVERLAPS) == [[], [], []]
    legends_and_plots = app.evaluate(LEGENDS_AND_PLOTS)  # beside the sidebar: every legend entry, panels to read
    assert [scrolls for scrolls, _ in legends_and_plots] == [0, 0, 0] and legends_and_plots[2][1] >= 90, legends_and_plots
    sidebar = app.locator("[data-testid=stSidebar]").bounding_box()
    assert shown["boxes"]["dropout"][2] <= sidebar["x"] + sidebar["width"]  # the sidebar's own switch, unscrolled


def test_a_phone_stacks_the_views_without_sideways_scrolling(app: Page, app_url: str):
    app.set_viewport_size({"width": 390, "height": 844})
    open_page(app, f"{app_url}/?epochs=5000")
    shown = app.evaluate(BOXES)
    assert shown["scrollWidth"] <= shown["width"], shown
    assert _outside(shown, ["play"]) == {}, shown
    boxes = [shown["boxes"][name] for name in ("network", "boundary", "curves")]
    assert all(b[0] >= 0 and b[2] <= shown["width"] for b in boxes), boxes  # each within the screen's width
    assert boxes[0][3] <= boxes[1][1] and boxes[1][3] <= boxes[2][1], boxes  # stacked, in the lesson's order
    _play(app)
    assert app.evaluate(BOXES)["scrollWidth"] <= shown["width"]
    assert app.evaluate(OVERLAPS) == [[], [], []]


def test_keys_play_step_switch_dropout_and_reset_but_not_while_typing(app: Page, app_url: str):
    app.set_viewport_size({"width": 1440, "height": 900})
    open_page(app, f"{app_url}/?epochs=5000")
    assert app.get_by_text("Keys: space play/pause · s step · d dropout · r reset").is_visible()
    app.keyboard.press(" ")
    settle(app, lambda v: v["playing"] and v["epoch"] >= 1)
    app.keyboard.press(" ")
    paused = settle(app, lambda v: not v["playing"])
    app.keyboard.press("s")
    settle(app, lambda v: v["step"] == paused["step"] + 1 and not v["playing"])
    assert app.evaluate(DROPOUT) == [True]
    app.keyboard.press("d")
    settle(app, lambda v: app.evaluate(DROPOUT) == [False])
    app.keyboard.press("r")
    settle(app, lambda v: (v["epoch"], v["step"]) == (0, 0))
    # Typed into a field, the same letters are text: nothing plays, steps, resets or switches.
    field = app.get_by_label("Uneven p (optional)", exact=True)
    field.click()
    field.press_sequentially("sd r")
    app.wait_for_timeout(1000)  # a window for what must not happen
    assert field.input_value() == "sd r"
    assert (settle(app)["step"], settle(app)["playing"], app.evaluate(DROPOUT)) == (0, False, [False])


def test_keys_work_in_presentation_mode_on_its_own_dropout_switch(app: Page, app_url: str):
    app.set_viewport_size({"width": 1280, "height": 720})
    open_page(app, f"{app_url}/?epochs=5000")
    _present(app)
    assert app.evaluate(DROPOUT) == [True, True]
    app.keyboard.press("d")  # the focus is still on the Presentation mode switch: "d" is no typing there
    settle(app, lambda v: app.evaluate(DROPOUT) == [False, False])  # the copy and the sidebar's switch agree
    app.keyboard.press("s")
    stepped = settle(app, lambda v: v["step"] == 1)
    assert stepped["droppedCount"] == 0  # dropout off: no neuron switched off in that step
    app.keyboard.press(" ")
    settle(app, lambda v: v["playing"])
    assert app.evaluate(DROPOUT) == [False, False]  # space played; it did not toggle the focused switch
