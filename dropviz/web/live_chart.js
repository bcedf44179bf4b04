// The live view: the status line and the three Plotly charts, which the browser updates in place frame after frame.
//
// A frame holds the status and every whole figure: the first comes in the Streamlit run (dropviz/web/live_chart.py),
// the next ones, while the run plays, from the frame route (dropviz/web/frame_route.py). Per chart, the page compares
// the frame with the last one drawn and makes the least of plotly.js's calls (changes): new layout images, annotations
// or shapes -> Plotly.relayout of those; traces that only grew -> Plotly.extendTraces of their new points; other
// changed traces -> Plotly.restyle of those (with the grown ones: one redraw); anything else (a new layout, a new number of
// traces) -> Plotly.react.
// Frames never queue: while one is being drawn, a newer frame replaces any waiting one.

const PLOTLY_URL = "app/static/plotly.min.js"; // served by Streamlit's static serving, next to app.py
const ITEMS = ["images", "annotations", "shapes"];
const TYPES = {
  ...{ f4: Float32Array, f8: Float64Array, i1: Int8Array, u1: Uint8Array },
  ...{ i2: Int16Array, u2: Uint16Array, i4: Int32Array, u4: Uint32Array },
};

// plotly.js, loaded once: the page's first element started the load (dropviz/web/plotly_js.py, preload); if that
// failed, a script of our own tries again, and the next frame after another failure.
function loadPlotly() {
  window.__dropvizPlotly ||= new Promise((resolve, reject) => {
    if (window.Plotly) return resolve(window.Plotly);
    let script = document.querySelector("script[data-dropviz-plotly]");
    script ||= document.head.appendChild(Object.assign(document.createElement("script"), { src: PLOTLY_URL }));
    script.dataset.dropvizPlotly = "";
    script.addEventListener("load", () => resolve(window.Plotly));
    script.addEventListener("error", () => {
      window.__dropvizPlotly = null; // the next frame tries again
      script.remove();
      reject(new Error(`could not load ${PLOTLY_URL}`));
    });
  });
  return window.__dropvizPlotly;
}

// A 1-D array as sent ({dtype, bdata}) -> a typed array, which Plotly.extendTraces can append to; anything else as it is.
function typed(value) {
  if (!value || typeof value.bdata !== "string" || value.shape) return value;
  return new TYPES[value.dtype](Uint8Array.from(atob(value.bdata), (c) => c.charCodeAt(0)).buffer);
}

// Text and grid colours from the page's theme (Streamlit sets --st-* variables), so the figure reads in light and dark.
function themed(layout, element) {
  const text = getComputedStyle(element).getPropertyValue("--st-text-color").trim() || "#31333F";
  const grid = "rgba(128, 128, 128, 0.3)";
  const out = { ...layout, font: { ...(layout.font || {}), color: text } };
  for (const key of Object.keys(out)) {
    if (/^[xy]axis\d*$/.test(key)) out[key] = { gridcolor: grid, linecolor: grid, zerolinecolor: grid, ...out[key] };
  }
  return out;
}

