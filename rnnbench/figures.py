"""The figures of a run, drawn with matplotlib's object API onto any Figure or SubFigure.

Each figure is a :class:`Plot`: a file name, a natural size, a caption and a
``draw(fig)`` function. The same Plot is saved as a PNG (:func:`render_png`,
:func:`write_figures`) and drawn onto a page of the PDF report
(rnnbench.report), so the two never differ. A Plot exists only when the run
has data for it (cases with status "ok" only; never an empty axes):

- ``decay_norm_vs_lag_<kind>``: ||ds_{T-1}/ds_{T-1-l}|| against lag l
  (log y), one line per init at its longest T, with Pascanu et al.'s bound
  sigma_1^l dashed in the init's colour where it applies (vanilla RNNs).
- ``decay_rate_vs_gain``: fitted decay rate per step against the
  orthogonal gain g, one line per kind, with each line's zero crossing
  (interpolated) marked; made when some kind has two gains or more.
- ``decay_grad_step0_vs_T``: gradient norm reaching step 0 against T
  (log-log), one panel per kind, one line per init.
- ``decay_temporal_<kind>``: norm of the parameter gradient coming from
  lag l (Pascanu et al.'s temporal decomposition), one line per init.
- ``tbptt_vs_K``: cosine similarity and relative error of truncated BPTT
  against full BPTT versus K, k-step solid/circles and chunk dashed/squares,
  one colour per kind, one row of panels per init.
- ``throughput_bars`` (``throughput_bars_<n>`` past 20 problems, in
  equal parts): forward+backward time per problem (log x, from a decade
  below the shortest bar), one bar per backend.
- ``throughput_gflops_vs_H``: forward+backward GFLOP/s (full count)
  against H (log2 x), colour by backend, marker by kind; made when the
  run has two H or more.
- ``throughput_scaling``: log-log forward+backward time against T, H or
  B where only that size varies (>= 3 sizes, the rest fixed), one panel per
  size, the fitted log-log slope in each label.

Colours: one fixed colour per kind (KIND_COLORS) and, in per-kind figures,
one per init (orthogonal gains along a sequential colormap in gain order,
"default" grey, "identity" and "forget_bias:*" their own colours), the same in
every figure of a run; in throughput figures one fixed colour per backend
(BACKEND_COLORS). Drawing happens under :func:`style` (matplotlib's defaults
and DejaVu fonts, whatever the user's matplotlibrc says) with the
constrained layout engine, whose positions are then rounded
(:func:`freeze_layout`); the user's pyplot backend is left alone. Output is
byte-for-byte deterministic (no 'Software' PNG metadata).
"""
import math
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import matplotlib
import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FormatStrFormatter, LogFormatter, MaxNLocator, NullFormatter

from . import rundata as rd

KIND_COLORS = {"rnn_tanh": "tab:blue", "rnn_relu": "tab:orange", "lstm": "tab:green", "gru": "tab:red"}
BACKEND_COLORS = {"numba-cpu": "#1b4f9c", "torch": "#e8590c", "numpy": "#6b6b6b", "numba-cuda": "#7b2cbf"}
_SPARE_BACKEND_COLORS = ("#2b8a3e", "#c2255c", "#0b7285", "#5c940d")
_SPARE_COLORS = ("tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray")
DEFAULT_INIT_COLOR = "0.45"
IDENTITY_COLOR = "tab:red"
FORGET_BIAS_COLORS = ("tab:orange", "tab:brown", "tab:pink", "tab:olive")
OTHER_INIT_COLORS = ("tab:cyan", "tab:purple", "tab:gray")
GAIN_CMAP, GAIN_RANGE = "viridis", (0.0, 0.85)  # stop before viridis' pale yellow end
_KIND_MARKERS = {"rnn_tanh": "o", "rnn_relu": "s", "lstm": "^", "gru": "D"}
_SPARE_MARKERS = ("v", "P", "X", "*")
_FIXED_STYLES = ("-", "--", ":", "-.")
_MODE_STYLE = {"kstep": dict(ls="-", marker="o"), "chunk": dict(ls="--", marker="s")}
_MODE_NAME = {"kstep": "k-step", "chunk": "chunk"}

