"""dropviz: an interactive visualizer of dropout. The engine is in core/, pictures in figures/, the Experiments tab in experiments/,
the serving of pages in web/, the command line in cli.py; app.py is the web page."""
