// The live view: the status line and the three Plotly charts, which the browser updates in place frame after frame.
//
// A frame holds the status and every whole figure: the first comes in the Streamlit run (dropviz/web/live_chart.py),
// the next ones, while the run plays, from the frame route (dropviz/web/frame_route.py). Here, in the page, per chart:
// - nothing changed: nothing is drawn;
// - only layout images, annotations or shapes changed: Plotly.relayout of those items, which redraws
//   them alone;
// - a trace or the rest of the layout changed: Plotly.react, a redraw of the whole figure.
// Frames never queue: while one is being drawn, a newer frame replaces any waiting one.

const PLOTLY_URL = "app/static/plotly.min.js"; // served by Streamlit's static serving, next to app.py
const ITEMS = ["images", "annotations", "shapes"];

function loadPlotly() {
  // The page's first element may have started the load already (dropviz/web/live_chart.py, preload_plotly).
  if (!window.__dropvizPlotly) {
    window.__dropvizPlotly = new Promise((resolve, reject) => {
      let script = document.querySelector("script[data-dropviz-plotly]");
      if (window.Plotly) return resolve(window.Plotly);
      if (!script) {
        script = document.createElement("script");
        script.src = PLOTLY_URL;
        script.dataset.dropvizPlotly = "";
        document.head.appendChild(script);
      }
      script.addEventListener("load", () => resolve(window.Plotly));
      script.addEventListener("error", () => {
        window.__dropvizPlotly = null; // the next frame tries again
        script.remove();
        reject(new Error(`could not load ${PLOTLY_URL}`));
      });
    });
  }
  return window.__dropvizPlotly;
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

// What is on screen, in a form to compare the next frame with.
function describe(figure) {
  const rest = { ...figure.layout };
  const items = {};
  for (const name of ITEMS) {
    items[name] = (rest[name] || []).map((item) => JSON.stringify(item));
    delete rest[name];
  }
  return { traces: figure.data.map((trace) => JSON.stringify(trace)), rest: JSON.stringify(rest), items };
}

// The relayout edits that turn the shown items into the new ones, or null when more than items changed.
function itemEdits(shown, next, layout) {
  if (shown.rest !== next.rest || shown.traces.length !== next.traces.length) return null;
  if (next.traces.some((trace, i) => trace !== shown.traces[i])) return null;
  const edits = {};
  for (const name of ITEMS) {
    if (shown.items[name].length !== next.items[name].length) return null;
    next.items[name].forEach((json, i) => {
      if (json === shown.items[name][i]) return;
      const before = JSON.parse(shown.items[name][i]);
      const after = layout[name][i];
      for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
        if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) edits[`${name}[${i}].${key}`] = after[key] ?? null;
      }
    });
  }
  return edits;
}

// A figure of the fitted view: the height that ends it at the window's edge; for the right column's short charts, the
// legend at their right, as a column, and fewer epoch ticks, so that their plots keep their height. Modifies figure.layout.
function fitted(figure, height, name) {
  const layout = figure.layout;
  layout.height = height;
  if (name === "network" || !layout.legend) return;
  for (const axis of ["xaxis", "xaxis2"]) {
    if (layout[axis] && layout[axis].dtick === undefined) layout[axis] = { ...layout[axis], nticks: 3, tickangle: 0 };
  }
  const size = Math.min(LEGEND_FONT, (layout.legend.font && layout.legend.font.size) || LEGEND_FONT);
  const names = figure.data.filter((trace) => trace.showlegend !== false && trace.name).map((trace) => trace.name.length);
  const right = Math.round(0.55 * size * Math.max(0, ...names) + 3 * size); // the longest name and its symbol
  const font = { ...(layout.legend.font || {}), size };
  layout.legend = { ...layout.legend, font, orientation: "v", x: 1.02, xanchor: "left", y: 1, yanchor: "top", tracegroupgap: 2 };
  if ((layout.margin || {}).autoexpand === false) {
    // Fixed margins (the curves): the legend may use the figure's whole height; automatic ones would grow around it.
    layout.legend = { ...layout.legend, yref: "container", maxheight: 1 };
  }
  layout.margin = { ...(layout.margin || {}), r: right, b: Math.min((layout.margin || {}).b ?? 10, 3.5 * size) };
}

// The curves on a narrow view (a phone): their legend wraps into more rows, given room below the plots. Modifies figure.layout.
function stacked(figure) {
  const layout = figure.layout;
  const extra = NARROW_LEGEND;
  layout.height = (layout.height || 360) + extra;
  layout.margin = { ...(layout.margin || {}), b: ((layout.margin || {}).b ?? 10) + extra };
}

