"""`python -m dropviz`: the command line, dropviz/cli.py."""

from dropviz.cli import main

raise SystemExit(main())
