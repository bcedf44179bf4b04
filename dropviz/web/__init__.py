"""How runs are served to a page: sidebar controls <-> RunConfig and URL, the worker processes and the live view
(Python and its JavaScript), frames, exports, and which plotly.js the page loads.

The only sub-package that knows about Streamlit or the browser (controls.py, live_chart.py and frame_route.py import
streamlit, as app.py and server.py do); it imports core, figures and experiments.
"""
