"""Write a report's sections as Markdown, its figures as PNGs in a folder beside it.

``reports/NAME.md`` gets ``reports/NAME_files/<run>-<figure>.png``, linked
relatively, so the pair renders on a code host. Tables are pipe tables,
never split (a browser scrolls them); the text is the PDF's.
"""
from pathlib import Path

from ..figures import Plot, render_png
from .blocks import Bullets, Heading, Paragraph, Preformatted, Table


def _escape(text):
    return str(text).replace("|", "\\|")


def table_lines(table):
    lines = [f"**{table.title}**", "", "| " + " | ".join(_escape(c) for c in table.columns) + " |",
             "| " + " | ".join("---:" if a == "r" else "---" for a in table.align) + " |"]
    lines += ["| " + " | ".join(_escape(v) for v in row) + " |" for row in table.rows]
    for note in table.notes:
        lines += ["", f"*{note}*"]
    return lines


def write_markdown(sections, path, title):
    """Write ``sections`` to ``path`` (.md) and their figures to <stem>_files/ (its old PNGs removed first);
    returns the PNG paths."""
    path = Path(path)
    folder = path.with_name(f"{path.stem}_files")
    for old in sorted(folder.glob("*.png")):
        old.unlink()
    lines, pngs = [f"# {title}", ""], []
    for section in sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Heading):
                lines += [f"### {block.text}"]
            elif isinstance(block, Paragraph):
                lines += [block.text]
            elif isinstance(block, Bullets):
                lines += [f"- {item}" for item in block.items]
            elif isinstance(block, Preformatted):
                lines += ["```", *block.lines, "```"]
            elif isinstance(block, Table):
                lines += table_lines(block)
            elif isinstance(block, Plot):
                folder.mkdir(parents=True, exist_ok=True)
                pngs.append(render_png(block, folder))
                lines += [f"![{block.name}]({folder.name}/{pngs[-1].name})", "", f"*{block.caption}*"]
            else:
                raise TypeError(f"report: no Markdown for {type(block).__name__}")
            lines.append("")
    path.write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")
    return pngs
