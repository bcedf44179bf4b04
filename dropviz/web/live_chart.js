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

async function draw(Plotly, state, frame, element) {
  const sent = frame.figure;
  const figure = { data: sent.data || [], layout: themed(sent.layout || {}, element) };
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

// The view's elements, made once per page: status, then network | boundary side by side, then the curves.
function build(parentElement, captions) {
  const root = document.createElement("div");
  root.className = "dropviz-live";
  const status = document.createElement("div");
  status.className = "dropviz-status";
  status.style.margin = "0 0 1rem 0";
  const row = document.createElement("div");
  row.style.cssText = "display: grid; grid-template-columns: 1fr 1fr; gap: 1rem;";
  root.append(status, row);
  const charts = {};
  for (const name of ["network", "boundary", "curves"]) {
    const box = document.createElement("div");
    box.style.minWidth = "0"; // a grid cell may shrink below the chart's width; Plotly then follows it
    const caption = document.createElement("p");
    caption.className = "dropviz-caption";
    caption.innerHTML = captions[name] || "";
    const div = document.createElement("div");
    div.className = "dropviz-chart";
    box.append(caption, div);
    (name === "curves" ? root : row).appendChild(box);
    charts[name] = { name, div, shown: null, waiting: null, busy: false };
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
  return { root, status, charts, painted: 0 };
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
  for (const [name, frame] of Object.entries(data.charts)) {
    const state = view.charts[name];
    state.div.style.minHeight = `${frame.height}px`; // the page does not jump while plotly.js loads
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
