"""The page for digits in real Chromium: the tracked digit as the network saw it, validation digits and confusion matrices."""

from playwright.sync_api import Page

from tests.e2e.views import click, open_page, settle

# Per chart: the names of its layout images and how many of them the browser drew (an <image> each in the chart's SVG).
IMAGES = """() => [...document.querySelectorAll('.dropviz-chart.js-plotly-plot')].map((plot) => ({
  names: (plot.layout.images || []).map((image) => image.name),
  drawn: plot.querySelectorAll('.layer-above image, .layer-below image, .imagelayer image').length,
}))"""


def test_digits_draw_the_input_picture_the_strip_and_both_confusion_matrices_and_train(watched: Page, app_url: str):
    open_page(watched, f"{app_url}/?preset=handwritten+digits&epochs=5000")
    click(watched, "Step")
    settle(watched, lambda v: v["step"] == 1)
    network, digits, _ = watched.evaluate(IMAGES)
    assert network["names"][0] == "input image" and network["drawn"] >= 2  # the picture and the edges
    assert digits["names"][:2] == ["confusion, with dropout", "confusion, no-dropout twin"]
    assert [n for n in digits["names"] if n.startswith("digit ")] == [f"digit {i}" for i in range(12)]
    assert digits["drawn"] == len(digits["names"])  # every picture is on screen
    text = watched.locator(".dropviz-chart").nth(1).inner_text()
    assert "no predictions yet" in text  # no epoch has ended after one step
    click(watched, "Play")
    settled = settle(watched, lambda v: v["epoch"] >= 3)
    assert settled["epoch"] >= 3
    text = watched.locator(".dropviz-chart").nth(1).inner_text()
    assert "of 500 right" in text and "no predictions yet" not in text  # the matrices count the 500 validation digits