FIGSIZE = (7.0, 4.5)
WIDE_FIGSIZE = (8.6, 4.5)  # room for a legend outside the axes
DPI = 120
MAX_LEGEND_INSIDE = 5
MAX_BAR_PROBLEMS = 20
LAG_LABEL = "lag l (steps)"
LAYOUT_DECIMALS = 6  # positions from the layout engine, rounded (see freeze_layout)
# matplotlib's defaults plus these, for every figure and report page
STYLE = {"font.family": "DejaVu Sans", "mathtext.fontset": "dejavusans", "pdf.fonttype": 42}


@dataclass(frozen=True)
class Plot:
    """One figure: ``name`` (file stem), natural ``size`` (inches), a one-sentence ``caption`` and
    ``draw(fig)``, which draws it onto a matplotlib Figure or SubFigure with the constrained layout."""
    name: str
    size: tuple
    caption: str
    draw: Callable


# ---- style and output -----------------------------------------------------------------------------------

@contextmanager
def style():
    """matplotlib's default rcParams plus STYLE inside the block, the caller's own restored after it."""
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(STYLE)
        yield


def new_figure(size, dpi=DPI):
    """A Figure of ``size`` inches on its own Agg canvas, with the constrained layout engine."""
    fig = Figure(figsize=size, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _subfigures(fig):
    for sub in fig.subfigs:
        yield sub
        yield from _subfigures(sub)


def freeze_layout(fig, decimals=LAYOUT_DECIMALS):
    """Run ``fig``'s layout engine once, fix every position it chose rounded to ``decimals`` (in figure
    fractions), and switch the engine off.

    The constrained layout solves with kiwisolver, whose order of operations follows memory addresses: the
    positions it returns differ from run to run in their last bits, which a PDF, writing 10 decimals, would
    show. Rounded, they are the same every time."""
    fig.draw_without_rendering()
    fig.set_layout_engine("none")
    for sub in _subfigures(fig):
        sub.bbox_relative.set_points(np.round(sub.bbox_relative.get_points(), decimals))
    for parent in [fig, *_subfigures(fig)]:
        if parent._suptitle is not None:  # the Text artist; matplotlib has no public getter for it
            parent._suptitle.set_position(np.round(parent._suptitle.get_position(), decimals))
        for ax in parent.axes:  # the original box, which each draw makes the active one from (apply_aspect)
            ax.set_position(np.round(ax.get_position(original=True).bounds, decimals))


def render_png(plot, folder):
    """Draw ``plot`` at its natural size into ``folder``/<name>.png; returns the path."""
    path = Path(folder) / f"{plot.name}.png"
    with style():
        fig = new_figure(plot.size)
        plot.draw(fig)
        freeze_layout(fig)
        fig.savefig(path, dpi=DPI, format="png", metadata={"Software": None})
    return path


# ---- colours and markers --------------------------------------------------------------------------------

def _spare(name, names, fixed, spares):
    """A spare style for a name outside ``fixed``: by its rank among the other such names."""
    extra = sorted(set(names) - set(fixed)) or [name]
    return spares[extra.index(name) % len(spares)] if name in extra else spares[0]


def kind_color(kind, kinds=()):
    return KIND_COLORS[kind] if kind in KIND_COLORS else _spare(kind, kinds, KIND_COLORS, _SPARE_COLORS)


def backend_color(backend, backends=()):
    return BACKEND_COLORS[backend] if backend in BACKEND_COLORS else _spare(
        backend, backends, BACKEND_COLORS, _SPARE_BACKEND_COLORS)


def _kind_marker(kind, kinds=()):
    return _KIND_MARKERS[kind] if kind in _KIND_MARKERS else _spare(kind, kinds, _KIND_MARKERS, _SPARE_MARKERS)


def init_colors(inits):
    """Deterministic {init: colour} for a set of init strings (see the module docstring)."""
    inits = sorted(set(inits), key=rd.init_sort_key)
    gains = sorted({rd.gain(i) for i in inits if rd.gain(i) is not None})
    cmap = colormaps[GAIN_CMAP]
    lo, hi = GAIN_RANGE
    forget = [i for i in inits if rd.parse_init(i)[0] == "forget_bias"]
    other = [i for i in inits if rd.parse_init(i)[0] not in rd.INIT_FAMILIES]
    colors = {}
    for init in inits:
        name = rd.parse_init(init)[0]
        if rd.gain(init) is not None:
            rank = gains.index(rd.gain(init))
            colors[init] = cmap(lo + (hi - lo) * (rank / (len(gains) - 1) if len(gains) > 1 else 0.5))
        elif name == "default":
            colors[init] = DEFAULT_INIT_COLOR
        elif name == "identity":
            colors[init] = IDENTITY_COLOR
        elif name == "forget_bias":
            colors[init] = FORGET_BIAS_COLORS[forget.index(init) % len(FORGET_BIAS_COLORS)]
        else:
            colors[init] = OTHER_INIT_COLORS[other.index(init) % len(OTHER_INIT_COLORS)]
    return colors


def file_stem(name):
    """``name`` made safe as part of a file name (runs of other characters become '_')."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name))


# ---- drawing helpers ------------------------------------------------------------------------------------

def _legend(ax, handles=None, labels=None, outside=None, **kwargs):
    """Legend inside at loc='best' for few entries, else outside to the right of ``ax``."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if outside is None:
        outside = len(handles) > MAX_LEGEND_INSIDE
    if outside:
        return ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                         fontsize="small", **kwargs)
    return ax.legend(handles, labels, loc="best", fontsize="small", **kwargs)


