"""The graph's neuron maps in real Chromium: one per drawn neuron, grey and crossed while dropped, large when clicked."""

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.views import DECODE, click, open_page, settle

# Per drawn neuron of the network graph (the first chart): its column, unit, whether its column's picture names it dropped,
# where it is on screen, and whether its tile in that picture carries the dropped cross: a pixel on the diagonal in
# THEME.dropped grey (figures.raster.switched_off). Pictures are decoded through a canvas.
MAPS = (
    """async () => {"""
    + DECODE
    + """
  const plot = document.querySelectorAll('.dropviz-chart.js-plotly-plot')[0];
  const images = (plot.layout.images || []).filter((image) => image.name.startsWith('maps of column'));  // not the edges
  const pictures = {};  // column -> its sprite's pixels, one slot of height/count rows per drawn neuron
  for (const image of images) {
    const img = new Image(); img.src = image.source; await img.decode();
    const canvas = document.createElement('canvas'); canvas.width = img.width; canvas.height = img.height;
    const context = canvas.getContext('2d'); context.drawImage(img, 0, 0);
    pictures[image.name.split(' ')[3]] = {context, width: img.width, height: img.height, name: image.name};
  }
  const box = plot.getBoundingClientRect(), xa = plot._fullLayout.xaxis, ya = plot._fullLayout.yaxis;
  const nodes = [];
  const ids = decode(plot.data.find((t) => t.name === 'neuron').customdata);
  const xs = decode(plot.data.find((t) => t.name === 'neuron').x), ys = decode(plot.data.find((t) => t.name === 'neuron').y);
  const counts = {};
  for (const [column] of ids) counts[column] = (counts[column] || 0) + 1;
  for (let i = 0; i < ids.length; i++) {
    const [column, unit] = ids[i];
    const picture = pictures[column];
    const slot = picture.height / counts[column], top = unit * slot + Math.floor((slot - picture.width) / 2);
    const [r, g, b] = picture.context.getImageData(5, top + 5, 1, 1).data;  // on the tile's diagonal
    nodes.push({column, unit, dropped: picture.name.split('dropped this step')[1]?.split(' ').includes(column + ':' + unit) || false,
                crossed: r === 140 && g === 140 && b === 140,
                px: box.left + xa._offset + xa.l2p(xs[i]), py: box.top + ya._offset + ya.l2p(ys[i])});
  }
  return {images: images.length, nodes};
}"""
)


@pytest.fixture
def app(watched: Page, app_url: str):
    open_page(watched, f"{app_url}/?epochs=5000")
    return watched


def test_every_drawn_neuron_is_its_map_and_a_dropped_one_is_crossed_until_kept(app: Page):
    click(app, "Step")
    settle(app, lambda v: v["step"] == 1)
    maps = app.evaluate(MAPS)
    assert (maps["images"], len(maps["nodes"])) == (4, 2 + 10 + 10 + 2)  # a picture per column; of 128 per layer, 10 drawn
    assert all(node["crossed"] == node["dropped"] for node in maps["nodes"])  # the cross is exactly on the dropped
    watched = next(node for node in maps["nodes"] if node["dropped"] and node["column"] > 0)
    for step in range(2, 30):  # p = 0.5: the watched neuron is kept again within a few steps
        click(app, "Step")
        settle(app, lambda v, step=step: v["step"] == step)
        now = next(n for n in app.evaluate(MAPS)["nodes"] if (n["column"], n["unit"]) == (watched["column"], watched["unit"]))
        if not now["dropped"]:
            break
    assert not now["dropped"] and now["crossed"] is False  # kept again: its map in colour, no cross


def test_a_click_on_a_neuron_shows_it_large_in_both_runs(app: Page):
    click(app, "Step")
    settle(app, lambda v: v["step"] == 1)
    node = next(n for n in app.evaluate(MAPS)["nodes"] if n["column"] == 2 and n["unit"] == 3)
    app.mouse.click(node["px"], node["py"])
    closeup = app.locator(".stPlotlyChart, [data-testid=stPlotlyChart]").filter(has_text="hidden 2 · unit 3")
    expect(closeup).to_have_count(1, timeout=30_000)
    expect(closeup.get_by_text("no-dropout twin", exact=True)).to_have_count(1)  # the right panel's title
    expect(closeup.get_by_text("incoming weights")).to_have_count(1)
    expect(app.get_by_text("first-layer neurons are on over a smaller part of the plane")).to_have_count(1)
