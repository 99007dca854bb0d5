"""Lay a report's sections out on PDF pages with matplotlib (PdfPages, no other PDF dependency).

Text, bullet lists, tables and figures flow down A4 landscape pages, each
section starting a new page. A table too long for the page goes on over the
next pages with its title and header repeated, a table too wide for it is
split into column groups (its key columns repeated), and a cell too long
for its column wraps: nothing is cut. A figure goes below the text when it
fits there, else on a new page (portrait for a narrow or tall one, where two
of the usual size stack), scaled to fit, its caption below it. Every page
has a header: the report, the section, the heading in force, the page number.

Output is deterministic: no creation date in the metadata, DejaVu fonts
embedded as TrueType (rnnbench.figures.style), the same bytes for the same
run folders.
"""
import textwrap
from dataclasses import dataclass, field
from functools import lru_cache

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Rectangle
from matplotlib.textpath import text_to_path

from .. import __version__
from ..figures import Plot, freeze_layout, style
from .blocks import Bullets, Heading, Paragraph, Preformatted, Table

INCH = 72.0  # points
LANDSCAPE = (11.69, 8.27)
PORTRAIT = (8.27, 11.69)
MARGIN_X, TOP, BOTTOM = 0.6 * INCH, 0.75 * INCH, 0.55 * INCH
HEADER_Y = 0.42 * INCH       # baseline of the page header
PLOT_GAP = 4.0               # points above and below a figure
MAX_PLOT_SCALE = 1.1         # a figure is drawn at most this much larger than its natural size,
MIN_SHARED_SCALE = 0.8       # and below other content only when it fits there at least this large;
TALL = 0.8                   # on a page of its own, portrait when height / width is above this
PORTRAIT_FIGURE_WIDTH = 7.5  # or it is at most this wide (inches; two of them stack on the page)
MAX_CELL_CHARS = 60          # a longer table cell wraps within its column
COLUMN_GAP = 2               # characters between table columns
SANS, MONO = "DejaVu Sans", "DejaVu Sans Mono"
# style: (font family, size in points, weight, colour, space before in points)
STYLES = {
    "title": (SANS, 18, "bold", "0.0", 0),
    "section": (SANS, 14, "bold", "0.0", 0),
    "heading": (SANS, 10.5, "bold", "0.1", 8),
    "table_title": (SANS, 8.5, "bold", "0.1", 8),
    "body": (SANS, 9, "normal", "0.0", 3),
    "note": (SANS, 7.5, "normal", "0.3", 1),
    "mono": (MONO, 7.5, "normal", "0.0", 0),
    "mono_head": (MONO, 7.5, "bold", "0.0", 0),
    "header": (SANS, 7.5, "normal", "0.45", 0),
}
LINE_SPACING = 1.4
BULLET_INDENT = 12.0
KEEP_WITH_HEADING = 100.0  # points of room below a heading, or it starts the next page
ZEBRA = "0.93"


def _prop(name):
    family, size, weight, _, _ = STYLES[name]
    return FontProperties(family=family, size=size, weight=weight)


@lru_cache(maxsize=1 << 16)
def text_width(text, name):
    """Width of ``text`` in points in style ``name``."""
    return text_to_path.get_text_width_height_descent(text, _prop(name), ismath=False)[0]


def line_height(name):
    return STYLES[name][1] * LINE_SPACING


def wrap(text, name, width):
    """``text`` as lines no wider than ``width`` points in style ``name`` (greedy, by words; a word
    wider than the line is split)."""
    lines = []
    for paragraph in str(text).split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if text_width(candidate, name) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while text_width(word, name) > width and len(word) > 1:  # a word longer than the line
                cut = len(word) - 1
                while cut > 1 and text_width(word[:cut], name) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines


# ---- page model -----------------------------------------------------------------------------------------

@dataclass
class Item:
    """A line of text (x, y: baseline, points from the top left) or, with ``width``, a filled rectangle
    spanning y-height..y."""
    x: float
    y: float
    text: str = ""
    style: str = "body"
    ha: str = "left"
    width: float = 0.0
    height: float = 0.0
    color: str = ""


@dataclass
class Page:
    """A page before drawing: its section and the heading in force where it starts (for its header),
    text items, and plots with their boxes (x, y of the top left, width, height, in points)."""
    section: str
    context: str = ""
    size: tuple = LANDSCAPE
    items: list = field(default_factory=list)
    plots: list = field(default_factory=list)