async function draw(Plotly, state, frame, element) {
  const sent = frame.figure;
  const figure = { data: sent.data || [], layout: themed(sent.layout || {}, element) };
  if (state.height) fitted(figure, state.height, state.name);
  else if (state.name === "curves" && state.narrow) stacked(figure);
  const next = describe(figure);
  const edits = state.shown ? itemEdits(state.shown, next, figure.layout) : null;
  if (edits === null) {
    await Plotly.react(state.div, figure.data, figure.layout, { ...frame.config, responsive: true });
  } else if (Object.keys(edits).length > 0) {
    await Plotly.relayout(state.div, edits);
  } else {
    return false;
  }
  state.shown = next;
  if (state.name === "network" && !state.clickable) listenForNeurons(state.div);
  state.clickable = true;
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

// The view's layout: on a wide view the network fills the left column, boundaries over curves on the right, all sized to
// end at the window's bottom edge; on a narrow one (a phone) the three are stacked at the frame's heights.
const STYLE = `
.dropviz-head {display: flex; flex-wrap: wrap; justify-content: space-between; align-items: flex-end; gap: 0 1.5rem; margin: 0 0 0.5rem 0;}
.dropviz-keys {font-size: 0.9rem; opacity: 0.75;}
.dropviz-grid {display: grid; gap: 0.5rem 1rem; grid-template-columns: minmax(0, 1fr); grid-template-areas: "network" "boundary" "curves";}
.dropviz-grid.dropviz-fit {grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); grid-template-areas: "network boundary" "network curves";}
.dropviz-grid > div {min-width: 0;}
.dropviz-caption {margin: 0 0 0.25rem 0;}
.dropviz-fit .dropviz-caption div {white-space: nowrap; overflow: hidden; text-overflow: ellipsis;}
.dropviz-wide .dropviz-head {flex-wrap: nowrap;}
.dropviz-wide .dropviz-status {flex: 1 1 auto; min-width: 0;}
.dropviz-wide .dropviz-status div {white-space: nowrap; overflow: hidden; text-overflow: ellipsis;}
`;
// On a wide view the status lines never wrap and the key hint stays beside them: the charts below keep their place, and
// their fitted heights, however long the numbers of a frame are (a new height redraws a whole chart).
const WIDE = 760; // px of the view from which the charts sit side by side and fit the window
const FIT_MIN = 280; // px of the charts' column at the least, however short the window: below, the page scrolls
const LEGEND_FONT = 13; // px at most in a fitted chart's legend column, so that a short chart's legend stays whole
const NARROW_LEGEND = 110; // px more below a narrow view's curves, for their legend's extra rows
const KEY_HINT = "Keys: space play/pause · s step · d dropout · r reset";

// The view's elements, made once per page: a head (status and the keys' hint), then the three charts in a grid.
function build(parentElement, captions) {
  if (!document.querySelector("style[data-dropviz-live]")) {
    const style = document.createElement("style");
    style.dataset.dropvizLive = "";
    style.textContent = STYLE;
    document.head.appendChild(style);
  }
  const root = document.createElement("div");
  root.className = "dropviz-live";
  const head = document.createElement("div");
  head.className = "dropviz-head";
  const status = document.createElement("div");
  status.className = "dropviz-status";
  const keys = document.createElement("div");
  keys.className = "dropviz-keys";
  keys.textContent = KEY_HINT;
  head.append(status, keys);
  const grid = document.createElement("div");
  grid.className = "dropviz-grid";
  root.append(head, grid);
  const charts = {};
  for (const name of ["network", "boundary", "curves"]) {
    const box = document.createElement("div");
    box.style.gridArea = name;
    const caption = document.createElement("p");
    caption.className = "dropviz-caption";
    caption.innerHTML = captions[name] || "";
    caption.title = caption.textContent; // the whole text, when a fitted view cuts it to a line
    const div = document.createElement("div");
    div.className = "dropviz-chart";
    box.append(caption, div);
    grid.appendChild(box);
    charts[name] = { name, div, caption, shown: null, waiting: null, busy: false, height: null };
    // Plotly follows the window's size, not its container's (the sidebar hiding in presentation mode, for one).
    let resizing = false;
    new ResizeObserver(() => {
      if (resizing || !charts[name].shown || !window.Plotly) return;
      resizing = true;
      requestAnimationFrame(() => {
        resizing = false;
        window.Plotly.Plots.resize(div).catch(() => {});
      });
    }).observe(div);
  }
  parentElement.appendChild(root);
  listenForKeys();
  return { root, status, grid, charts, painted: 0 };
}

// Each chart's height: on a wide view, what ends the charts at the window's bottom edge; else null (the frame's).
function fit(view) {
  const wide = view.root.clientWidth >= WIDE;
  view.grid.classList.toggle("dropviz-fit", wide);
  view.root.classList.toggle("dropviz-wide", wide);
  const { network, boundary, curves } = view.charts;
  for (const state of [network, boundary, curves]) state.narrow = !wide;
  if (!wide) {
    for (const state of [network, boundary, curves]) state.height = null;
    return;
  }
  const bottom = window.innerHeight - 8; // in the page's coordinates at its top, where a class first sees it
  const top = (element) => element.getBoundingClientRect().top + window.scrollY;
  const gap = parseFloat(getComputedStyle(view.grid).rowGap) || 0;
  const captionOfCurves = top(curves.div) - top(curves.caption);
  const right = Math.max(FIT_MIN, bottom - top(boundary.div)) - gap - captionOfCurves; // boundary and curves share it
  network.height = Math.round(Math.max(FIT_MIN, bottom - top(network.div)));
  boundary.height = Math.round(0.48 * right);
  curves.height = Math.round(0.52 * right);
}

// Keys for the person at the projector: each presses the page's visible button or switch of that name.
// Never while typing in a field, and never with a modifier (the browser's own shortcuts).
const KEYS = { " ": ["Play", "Pause"], s: ["Step"], r: ["Reset"] };

function typing(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable || target.closest("textarea, select, [contenteditable]")) return true;
  return target.tagName === "INPUT" && !["checkbox", "radio", "button", "submit", "range"].includes(target.type);
}

