"""Pure figure builders: frozen records -> Plotly figures: network.py, curves.py, boundary.py, images (raster.py), one theme (theme.py).

Each figure is a *_spec: the figure as a plain dict as plotly.js takes it, made without Plotly's object model,
which costs every live frame too much even unvalidated; go.Figure(spec) checks one (the tests do).

Not here: model calls, metrics, anything random or stateful. Every number drawn was computed by the
engine and arrives in a Snapshot, History or Dataset; these functions only choose where and how to
draw it. One THEME holds every colour, width and font size. Figures read right on light and dark
page themes: transparent backgrounds, mid-tone colours, and text colour left to the template.
Each builder always returns the same traces in the same order (empty when there is nothing to
draw), so the page can update a figure in place and the browser keeps zoom (uirevision).

Imports core only (records, the data extent); experiments and web draw with these, never the reverse.
"""
