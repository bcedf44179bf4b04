"""Checks every claim of the presets' lessons and the experiment texts over 5 seeds: the figures per seed, PASS or FAIL per claim.

The claims and their thresholds are dropviz/experiments/claims.py's; this prints them and replaces the "## Claims" section of
bench/RESULTS.md with the summary (one line per claim, every seed's figures). Exit status 1 if any claim fails.
Usage: OPENBLAS_NUM_THREADS=1 python bench/claims.py [--seeds 5]
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from results import write_section  # bench/results.py, beside this script

from dropviz.experiments.claims import Claim, all_claims

HEADING = "## Claims (bench/claims.py)"


def _figures(claim: Claim) -> str:
    return ", ".join(f"{name} {value:.3g}" for name, value in claim.figures.items())


def _section(rows: dict[tuple[str, str], list[Claim]], seeds: int, took: float) -> str:
    intro = f"Each claim on the presets' configs with seed = 0 to {seeds - 1}; {took:.0f} s in all. Thresholds in dropviz/experiments/claims.py."
    lines = [HEADING, "", intro, ""]
    for (topic, statement), claims in rows.items():
        passed = sum(c.holds for c in claims)
        lines.append(f"- {'PASS' if passed == len(claims) else 'FAIL'} ({passed}/{len(claims)}) **{topic}**: {statement}")
        lines += [f"  - seed {seed}: {_figures(c)}" for seed, c in enumerate(claims)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    rows: dict[tuple[str, str], list[Claim]] = {}
    for seed in range(args.seeds):
        for claim in all_claims(seed):
            rows.setdefault((claim.topic, claim.statement), []).append(claim)
            print(f"seed {seed}  {'PASS' if claim.holds else 'FAIL'}  {claim.topic}: {claim.statement}  [{_figures(claim)}]", flush=True)
    took = time.perf_counter() - start
    failed = [key for key, claims in rows.items() if not all(c.holds for c in claims)]
    print(f"\n{len(rows) - len(failed)} of {len(rows)} claims hold on all {args.seeds} seeds ({took:.0f} s)")
    for topic, statement in failed:
        print(f"FAIL  {topic}: {statement}")
    write_section(HEADING, _section(rows, args.seeds, took))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
