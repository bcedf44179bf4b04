"""dropviz: an interactive visualizer of dropout. The engine lives here; app.py is the web page."""
