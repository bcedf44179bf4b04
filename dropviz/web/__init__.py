"""How runs are served to a page: sidebar controls <-> RunConfig and URL, the worker processes and the live view
(Python and its JavaScript), frames, exports, and which plotly.js the page loads.

The only sub-package that knows about Streamlit or the browser; it imports core, figures and experiments.
"""