// A figure of the fitted view: the height that ends it at the window's edge; for the right column's short charts, the
// legend at their right, as a column, and fewer epoch ticks, so that their plots keep their height. On a narrow view
// (a phone) the curves' legend wraps into more rows, given room below the plots. Modifies figure.layout.
function fitted(figure, state) {
  const layout = figure.layout;
  const margin = layout.margin || {};
  if (!state.height) {
    if (state.name === "curves" && state.narrow) {
      layout.height = (layout.height || 360) + NARROW_LEGEND;
      layout.margin = { ...margin, b: (margin.b ?? 10) + NARROW_LEGEND };
    }
    return;
  }
  layout.height = state.height;
  if (state.name === "network" || !layout.legend) return;
  for (const axis of ["xaxis", "xaxis2"]) {
    if (layout[axis] && layout[axis].dtick === undefined) layout[axis] = { ...layout[axis], nticks: 3, tickangle: 0 };
  }
  // A figure may ask to keep its legend where it is (the digits' strip alone: beside it, the legend took the width
  // the strip's answers need).
  if (layout.meta && layout.meta.legend === "stays") return;
  const names = figure.data.filter((trace) => trace.showlegend !== false && trace.name).map((trace) => trace.name.length);
  const size = Math.min(LEGEND_FONT, (layout.legend.font && layout.legend.font.size) || LEGEND_FONT);
  const right = Math.round(0.55 * size * Math.max(0, ...names) + 3 * size); // the longest name and its symbol
  const font = { ...(layout.legend.font || {}), size };
  // The legend uses the figure's whole height, not only its plots' (a short chart's would scroll, hiding entries); so
  // the margins are fixed, with room for the ticks: automatic ones would grow around the legend.
  layout.legend = { ...layout.legend, font, orientation: "v", tracegroupgap: 0, yref: "container", maxheight: 1 };
  Object.assign(layout.legend, { x: 1.02, xanchor: "left", y: 1, yanchor: "top" });
  const tick = (layout.xaxis && layout.xaxis.tickfont && layout.xaxis.tickfont.size) || 12;
  const [left, below] = margin.autoexpand === false ? [margin.l, margin.b] : [Math.max(margin.l ?? 10, 2.6 * tick), 2.4 * tick];
  layout.margin = { ...margin, l: left, r: right, b: Math.min(below ?? 10, 3.5 * size), autoexpand: false };
}

// A figure as drawn (typed arrays, the theme, fitted) and, to compare the next with, JSON as sent of: each trace, each
// layout item (per name in ITEMS), the rest of the layout (as drawn). Made before plotly.js, which may modify them, sees it.
function prepare(sent, state, element) {
  const data = sent.data.map(({ x, y, ...trace }) => Object.assign(trace, x && { x: typed(x) }, y && { y: typed(y) }));
  const figure = { data, layout: themed(sent.layout, element) };
  fitted(figure, state);
  const { images, annotations, shapes, ...rest } = figure.layout;
  const items = ITEMS.map((name) => (sent.layout[name] || []).map((item) => JSON.stringify(item)));
  return { figure, traces: sent.data.map((trace) => JSON.stringify(trace)), items, rest: JSON.stringify(rest) };
}

// The keys whose values differ between two objects (as JSON), each with its new value (null: gone), as Plotly.relayout
// and Plotly.restyle take them.
function edits(was, is, prefix = "") {
  if (was === is) return {};
  [was, is] = [JSON.parse(was), JSON.parse(is)];
  const keys = [...new Set([...Object.keys(was), ...Object.keys(is)])];
  const changed = keys.filter((k) => JSON.stringify(was[k]) !== JSON.stringify(is[k]));
  return Object.fromEntries(changed.map((k) => [prefix + k, is[k] ?? null]));
}

// Whether the typed array `is` holds `was` and more (compared byte for byte, so that NaN gaps match too).
function grew(was, is) {
  if (!ArrayBuffer.isView(was) || !ArrayBuffer.isView(is) || was.constructor !== is.constructor) return false;
  if (is.length <= was.length) return false;
  const [old, now] = [was, is].map((array) => new Uint8Array(array.buffer, array.byteOffset, was.byteLength));
  return old.every((byte, i) => byte === now[i]);
}

// The calls that turn the shown figure into the next: null for Plotly.react (the layout beyond its items, or the number of
// traces or items, changed); else {relayout: edits of the items, extend: [traces at x0 + i dx whose y only gained
// points], restyle: {trace: [changed keys]} of the other changed traces}.
function changes(shown, next) {
  if (!shown || shown.rest !== next.rest || shown.traces.length !== next.traces.length) return null;
  if (next.items.some((items, n) => items.length !== shown.items[n].length)) return null;
  const [relayout, extend, restyle] = [{}, [], {}];
  next.items.forEach((items, n) => {
    items.forEach((item, i) => Object.assign(relayout, edits(shown.items[n][i], item, `${ITEMS[n]}[${i}].`)));
  });
  next.traces.forEach((trace, i) => {
    const keys = Object.keys(edits(shown.traces[i], trace));
    const [was, is] = [shown.figure.data[i], next.figure.data[i]];
    if (keys.join() === "y" && is.x === undefined && grew(was.y, is.y)) extend.push(i);
    else if (keys.length) restyle[i] = keys;
  });
  return { relayout, extend, restyle };
}

