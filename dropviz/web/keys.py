"""Keyboard shortcuts for the person at the projector: space, s, d and r press Play/Pause, Step, Dropout and Reset.

The page's own script (dropviz/web/keys.js, which app.py adds with st.html) presses the visible button or switch of that
name, so a key does exactly what the click does, through the same Streamlit callbacks. The live view shows the hint
(dropviz/web/live_chart.js).
"""

from pathlib import Path

SCRIPT = f"<script>{Path(__file__).with_name('keys.js').read_text()}</script>"
