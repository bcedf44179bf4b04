// Keys for the person at the projector: each presses the page's visible button or switch of that name ("d": the visible
// "Dropout" switch, the sidebar's or presentation mode's copy). Never while typing, never with a modifier.
// Runs in the page itself (dropviz/web/keys.py adds it), once per page however often Streamlit reruns the script.
(() => {
  if (window.__dropvizKeys) return;
  window.__dropvizKeys = true;
  const KEYS = { " ": ["Play", "Pause"], s: ["Step"], r: ["Reset"], d: ["Dropout"] };
  const TEXT_INPUTS =
    "textarea, select, [contenteditable], input:not([type=checkbox], [type=radio], [type=button], [type=submit], [type=range])";

  function keyTarget(key) {
    const named = (element) => (KEYS[key] || []).includes(element.textContent.trim()) && element.getClientRects().length > 0;
    const switches = [...document.querySelectorAll("label")].filter((label) => label.querySelector("input[type=checkbox]"));
    if (key === "d") return switches.find(named)?.querySelector("input[type=checkbox]");
    return [...document.querySelectorAll("button")].find((button) => named(button) && !button.disabled);
  }

  let spaceTaken = false; // a handled space's keyup must not also press the focused button
  window.addEventListener("keydown", (event) => {
    const typing = event.target instanceof Element && event.target.closest(TEXT_INPUTS);
    if (event.ctrlKey || event.metaKey || event.altKey || typing) return;
    const key = event.key === " " ? " " : event.key.toLowerCase();
    const target = keyTarget(key);
    if (!target) return;
    event.preventDefault();
    event.stopPropagation(); // Streamlit's own keys ("r" reruns) do not also fire
    spaceTaken ||= key === " ";
    if (!event.repeat) target.click();
  }, true);
  window.addEventListener("keyup", (event) => {
    if (event.key !== " " || !spaceTaken) return;
    spaceTaken = false;
    event.preventDefault();
  }, true);
})();