const visible = (element) => element.getClientRects().length > 0;

// The visible "Dropout" switch (the sidebar's, or presentation mode's copy when the sidebar is hidden).
function dropoutSwitch() {
  const inputs = Array.from(document.querySelectorAll("label input[type=checkbox]"));
  const named = inputs.filter((input) => input.closest("label").textContent.trim() === "Dropout");
  return named.find((input) => visible(input.closest("label"))) || null;
}

function keyTarget(key) {
  if (key === "d") return dropoutSwitch();
  const names = KEYS[key];
  if (!names) return null;
  const buttons = Array.from(document.querySelectorAll("button"));
  return buttons.find((b) => names.includes(b.textContent.trim()) && !b.disabled && visible(b)) || null;
}

let spaceTaken = false; // a handled space's keyup must not also press the focused button
function onKeyDown(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
  const key = event.key === " " ? " " : event.key.toLowerCase();
  const target = keyTarget(key);
  if (!target) return;
  event.preventDefault();
  event.stopPropagation(); // Streamlit's own keys ("r" reruns) do not also fire
  if (key === " ") spaceTaken = true;
  if (!event.repeat) target.click();
}

function listenForKeys() {
  if (window.__dropvizKeys) return;
  window.__dropvizKeys = true;
  window.addEventListener("keydown", onKeyDown, true);
  window.addEventListener(
    "keyup",
    (event) => {
      if (event.key !== " " || !spaceTaken) return;
      spaceTaken = false;
      event.preventDefault();
    },
    true,
  );
}

// A frame comes as the bytes of its JSON (dropviz/web/frames.py), which the page server passed on untouched.
function decode(data) {
  if (data instanceof ArrayBuffer) data = new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return JSON.parse(new TextDecoder().decode(data));
  return typeof data === "string" ? JSON.parse(data) : data;
}

// Shows one frame: its status at once, its charts as soon as the browser is free to draw them.
// Resolves when every chart has drawn it (or a newer frame), then counts it painted.
function show(view, data, parentElement) {
  if (view.status.innerHTML !== data.status) view.status.innerHTML = data.status; // HTML made from escaped text
  fit(view);
  for (const [name, frame] of Object.entries(data.charts)) {
    const state = view.charts[name];
    state.div.style.minHeight = `${state.height || frame.height}px`; // the page does not jump while plotly.js loads
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

// While the run plays: fetch the next frame once the last one is painted and the period the server gives is over.
// One loop per view: a new frame from Streamlit (a click, say) starts a new generation, and older loops end.
async function follow(view, source, generation, component) {
  let period = 0.25; // seconds, until the server says
  let retries = 0;
  let started = performance.now(); // the frame from Streamlit, just shown: the first request waits a period too
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
      // 503: the training process is busy or restarting; 429: another request of this run was
      // still out. Try again, a little later each time.
      retries += 1;
      if (retries > 30) break;
      period = Math.min(retries, 5);
      continue;
    }
    if (!response.ok) break; // 404: the server no longer has this run; the page's rerun shows what it has
    retries = 0;
    period = Number(response.headers.get("X-Dropviz-Period")) || 0.25;
    // The next request waits for this frame's paint, so a slow computer asks for fewer frames rather than
    // drop frames the server made.
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