def _plain_log_ticks(axis, values):
    """Ticks of a log axis at the values used, written plainly (10, 30, 100 rather than 10^1, 10^2)."""
    axis.set_major_locator(FixedLocator(sorted(set(values))))
    axis.set_major_formatter(FormatStrFormatter("%g"))
    axis.set_minor_formatter(NullFormatter())


class _PlainLogFormatter(LogFormatter):
    """LogFormatter's choice of ticks to label, each written plainly (0.3, 20, 100)."""

    def __call__(self, x, pos=None):
        return f"{x:g}" if super().__call__(x, pos) else ""


def _plain_log_labels(axis):
    """Plain numbers on a log axis, minor ticks labelled only when it spans little."""
    axis.set_major_formatter(_PlainLogFormatter())
    axis.set_minor_formatter(_PlainLogFormatter(minor_thresholds=(1.2, 0.8)))


def _lag_cases(cases, key):
    """The cases (dict values, in init order) whose series[key] has a point to draw on a log axis."""
    ordered = sorted(cases.values(), key=lambda c: rd.init_sort_key(c["params"]["init"]))
    return [c for c in ordered if rd.has_points(rd.positive(c.get("series", {}).get(key) or []))]


def _lag_lines(ax, drawn, key, colors):
    """One line of series[key] against lag per case, named by init (and T when they differ)."""
    several_T = len({c["params"]["T"] for c in drawn}) > 1
    for c in drawn:
        y = rd.positive(c["series"][key])
        init = c["params"]["init"]
        ax.semilogy(np.arange(len(y)), y, color=colors[init], lw=1.6,
                    label=f"{init} (T={c['params']['T']})" if several_T else init)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))


def _lag_T_text(drawn):
    return rd.T_text(c["params"]["T"] for c in drawn)


# ---- decay ----------------------------------------------------------------------------------------------