class Flow:
    """Fills pages top to bottom; a section starts a new page, running out of room continues it."""

    def __init__(self, title):
        self.title = title
        self.pages = []
        self.section = None
        self.context = ""
        self.y = 0.0

    @property
    def width(self):
        return self.pages[-1].size[0] * INCH - 2 * MARGIN_X

    def _bottom(self):
        return self.pages[-1].size[1] * INCH - BOTTOM

    def new_page(self, continued, size=LANDSCAPE):
        first = not self.pages
        self.pages.append(Page(self.section, self.context, size))
        self.y = TOP
        if first:
            self.text(self.title, "title", space=False)
            self.y += 6
        self.text(f"{self.section} (continued)" if continued else self.section,
                  "heading" if continued else "section", space=False)
        self.y += 4

    def start_section(self, title):
        self.section, self.context = title, ""
        self.new_page(continued=False)

    def room(self, height):
        """Start a continuation page unless ``height`` points still fit on this one."""
        if self.y + height > self._bottom():
            self.new_page(continued=True)

    def text(self, text, name, x=MARGIN_X, ha="left", space=True):
        """One line of text in style ``name`` (its space before included when ``space``)."""
        if space:
            self.y += STYLES[name][4]
        self.y += line_height(name)
        self.pages[-1].items.append(Item(x, self.y - 0.28 * line_height(name), text, name, ha))

    def rect(self, x, width, height, color):
        """A filled rectangle from the current y down by ``height`` points."""
        self.pages[-1].items.append(Item(x, self.y + height, width=width, height=height, color=color))

    # -- blocks --

    def heading(self, text):
        self.context = text
        lines = wrap(text, "heading", self.width)
        self.room(STYLES["heading"][4] + line_height("heading") * len(lines) + KEEP_WITH_HEADING)
        for i, line in enumerate(lines):
            self.text(line, "heading", space=i == 0)

    def paragraph(self, text, name="body", indent=0.0, bullet=None):
        lines = wrap(text, name, self.width - indent)
        for i, line in enumerate(lines):
            self.room(line_height(name) + (STYLES[name][4] if i == 0 else 0))
            if i == 0 and bullet:
                self.text(bullet, name, x=MARGIN_X + indent - BULLET_INDENT + 3)
                self.y -= line_height(name) + STYLES[name][4]
            self.text(line, name, x=MARGIN_X + indent, space=i == 0)

    def bullets(self, items):
        for item in items:
            self.paragraph(item, indent=BULLET_INDENT, bullet="•")

    def preformatted(self, lines):
        self.y += STYLES["body"][4]
        for line in lines:
            for part in wrap(line, "mono", self.width - BULLET_INDENT):
                self.room(line_height("mono"))
                self.text(part, "mono", x=MARGIN_X + BULLET_INDENT, space=False)

    def table(self, table):
        char = text_width("0" * 10, "mono") / 10
        for title, columns, rows, align in _column_groups(table, int(self.width / char)):
            self._table_part(title, columns, rows, align, char)
        for note in table.notes:
            self.paragraph(note, "note")

    def _table_part(self, title, columns, rows, align, char):
        widths = [max([len(c)] + [len(line) for row in rows for line in row[i]]) for i, c in enumerate(columns)]
        fmt = _row_formatter(widths, align)
        row_h = line_height("mono")
        head_h = STYLES["table_title"][4] + line_height("table_title") + row_h + 2
        total = sum(widths) * char + COLUMN_GAP * char * (len(widths) - 1)

        def head(suffix):
            self.text(title + suffix, "table_title")
            self.text(fmt([c] for c in columns)[0], "mono_head", space=False)
            self.rect(MARGIN_X, total, 0.6, "0.2")
            self.y += 2

        self.room(head_h + row_h * (len(fmt(rows[0])) + 1 if rows else 1))  # the header with a row or two
        head("")
        for n, row in enumerate(rows):
            lines = fmt(row)
            if self.y + row_h * len(lines) > self._bottom():
                self.new_page(continued=True)
                head(" (continued)")
            if n % 2:
                self.rect(MARGIN_X - 2, total + 4, row_h * len(lines), ZEBRA)
            for line in lines:
                self.text(line, "mono", space=False)
        self.y += 2

    def _fit(self, plot, caption_lines):
        """The scale ``plot`` fits at, with its caption, in the room left on this page."""
        room = self._bottom() - self.y - 2 * PLOT_GAP - caption_lines * line_height("note")
        return min(MAX_PLOT_SCALE, self.width / INCH / plot.size[0], room / INCH / plot.size[1])

    def plot(self, plot):
        """The figure below what is on the page when it fits there at MIN_SHARED_SCALE or more, else on
        a new page, scaled to fit; its caption below it. The new page is portrait (two figures of the
        usual size stack on it) for a narrow or tall figure, else landscape."""
        caption = wrap(plot.caption, "note", self.width)
        scale = self._fit(plot, len(caption))
        if scale < MIN_SHARED_SCALE:
            width, height = plot.size
            self.new_page(continued=True,
                          size=PORTRAIT if width <= PORTRAIT_FIGURE_WIDTH or height / width > TALL else LANDSCAPE)
            caption = wrap(plot.caption, "note", self.width)
            scale = self._fit(plot, len(caption))
        w, h = (scale * s * INCH for s in plot.size)
        self.y += PLOT_GAP
        self.pages[-1].plots.append((plot, MARGIN_X + (self.width - w) / 2, self.y, w, h))
        self.y += h + PLOT_GAP
        for line in caption:
            self.text(line, "note", space=False)

    def landscape(self):
        """Text goes on in landscape: a portrait page (of figures) is left for a new one."""
        if self.pages[-1].size == PORTRAIT:
            self.new_page(continued=True)


