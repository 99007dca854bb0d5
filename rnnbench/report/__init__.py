"""``rnnbench report``: one or more run folders as a multi-page PDF, or as Markdown with PNG figures.

Modules, one job each:

- ``inputs``: read the run folders, keep those fit to report on, say why
  each other one is left out;
- ``tables``, ``headline``: the tables and the auto-written summary
  sentences, from the runs' data;
- ``sections``: the report's content, in order (see its docstring for the
  pages), as format-free blocks (``blocks``);
- ``pdf``, ``markdown``: those blocks as PDF pages (matplotlib's PdfPages)
  or as Markdown plus PNGs. Figures come from rnnbench.figures, the same
  drawing code as a run's own PNGs.
"""
from dataclasses import dataclass
from pathlib import Path

from .inputs import read_runs
from .markdown import write_markdown
from .pdf import write_pdf
from .sections import build_sections

FORMATS = ("pdf", "md")


@dataclass(frozen=True)
class Report:
    """What :func:`build_report` wrote: ``path``, the run labels it covers, the messages on the folders
    left out, and ``pages`` (PDF) or ``figures`` (the Markdown's PNGs)."""
    path: Path
    runs: tuple
    problems: tuple
    pages: int = 0
    figures: tuple = ()


def report_title(runs):
    return "rnnbench report: " + ", ".join(run.label for run in runs)


def build_report(run_dirs, output, fmt="pdf"):
    """Build the report of ``run_dirs`` into ``output`` (parent folders created) in format ``fmt``
    ('pdf' or 'md'). Folders unfit for it are left out, each with a message naming it and the problem;
    ValueError (carrying those messages) when none is left."""
    if fmt not in FORMATS:
        raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    runs, problems = read_runs(run_dirs)
    if not runs:
        raise ValueError("no run folder to report on:\n" + "\n".join(problems or ["no run folder given"]))
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    sections = build_sections(runs, problems)
    title = report_title(runs)
    labels, problems = tuple(run.label for run in runs), tuple(problems)
    if fmt == "pdf":
        return Report(output, labels, problems, pages=write_pdf(sections, output, title))
    return Report(output, labels, problems, figures=tuple(write_markdown(sections, output, title)))