async function draw(Plotly, state, frame, element) {
  const next = prepare(frame.figure, state, element);
  const { data, layout } = next.figure;
  const calls = changes(state.shown, next);
  if (!calls) await Plotly.react(state.div, data, layout, { ...frame.config, responsive: true });
  else {
    const { relayout, extend, restyle } = calls;
    if (Object.keys(restyle).length) extend.splice(0).forEach((i) => (restyle[i] = ["y"])); // one redraw, not two
    const ids = Object.keys(restyle).map(Number);
    const keys = [...new Set(ids.flatMap((i) => restyle[i]))];
    if (!Object.keys(relayout).length && !ids.length && !extend.length) return false;
    if (Object.keys(relayout).length) await Plotly.relayout(state.div, relayout);
    const values = Object.fromEntries(keys.map((k) => [k, ids.map((i) => data[i][k] ?? null)]));
    if (ids.length) await Plotly.restyle(state.div, values, ids);
    const points = extend.map((i) => data[i].y.subarray(state.shown.figure.data[i].y.length));
    if (extend.length) await Plotly.extendTraces(state.div, { y: points }, extend);
  }
  if (state.name === "network" && !state.shown) listenForNeurons(state.div);
  state.shown = next;
  return true;
}

// The page's component of the latest run of the script: a click on a neuron tells it which one (column, unit).
let latestComponent = null;
function listenForNeurons(div) {
  div.on("plotly_click", (event) => {
    const point = (event.points || []).find((p) => Array.isArray(p.customdata) || ArrayBuffer.isView(p.customdata));
    if (point && latestComponent) latestComponent.setTriggerValue("neuron", Array.from(point.customdata, Number));
  });
}

async function drain(state, element) {
  state.busy = true;
  try {
    const Plotly = await loadPlotly();
    while (state.waiting) {
      const frame = state.waiting;
      state.waiting = null;
      if (await draw(Plotly, state, frame, element)) {
        await new Promise((resolve) => requestAnimationFrame(resolve)); // painted before the next frame starts
        (window.__dropvizPainted ||= []).push([performance.now(), frame.name]); // read by bench/ and tests/e2e
      }
    }
  } catch (error) {
    console.error("dropviz chart:", error);
  } finally {
    state.busy = false;
  }
}

const WIDE = 760; // px of the view from which the charts sit side by side and fit the window
const FIT_MIN = 280; // px of the charts' column at the least, however short the window: below, the page scrolls
const LEGEND_FONT = 13; // px at most in a fitted chart's legend column, so that a short chart's legend stays whole
const NARROW_LEGEND = 110; // px more below a narrow view's curves, for their legend's extra rows
const KEY_HINT = "Keys: space play/pause · s step · d dropout · r reset";

// The view's elements, made once per page: a head (status and the keys' hint), then the three charts in a grid (their
// layout: dropviz/web/live_chart.css).
function build(parentElement, captions) {
  const root = Object.assign(document.createElement("div"), { className: "dropviz-live" });
  const chart = (name) =>
    `<div style="grid-area: ${name}"><div class="dropviz-caption">${captions[name] || ""}</div><div class="dropviz-chart"></div></div>`;
  root.innerHTML = `<div class="dropviz-head"><div class="dropviz-status"></div><div class="dropviz-keys">${KEY_HINT}</div></div>
    <div class="dropviz-grid">${["network", "boundary", "curves"].map(chart).join("")}</div>`;
  parentElement.appendChild(root);
  const charts = {};
  root.querySelectorAll(".dropviz-chart").forEach((div, i) => {
    const name = ["network", "boundary", "curves"][i];
    const caption = div.previousElementSibling;
    caption.title = caption.textContent; // the whole text, when a fitted view cuts it to a line
    const state = (charts[name] = { name, div, caption, shown: null, waiting: null, busy: false, height: null });
    // Plotly follows the window's size, not its container's (the sidebar hiding in presentation mode, for one).
    new ResizeObserver(() => {
      if (state.resizing || !state.shown || !window.Plotly) return;
      state.resizing = true;
      requestAnimationFrame(() => window.Plotly.Plots.resize(div).catch(() => {}).finally(() => (state.resizing = false)));
    }).observe(div);
  });
  return { root, status: root.querySelector(".dropviz-status"), grid: root.querySelector(".dropviz-grid"), charts, painted: 0 };
}