def _norm_vs_lag(kind, cases, colors):
    drawn = _lag_cases(cases, "jacobian_norm")
    if not drawn:
        return None

    bounded = [(c, bound) for c in drawn
               for bound in [rd.positive(c["series"].get("pascanu_bound") or [])] if rd.has_points(bound)]

    def draw(fig):
        ax = fig.add_subplot()
        _lag_lines(ax, drawn, "jacobian_norm", colors)
        norms = np.concatenate([rd.positive(c["series"]["jacobian_norm"]) for c in drawn])
        # an exploding bound would squash the measured lines: keep the axis on the data (in decades, so
        # nothing overflows) and let bounds run off the top, clipped just beyond it
        lo, hi = np.log10(np.nanmin(norms)), np.log10(np.nanmax(norms))
        top = min(hi + (1.0 if hi - lo > 1 else 0.5), 300.0)
        for c, bound in bounded:
            ax.semilogy(np.arange(len(bound)), np.minimum(bound, 10.0 ** (top + 1)),
                        color=colors[c["params"]["init"]], lw=1.0, ls="--")
        ax.set_ylim(10.0 ** (lo - 0.3), 10.0 ** top)
        handles, labels = ax.get_legend_handles_labels()
        if bounded:
            handles.append(Line2D([], [], color="0.3", lw=1.0, ls="--"))
            labels.append(r"Pascanu bound ($\sigma_1^{\,l}$)")
        ax.set_xlabel(LAG_LABEL)
        ax.set_ylabel(r"$\|\partial s_{T-1}\,/\,\partial s_{T-1-l}\|_2$ (log scale)")
        ax.set_title(f"{kind}: state Jacobian norm vs lag ({_lag_T_text(drawn)})", fontsize="medium")
        ax.grid(True, which="major", alpha=0.3)
        _legend(ax, handles, labels)

    caption = (f"{kind}: spectral norm of the state Jacobian between step T-1 and step T-1-l against the lag l, "
               "one line per init at its longest T")
    if bounded:
        caption += "; dashed: Pascanu et al.'s upper bound sigma_1^l (single-layer tanh and ReLU RNNs)"
    return Plot(f"decay_norm_vs_lag_{file_stem(kind)}", FIGSIZE, caption + ".", draw)


def _rate_vs_gain(longest):
    by_kind = rd.rate_vs_gain(longest)
    if not any(len(points) >= 2 for points in by_kind.values()):
        return None

    def draw(fig):
        ax = fig.add_subplot()
        ax.axhline(0.0, color="0.25", lw=0.8)
        ax.axvline(1.0, color="0.4", lw=1.0, ls=":")
        crossed = False
        for kind, points in by_kind.items():
            gains, rates = [p[0] for p in points], [p[1] for p in points]
            color = kind_color(kind, by_kind)
            zeros = rd.zero_crossings(gains, rates)
            label = kind
            if zeros:
                label += f" (crosses 0 at g≈{', '.join(f'{z:.2f}' for z in zeros)})"
            ax.plot(gains, rates, color=color, marker="o", ms=5, lw=1.6, label=label)
            if zeros:
                ax.plot(zeros, [0.0] * len(zeros), ls="none", marker="D", ms=8, mfc="white", mec=color, mew=1.8)
                crossed = True
        handles, labels = ax.get_legend_handles_labels()
        if crossed:
            handles.append(Line2D([], [], ls="none", marker="D", ms=7, mfc="white", mec="0.3", mew=1.5))
            labels.append("zero crossing (interpolated)")
        Ts = [p[2] for points in by_kind.values() for p in points]
        ax.set_xlabel("orthogonal gain g")
        ax.set_ylabel("fitted rate of ln‖∂s‖ (per step)")
        ax.set_title(f"Decay rate of the Jacobian norm vs gain ({rd.T_text(Ts, longest=True)})", fontsize="medium")
        ax.grid(True, alpha=0.3)
        ax.text(1.0, 0.98, " g = 1", transform=ax.get_xaxis_transform(), ha="left", va="top", fontsize="small",
                color="0.3")
        _legend(ax, handles, labels)

    return Plot("decay_rate_vs_gain", FIGSIZE,
                "Least-squares slope of the log Jacobian norm per step of lag against the orthogonal gain g: "
                "negative rates vanish, positive ones explode; diamonds mark where a kind crosses zero.", draw)


