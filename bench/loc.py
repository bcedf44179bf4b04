"""Prints the live layer's size in code lines: lines holding code, not blank, not only a comment; docstrings count as
comments (and, second column, as code). Usage: python bench/loc.py [files...] (default: the live layer's files)."""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIVE = [
    "dropviz/web/live.py",
    "dropviz/web/worker.py",
    "dropviz/web/frame_route.py",
    "dropviz/web/live_chart.py",
    "dropviz/web/live_chart.js",
    "server.py",
]
SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}


def python_lines(text: str) -> tuple[int, int]:
    """(code lines without docstrings, code lines with them)."""
    code = {
        line
        for token in tokenize.generate_tokens(io.StringIO(text).readline)
        if token.type not in SKIP
        for line in range(token.start[0], token.end[0] + 1)
    }
    docs = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                docs.update(range(first.lineno, first.end_lineno + 1))
    return len(code - docs), len(code)


def main() -> None:
    total = [0, 0]
    for name in sys.argv[1:] or LIVE:
        text = (ROOT / name).read_text()
        counts = (
            python_lines(text)
            if name.endswith(".py")
            else (sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith("//")),) * 2
        )
        total = [a + b for a, b in zip(total, counts)]
        print(f"{counts[0]:5d} {counts[1]:5d}  {name}")
    print(f"{total[0]:5d} {total[1]:5d}  in all (code lines; second column: docstrings counted as code)")


if __name__ == "__main__":
    main()