// Each chart's height: on a wide view, what ends the charts at the window's bottom edge; else null (the frame's).
function fit(view) {
  const wide = view.root.clientWidth >= WIDE;
  view.grid.classList.toggle("dropviz-fit", wide);
  view.root.classList.toggle("dropviz-wide", wide);
  const { network, boundary, curves } = view.charts;
  for (const state of [network, boundary, curves]) [state.narrow, state.height] = [!wide, null];
  if (!wide) return;
  const bottom = window.innerHeight - 8; // in the page's coordinates at its top, where a class first sees it
  const top = (element) => element.getBoundingClientRect().top + window.scrollY;
  const gap = parseFloat(getComputedStyle(view.grid).rowGap) || 0;
  const right = Math.max(FIT_MIN, bottom - top(boundary.div)) - gap - (top(curves.div) - top(curves.caption)); // shared
  network.height = Math.round(Math.max(FIT_MIN, bottom - top(network.div)));
  boundary.height = Math.round(0.48 * right);
  curves.height = Math.round(0.52 * right);
}

// A frame comes as the bytes of its JSON (dropviz/web/frames.py), which the page server passed on untouched.
const decode = (data) => JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data));

// Shows one frame: its status at once, its charts as soon as the browser is free to draw them.
// Resolves when every chart has drawn it (or a newer frame), then counts it painted.
function show(view, data, parentElement) {
  if (view.status.innerHTML !== data.status) view.status.innerHTML = data.status; // HTML made from escaped text
  fit(view);
  for (const [name, frame] of Object.entries(data.charts)) {
    const state = view.charts[name];
    // The height it is drawn at (fitted): the page does not jump while plotly.js loads, and Plotly's resize keeps it.
    const stacked = state.narrow && name === "curves" ? NARROW_LEGEND : 0;
    state.div.style.minHeight = `${state.height || frame.height + stacked}px`;
    state.waiting = frame;
    if (!state.busy) state.drawn = drain(state, parentElement);
  }
  return Promise.all(Object.values(view.charts).map((state) => state.drawn)).then(() => {
    // What tests wait on and read: frames this view has fully painted, and the last of them (tests/web/test_live_chart_js.py).
    view.root.dataset.painted = String((view.painted += 1));
    view.root.__dropvizFrame = data;
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// While the run plays: fetch the next frame once the last one is painted and the period the server gives is over (a
// slow computer asks for fewer frames rather than drop frames the server made). One loop per view: a new frame from
// Streamlit (a click, say) starts a new generation, and older loops end.
async function follow(view, source, generation, component) {
  let [period, retries, started] = [0.25, 0, performance.now()]; // seconds until the server says; the first waits too
  while (view.generation === generation && source && component.parentElement.isConnected) {
    await sleep(Math.max(0, started + 1000 * period - performance.now()));
    if (view.generation !== generation) return;
    started = performance.now();
    let response, data;
    try {
      response = await fetch(source, { cache: "no-store" });
      if (response.ok) data = decode(await response.arrayBuffer());
    } catch (error) {
      response = null; // the network, or a frame cut off on its way
    }
    if (view.generation !== generation) return;
    if (!response || response.status === 503 || response.status === 429) {
      // 503: the worker is busy or restarting; 429: another request of this run was still out. Later, each time.
      if (++retries > 30) break;
      period = Math.min(retries, 5);
      continue;
    }
    if (!response.ok) break; // 404 or 410: the server no longer has this run; the page's rerun shows what it has
    [retries, period] = [0, Number(response.headers.get("X-Dropviz-Period")) || 0.25];
    await show(view, data, component.parentElement);
    source = data.source;
  }
  if (view.generation === generation) component.setTriggerValue("stopped", Date.now()); // the page shows Play again
}

export default function (component) {
  const { parentElement } = component;
  latestComponent = component;
  const data = decode(component.data);
  const view = (parentElement.__dropviz ||= build(parentElement, data.captions));
  view.generation = (view.generation || 0) + 1;
  show(view, data, parentElement);
  if (data.source) follow(view, data.source, view.generation, component);
}
