"""The content of a report, independent of its output format.

A report is a list of :class:`Section`; a section holds blocks: headings,
paragraphs, bullet lists, preformatted lines, tables and figures
(rnnbench.figures.Plot). rnnbench.report.pdf lays them out on pages and
rnnbench.report.markdown writes them as Markdown, so both formats always
say the same thing.
"""
import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Heading:
    """A sub-heading inside a section (the section's own title is its heading)."""
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple


@dataclass(frozen=True)
class Preformatted:
    """Lines shown as they are, in a monospaced font (formulas)."""
    lines: tuple


@dataclass(frozen=True)
class Table:
    """A table of already formatted cells. ``align`` has one 'l' or 'r' per column; the first
    ``key_columns`` columns are repeated when the table is too wide and is split into column groups."""
    title: str
    columns: tuple
    rows: tuple
    align: str
    notes: tuple = ()
    key_columns: int = 1

    def __post_init__(self):
        if len(self.align) != len(self.columns) or any(len(r) != len(self.columns) for r in self.rows):
            raise ValueError(f"table {self.title!r}: every row and align need {len(self.columns)} entries")


@dataclass
class Section:
    title: str
    blocks: list = field(default_factory=list)


def docstring_blocks(doc):
    """A module docstring (reST-ish) as blocks: paragraphs, '- ' bullet lists and the literal
    blocks after a '::' as Preformatted; ``code``, **strong** and :role:`name` markup is dropped."""
    text = re.sub(r":\w+:`([^`]*)`", r"\1", doc).replace("``", "")
    blocks, bullets, literal = [], [], False

    def flush():
        if bullets:
            blocks.append(Bullets(tuple(bullets)))
            bullets.clear()

    for chunk in re.split(r"\n\s*\n", text.strip("\n")):
        lines = chunk.split("\n")
        indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
        if literal:
            flush()
            blocks.append(Preformatted(tuple(line[indent:].rstrip() for line in lines)))
            literal = False
            continue
        items = []
        for line in lines:
            if line[indent:].startswith("- ") or not items:
                items.append(line.strip())
            else:
                items[-1] += " " + line.strip()
        for item in items:
            literal = item.endswith("::")
            item = re.sub(r"\*\*(\w[^*]*)\*\*", r"\1", re.sub(r"::$", ":", item))
            if item.startswith("- "):
                bullets.append(item[2:])
            else:
                flush()
                blocks.append(Paragraph(item))
    flush()
    return blocks