def _grad_step0_vs_T(cases, colors):
    lines = rd.grad_step0_lines(cases)
    if not lines:
        return None
    kinds = list(lines)
    ncols = 1 if len(kinds) == 1 else 2
    nrows = math.ceil(len(kinds) / ncols)
    inits = sorted({i for per_kind in lines.values() for i in per_kind}, key=rd.init_sort_key)
    outside = len(inits) > MAX_LEGEND_INSIDE or len(kinds) > 1
    size = (WIDE_FIGSIZE[0] if outside else FIGSIZE[0], FIGSIZE[1] if nrows == 1 else 3.2 * nrows)

    def draw(fig):
        axes = []
        for i, kind in enumerate(kinds):
            ax = fig.add_subplot(nrows, ncols, i + 1)
            for init, points in lines[kind].items():
                ax.loglog([T for T, _ in points], [v for _, v in points], color=colors[init], marker="o", ms=4,
                          lw=1.5, label=init)
            _plain_log_ticks(ax.xaxis, [T for points in lines[kind].values() for T, _ in points])
            ax.set_title(kind, fontsize="medium")
            ax.set_xlabel("sequence length T (steps)")
            if i % ncols == 0:
                ax.set_ylabel(r"$\|\partial L/\partial s_0\|_2$ (log scale)")
            ax.grid(True, which="major", alpha=0.3)
            axes.append(ax)
        handles = [Line2D([], [], color=colors[i], marker="o", ms=4, lw=1.5) for i in inits]
        # one legend for the figure, beside the top-right panel
        _legend(axes[min(ncols, len(axes)) - 1], handles, inits, outside=outside, title="init")
        fig.suptitle("Gradient reaching step 0 vs T (unit loss gradient at step T−1)")

    return Plot("decay_grad_step0_vs_T", size,
                "Norm of the gradient that reaches step 0 from a unit loss gradient at the last step, against "
                "the sequence length T, one panel per kind.", draw)


def _temporal(kind, cases, colors):
    drawn = _lag_cases(cases, "temporal")
    if not drawn:
        return None

    def draw(fig):
        ax = fig.add_subplot()
        _lag_lines(ax, drawn, "temporal", colors)
        ax.set_xlabel(LAG_LABEL)
        ax.set_ylabel(r"$\|\partial L/\partial\theta_{T-1-l}\|_2$ (log scale)")
        ax.set_title(f"{kind}: share of ∂L/∂W from lag l, loss at step T−1 ({_lag_T_text(drawn)})",
                     fontsize="medium")
        ax.grid(True, which="major", alpha=0.3)
        _legend(ax)

    return Plot(f"decay_temporal_{file_stem(kind)}", FIGSIZE,
                f"{kind}: norm of the part of the weight gradient that comes from lag l (Pascanu et al.'s "
                "temporal decomposition), loss at the last step, one line per init.", draw)


def decay_plots(cases):
    """Plots of decay cases: norm vs lag per kind, rate vs gain, grad at step 0 vs T, temporal per kind."""
    if not cases:
        return []
    longest = rd.longest_T(cases)
    colors = init_colors(init for _, init in longest)
    kinds = rd.kind_order({kind for kind, _ in longest})
    per_kind = {k: {key: c for key, c in longest.items() if key[0] == k} for k in kinds}
    plots = [_norm_vs_lag(k, per_kind[k], colors) for k in kinds]
    plots += [_rate_vs_gain(longest), _grad_step0_vs_T(cases, colors)]
    plots += [_temporal(k, per_kind[k], colors) for k in kinds]
    return [p for p in plots if p is not None]


# ---- truncated BPTT -------------------------------------------------------------------------------------

def _tbptt_y(point, which):
    """The cosine or (positive) relative error of a (K, cosine, rel_error) point, NaN where it has none."""
    y = point[1] if which == "cosine" else point[2]
    return y if rd.finite(y) and (which == "cosine" or y > 0) else np.nan