def _column_groups(table, max_chars):
    """[(title, columns, rows of wrapped cells, align)]: the table as it is when it fits in ``max_chars``,
    else split into groups of columns, each with the key columns first."""
    cells = [[textwrap.wrap(v, MAX_CELL_CHARS, break_on_hyphens=False) or [""] for v in row] for row in table.rows]
    width = [min(MAX_CELL_CHARS, max([len(c)] + [len(v) for r in table.rows for v in [r[i]]]))
             for i, c in enumerate(table.columns)]
    keys = list(range(min(table.key_columns, len(table.columns))))
    groups, current = [], []
    used = sum(width[k] + COLUMN_GAP for k in keys)
    for i in range(len(keys), len(table.columns)):
        if current and used + width[i] > max_chars:
            groups.append(current)
            current, used = [], sum(width[k] + COLUMN_GAP for k in keys)
        current.append(i)
        used += width[i] + COLUMN_GAP
    if current or not groups:
        groups.append(current)
    out = []
    for n, group in enumerate(groups, 1):
        index = keys + group
        title = table.title if len(groups) == 1 else f"{table.title} (columns, part {n} of {len(groups)})"
        out.append((title, [table.columns[i] for i in index], [[row[i] for i in index] for row in cells],
                    "".join(table.align[i] for i in index)))
    return out


def _row_formatter(widths, align):
    """fmt(row of cells, each a list of lines) -> the row's text lines, cells padded to their column."""
    def fmt(row):
        row = list(row)
        height = max(len(c) for c in row)
        lines = []
        for k in range(height):
            parts = []
            for cell_lines, w, a in zip(row, widths, align):
                text = cell_lines[k] if k < len(cell_lines) else ""
                parts.append(text.rjust(w) if a == "r" else text.ljust(w))
            lines.append((" " * COLUMN_GAP).join(parts).rstrip())
        return lines
    return fmt


def layout(sections, title):
    """The pages of ``sections`` (rnnbench.report.blocks.Section), before drawing."""
    flow = Flow(title)
    for section in sections:
        flow.start_section(section.title)
        for block in section.blocks:
            if not isinstance(block, Plot):
                flow.landscape()
            if isinstance(block, Heading):
                flow.heading(block.text)
            elif isinstance(block, Paragraph):
                flow.paragraph(block.text)
            elif isinstance(block, Bullets):
                flow.bullets(block.items)
            elif isinstance(block, Preformatted):
                flow.preformatted(block.lines)
            elif isinstance(block, Table):
                flow.table(block)
            elif isinstance(block, Plot):
                flow.plot(block)
            else:
                raise TypeError(f"report: no layout for {type(block).__name__}")
    return flow.pages


# ---- drawing --------------------------------------------------------------------------------------------

def _draw_item(fig, item, size):
    w, h = size[0] * INCH, size[1] * INCH
    if item.width:
        fig.add_artist(Rectangle((item.x / w, 1 - item.y / h), item.width / w, item.height / h,
                                 transform=fig.transFigure, facecolor=item.color, edgecolor="none", zorder=0))
        return
    family, fontsize, weight, color, _ = STYLES[item.style]
    fig.text(item.x / w, 1 - item.y / h, item.text, family=family, size=fontsize, weight=weight, color=color,
             ha=item.ha, va="baseline", parse_math=False)


def _box(fig, size, x, y, width, height):
    """A SubFigure of ``fig`` covering the box (x, y top left; points from the page's top left)."""
    w, h = size[0] * INCH, size[1] * INCH
    grid = fig.add_gridspec(3, 3, height_ratios=[y, height, h - y - height], width_ratios=[x, width, w - x - width],
                            left=0, right=1, bottom=0, top=1, wspace=0, hspace=0)
    return fig.add_subfigure(grid[1, 1])


def _draw_page(page, number, count, title):
    fig = Figure(figsize=page.size, layout="constrained" if page.plots else None)
    w = page.size[0] * INCH
    number_text = f"page {number} of {count}"
    room = w - 2 * MARGIN_X - text_width(number_text, "header") - 0.3 * INCH
    where = next(text for text in (" · ".join(t for t in parts if t) for parts in (
        (title, page.section, page.context), (page.section, page.context), (page.section,)))
        if text_width(text, "header") <= room or text == page.section)
    header = [Item(MARGIN_X, HEADER_Y, where, "header"),
              Item(w - MARGIN_X, HEADER_Y, number_text, "header", ha="right")]
    for item in header + page.items:
        _draw_item(fig, item, page.size)
    for plot, *box in page.plots:
        plot.draw(_box(fig, page.size, *box))
    if page.plots:
        freeze_layout(fig)
    return fig


def write_pdf(sections, path, title):
    """Lay out and write ``sections`` to ``path``; returns the number of pages."""
    with style():
        pages = layout(sections, title)
        metadata = {"Title": title, "Creator": f"rnnbench {__version__} report", "CreationDate": None}
        with PdfPages(path, metadata=metadata) as pdf:
            for n, page in enumerate(pages, 1):
                pdf.savefig(_draw_page(page, n, len(pages), title))
    return len(pages)
