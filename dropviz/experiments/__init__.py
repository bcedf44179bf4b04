"""The Experiments tab: the EXPERIMENTS registry (registry.py), the sweeps and probes that run them, their figures,
and the claims the lessons make, measured.

Imports core and figures only; the page and the workers (web) call into this, never the reverse.
"""