def tbptt_plots(cases):
    """The tbptt_vs_K plot of tbptt cases (none when nothing can be drawn)."""
    panels = []  # (init, [which], per_kind) for rows with something to draw
    for init, per_kind in rd.tbptt_rows(cases).items():
        row = [which for which in ("cosine", "rel_error")
               if any(np.isfinite(_tbptt_y(p, which))
                      for e in per_kind.values() for m in _MODE_STYLE for p in e.get(m, []))]
        if row:
            panels.append((init, row, per_kind))
    if not panels:
        return []
    all_kinds = rd.kind_order({k for _, _, per_kind in panels for k in per_kind})
    ncols = max(len(row) for _, row, _ in panels)
    Ts = [e["T"] for _, _, per_kind in panels for e in per_kind.values()]
    size = (10.0 if ncols == 2 else WIDE_FIGSIZE[0], 4.2 * len(panels) if len(panels) > 1 else 4.5)

    def draw(fig):
        any_full = False
        legend_ax = None
        for r, (init, row, per_kind) in enumerate(panels):
            for col, which in enumerate(row):
                ax = fig.add_subplot(len(panels), ncols, r * ncols + col + 1)
                for kind, entry in per_kind.items():
                    for mode, style_kw in _MODE_STYLE.items():
                        points = entry.get(mode, [])
                        ys = np.array([_tbptt_y(p, which) for p in points], dtype=np.float64)
                        if rd.has_points(ys):
                            ax.plot([p[0] for p in points], ys, color=kind_color(kind, all_kinds), ms=5, lw=1.5,
                                    **style_kw)
                ax.set_xscale("log")
                _plain_log_ticks(ax.xaxis, [p[0] for e in per_kind.values() for m in _MODE_STYLE
                                            for p in e.get(m, [])])
                ax.set_xlabel("truncation K (steps)")
                if which == "cosine":
                    if any(e["full"] for e in per_kind.values()):
                        ax.axhline(1.0, color="0.35", lw=1.0, ls=":")
                        any_full = True
                    ax.set_ylabel("cosine similarity to full BPTT")
                    ax.set_title(f"cosine similarity, init {init}", fontsize="medium")
                else:
                    ax.set_yscale("log")
                    ax.set_ylabel(r"relative error $\|g_K - g\|\,/\,\|g\|$ (log)")
                    ax.set_title(f"relative error, init {init}", fontsize="medium")
                ax.grid(True, which="major", alpha=0.3)
                if r == 0 and col == len(row) - 1:
                    legend_ax = ax
        handles = [Line2D([], [], color=kind_color(k, all_kinds), lw=2.5) for k in all_kinds]
        labels = list(all_kinds)
        for mode, style_kw in _MODE_STYLE.items():
            handles.append(Line2D([], [], color="0.2", ms=5, lw=1.5, **style_kw))
            labels.append(_MODE_NAME[mode])
        if any_full:
            handles.append(Line2D([], [], color="0.35", lw=1.0, ls=":"))
            labels.append("full BPTT (cosine 1)")
        _legend(legend_ax, handles, labels, outside=True)
        fig.suptitle(f"Truncated BPTT against full BPTT vs truncation K ({rd.T_text(Ts, longest=True)})")

    return [Plot("tbptt_vs_K", size,
                 "Cosine similarity and relative error of the truncated-BPTT gradient against the full-BPTT one "
                 "as the truncation K grows; solid circles: k-step, dashed squares: chunk; one colour per kind.",
                 draw)]


# ---- throughput -----------------------------------------------------------------------------------------

