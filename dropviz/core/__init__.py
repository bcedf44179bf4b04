"""The engine, without Streamlit or I/O: RunConfig and validate() (the one gate), the data and preset registries,
the network arithmetic (NumPy reference, compiled kernel, torch reference), the Trainer and the frozen records it hands out.

Imports nothing from dropviz's other sub-packages: figures, experiments and web build on this, never the reverse.
"""
