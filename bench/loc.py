"""Prints the live layer's size in code lines: lines holding code, not blank, not only a comment; docstrings count as
comments (and, second column, as code). Usage: python bench/loc.py [--before REV] [files...] (default: the live layer's
files); --before also counts the files as they were at git revision REV, and writes both to bench/RESULTS.md."""

from __future__ import annotations

import argparse
import ast
import io
import subprocess
import sys
import tokenize
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import write_section  # bench/results.py, beside this script

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
HEADING = "## Live layer's size (bench/loc.py)"


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


def counts(name: str, text: str) -> tuple[int, int]:
    if name.endswith(".py"):
        return python_lines(text)
    return (sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith("//")),) * 2


def table(names: list[str], read) -> list[str]:
    """One line per file and the total, as printed."""
    lines, total = [], [0, 0]
    for name in names:
        each = counts(name, read(name))
        total = [a + b for a, b in zip(total, each)]
        lines.append(f"{each[0]:5d} {each[1]:5d}  {name}")
    return [*lines, f"{total[0]:5d} {total[1]:5d}  in all (code lines; second column: docstrings counted as code)"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="a git revision to count the same files at, and write both to RESULTS.md")
    parser.add_argument("files", nargs="*")
    args = parser.parse_args()
    names = args.files or LIVE
    now = table(names, lambda name: (ROOT / name).read_text())
    print("\n".join(now))
    if args.before:
        show = lambda name: (
            subprocess.run(["git", "show", f"{args.before}:{name}"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        )
        before = table(names, show)
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        print(f"\nat {args.before}:\n" + "\n".join(before))
        section = (
            f"{HEADING}\n\n`python bench/loc.py --before {args.before}`: the working tree (at {head}) and revision {args.before}.\n\n"
            + "```\nnow\n" + "\n".join(now) + f"\n\nat {args.before}\n" + "\n".join(before) + "\n```\n"
        )  # fmt: skip
        write_section(HEADING, section)


if __name__ == "__main__":
    main()