def _bars(chunk, problems, backends, dtype, part):
    height = 0.8 / len(backends)
    size = (WIDE_FIGSIZE[0], max(FIGSIZE[1], 1.6 + len(chunk) * (0.22 + 0.12 * len(backends))))

    def draw(fig):
        ax = fig.add_subplot()
        for j, backend in enumerate(backends):
            ys, widths = [], []
            for i, key in enumerate(chunk):
                c = problems[key].get(backend)
                if c is not None:
                    ys.append(i - 0.4 + height * (j + 0.5))
                    widths.append(rd.fb_ms(c))
            if ys:
                ax.barh(ys, widths, height=height * 0.92, color=backend_color(backend, backends), label=backend)
        ax.set_xscale("log")
        _plain_log_labels(ax.xaxis)
        # bars start a decade below the shortest, whatever the times: a bar 20% longer than another then looks
        # 8% longer (from the power of ten just below them, bars of 1.65 and 2 ms looked 0.7 and 1 long)
        ax.set_xlim(left=min(rd.fb_ms(c) for k in chunk for c in problems[k].values()) / 10)
        ax.set_yticks(range(len(chunk)))
        ax.set_yticklabels([rd.problem_label(next(iter(problems[k].values())), dtype is None) for k in chunk],
                           fontsize="small")
        ax.set_ylim(len(chunk) - 0.5, -0.5)  # first problem on top
        ax.set_xlabel("forward + backward time (ms, log scale)")
        ax.set_ylabel("problem")
        ax.grid(True, axis="x", which="both", alpha=0.3)
        ax.set_title(f"Forward+backward time per problem{f' ({dtype})' if dtype else ''}{part}",
                     fontsize="medium")
        _legend(ax, outside=True, title="backend")

    return size, draw


def _throughput_bars(cases):
    problems = rd.problems(cases)
    if not problems:
        return []
    backends = rd.backend_order({b for per in problems.values() for b in per})
    dtype = rd.dtype_text(cases)
    keys = list(problems)
    per_chunk = math.ceil(len(keys) / math.ceil(len(keys) / MAX_BAR_PROBLEMS))  # equal parts of at most MAX
    chunks = [keys[i:i + per_chunk] for i in range(0, len(keys), per_chunk)]
    plots = []
    for n, chunk in enumerate(chunks, 1):
        part = f", part {n}/{len(chunks)}" if len(chunks) > 1 else ""
        size, draw = _bars(chunk, problems, backends, dtype, part)
        plots.append(Plot("throughput_bars" if len(chunks) == 1 else f"throughput_bars_{n}", size,
                          "Median forward+backward time of each problem, one bar per backend (log scale: "
                          "equal ratios look equally long).", draw))
    return plots


def _gflops_vs_H(cases):
    points = {}  # (backend, kind) -> H -> [gflops]
    for c in cases:
        g = c["values"].get("forward_backward_gflops_full")
        if rd.finite(g) and g > 0:
            q = c["params"]
            points.setdefault((q["backend"], q["kind"]), {}).setdefault(q["hidden_size"], []).append(g)
    Hs = sorted({H for per in points.values() for H in per})
    if len(Hs) < 2:
        return None
    backends = rd.backend_order({b for b, _ in points})
    kinds = rd.kind_order({k for _, k in points})
    dtype = rd.dtype_text(cases)

    def draw(fig):
        ax = fig.add_subplot()
        for backend in backends:
            for kind in kinds:
                per = points.get((backend, kind))
                if not per:
                    continue
                color, marker = backend_color(backend, backends), _kind_marker(kind, kinds)
                xs = sorted(per)
                ax.plot(xs, [float(np.median(per[H])) for H in xs], color=color, lw=1.3, alpha=0.8)
                ax.plot([H for H in xs for _ in per[H]], [g for H in xs for g in per[H]], ls="none",
                        marker=marker, ms=6, color=color, mec="white", mew=0.5)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        _plain_log_labels(ax.yaxis)
        _plain_log_ticks(ax.xaxis, Hs)
        ax.set_xlabel("hidden size H (log2 scale)")
        ax.set_ylabel("forward + backward GFLOP/s (full count, log)")
        ax.set_title(f"Throughput vs hidden size{f' ({dtype})' if dtype else ''}; line: median over B, T",
                     fontsize="medium")
        ax.grid(True, which="major", alpha=0.3)
        handles = [Line2D([], [], color=backend_color(b, backends), lw=2.5) for b in backends]
        handles += [Line2D([], [], ls="none", marker=_kind_marker(k, kinds), color="0.3", ms=6) for k in kinds]
        _legend(ax, handles, backends + kinds, outside=True)

    return Plot("throughput_gflops_vs_H", WIDE_FIGSIZE,
                "Forward+backward GFLOP/s (full FLOP count, input GEMM included) against the hidden size: "
                "colour by backend, marker by kind, line through the median of each H.", draw)


