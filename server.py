"""The dropviz server: the Streamlit page (app.py) plus the route its live view fetches frames from (dropviz/web/frame_route.py).

Run it with `make run` (`streamlit run server.py`).
"""

import streamlit as st

from dropviz.web.frame_route import routes

app = st.App("app.py", routes=routes())
