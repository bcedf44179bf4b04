"""write_section: replaces one bench script's section of bench/RESULTS.md (its "## " heading up to the next), or appends it."""

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(heading: str, section: str) -> None:
    """Modifies RESULTS.md: section (starting with heading) replaces the old one there; other sections stay."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Bench results\n\nFigures the scripts in bench/ print, one section per script.\n"
    start = text.find(heading)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + section + ("" if end < 0 else "\n" + text[end + 1 :])
    RESULTS.write_text(text)