def throughput_plots(cases):
    """Plots of throughput cases: time bars per problem and backend, GFLOP/s vs H."""
    plots = _throughput_bars(cases) + [_gflops_vs_H(cases)]
    return [p for p in plots if p is not None]


def scaling_plots(cases):
    """The throughput_scaling plot of throughput cases where T, H or B alone varies over >= 3 sizes."""
    groups = rd.scaling_groups(cases)
    if not groups:
        return []
    dims = [d for d, _, _ in rd.DIMS if d in groups]
    xlabels = {d: label for d, _, label in rd.DIMS}
    backends = rd.backend_order({g[0] for per in groups.values() for g in per})
    kinds = rd.kind_order({g[1] for per in groups.values() for g in per})
    dtype = rd.dtype_text(cases)

    def draw(fig):
        for i, dim in enumerate(dims):
            ax = fig.add_subplot(len(dims), 1, i + 1)
            fixed_texts = sorted({g[2] for g in groups[dim]})
            for backend, kind, fixed, points in sorted(
                    groups[dim], key=lambda g: (backends.index(g[0]), kinds.index(g[1]), g[2])):
                xs, ys = [p[0] for p in points], [p[1] for p in points]
                label = f"{backend} {kind}" + (f" {fixed}" if len(fixed_texts) > 1 else "")
                ax.loglog(xs, ys, color=backend_color(backend, backends), marker=_kind_marker(kind, kinds), ms=5,
                          lw=1.5, ls=_FIXED_STYLES[fixed_texts.index(fixed) % len(_FIXED_STYLES)],
                          label=f"{label} (slope {rd.loglog_slope(xs, ys):.2f})")
            _plain_log_ticks(ax.xaxis, [p[0] for g in groups[dim] for p in g[3]])
            _plain_log_labels(ax.yaxis)
            lo = ax.get_ylim()[0]
            decade = 10.0 ** math.floor(math.log10(lo))
            if decade >= lo / 1.5:  # reach down to a labelled decade just below the data
                ax.set_ylim(bottom=decade)
            ax.set_xlabel(xlabels[dim])
            ax.set_ylabel("fwd + bwd time (ms, log)")
            fixed = f" ({fixed_texts[0]})" if len(fixed_texts) == 1 else ""
            ax.set_title(f"Time vs {dim}{fixed}", fontsize="medium")
            ax.grid(True, which="major", alpha=0.3)
            _legend(ax, outside=True)
        fig.suptitle(f"Forward+backward time scaling (log-log){f', {dtype}' if dtype else ''}")

    size = (WIDE_FIGSIZE[0] + 1.0, 4.0 * len(dims) if len(dims) > 1 else FIGSIZE[1])
    return [Plot("throughput_scaling", size,
                 "Median forward+backward time against T, H or B where only that size varies (log-log); the "
                 "fitted slope is the exponent p of time ~ size^p.", draw)]


# ---- entry points ---------------------------------------------------------------------------------------

def run_plots(data):
    """Every Plot of a loaded run (rnnbench.runs.load_run), in a fixed order: decay, tbptt, throughput
    (bars, GFLOP/s vs H), scaling."""
    throughput = rd.ok_cases(data, "throughput")
    return (decay_plots(rd.ok_cases(data, "decay")) + tbptt_plots(rd.ok_cases(data, "tbptt"))
            + throughput_plots(throughput) + scaling_plots(throughput))


def write_figures(data, folder):
    """Write the run's figures (see the module docstring) as PNGs into ``folder``, created if needed;
    returns the paths written, in :func:`run_plots` order."""
    plots = run_plots(data)
    if plots:
        Path(folder).mkdir(parents=True, exist_ok=True)
    return [render_png(p, folder) for p in plots]
