"""The sections of a report, in order, each only where some run has data for it:

1. Summary: what was run, when, on what machine, the headline numbers, and
   the run folders left out with why.
2. Throughput: DeepBench-style times per phase, GFLOP/s and % of peak; the
   time ratio and correctness table; bars per backend and problem, GFLOP/s vs H.
3. Scaling: time against T, H and B (log-log) with fitted slopes.
4. Gradient decay: Jacobian norm vs lag, rate vs gain, gradient at step 0
   vs T, temporal contributions; the decay table.
5. Truncated BPTT: cosine and relative error vs K, k-step against chunk.
6. Environment and method: timing methodology, FLOP conventions and
   throughput phases (from the code's own documentation), every
   environment, every result, every case without one.
"""
from dataclasses import replace

from .. import figures, flops, throughput, timing
from .. import rundata as rd
from . import headline, tables
from .blocks import Bullets, Heading, Paragraph, Section, docstring_blocks

def _plots(run, plots):
    """The run's plots, their names prefixed by the run so files of several runs never collide."""
    return [replace(p, name=f"{run.slug}-{p.name}") for p in plots]


def _present(*items):
    return [item for item in items if item is not None]


def _run_heading(run):
    return Heading(f"Run {run.label}: suite {run.data['suite']['name']}, folder {run.path}")


def _environments(runs):
    """[(environment dict, [labels of the runs measured in it])], in order of first appearance; BLAS
    libraries sorted, so the order threadpoolctl found them in does not count as a difference."""
    found = []
    for run in runs:
        env = dict(run.data.get("environment") or {})
        env["blas"] = sorted(env.get("blas") or [], key=lambda lib: str(sorted(lib.items())))
        for known, labels in found:
            if known == env:
                labels.append(run.label)
                break
        else:
            found.append((env, [run.label]))
    return found


def _machine_bullets(runs):
    """tables.machine_lines of every environment: a line shared by every run once, else once per
    distinct text with the runs it applies to."""
    groups = _environments(runs)
    per_line = [tables.machine_lines(env) for env, _ in groups]
    bullets = []
    for i in range(len(per_line[0])):
        texts = {}
        for lines, (_, labels) in zip(per_line, groups):
            texts.setdefault(lines[i], []).extend(labels)
        if len(texts) == 1:
            bullets.append(next(iter(texts)))
        else:
            bullets += [f"{text} (run{'s' if len(labels) > 1 else ''} {', '.join(labels)})"
                        for text, labels in texts.items()]
    return tuple(bullets)


def _options_text(run):
    """The options a run was started with that were set, e.g. 'backends numba-cpu, torch; quick'."""
    parts = []
    for key, value in (run.data.get("options") or {}).items():
        if key in ("threads_in_use", "torch") or value in (None, False, [], ""):
            continue
        if value is True:
            parts.append(key)
        else:
            parts.append(f"{key} {', '.join(map(str, value)) if isinstance(value, list) else value}")
    return "; ".join(parts) or "defaults"


def summary_section(runs, problems):
    blocks = [Heading("What was run"),
              Bullets(tuple(f"{r.label}: suite {r.data['suite']['name']} ({r.data['suite']['description']}); "
                            f"options: {_options_text(r)}" for r in runs)),
              tables.runs_table(runs)]
    blocks += [Heading("Machine and software"), Bullets(_machine_bullets(runs))]
    for run in runs:
        sentences = headline.run_sentences(run)
        if sentences:
            blocks += [Heading(f"Headline numbers: {run.label}"), Bullets(tuple(sentences))]
    if problems:
        blocks += [Heading("Run folders left out"), Bullets(tuple(problems))]
    return blocks


def _throughput_intro(run):
    options = run.data.get("options") or {}
    cases = run.cases("throughput")
    count = len(rd.problems(cases))
    text = f"{count} problem{'' if count == 1 else 's'} timed on {', '.join(run.backends)}"
    if len(run.backends) > 1:
        text += ", interleaved across backends"
    if options.get("min_repeats") is not None:
        text += f", at least {options['min_repeats']} calls and {options.get('min_seconds')} s per backend and phase"
    threads = options.get("threads_in_use")
    if isinstance(threads, dict):
        text += "; threads in use: " + ", ".join(
            f"{name} {value}" for name, value in threads.items() if isinstance(value, int))
    return Paragraph(text + ".")


def throughput_blocks(run):
    table = tables.throughput_table(run)
    if table is None:
        return []
    return [_throughput_intro(run), table, *_present(tables.ratio_table(run), tables.median_ratio_table(run)),
            *_plots(run, figures.throughput_plots(run.cases("throughput")))]


def scaling_blocks(run):
    plots = figures.scaling_plots(run.cases("throughput"))
    return [tables.slopes_table(run), *_plots(run, plots)] if plots else []


def decay_blocks(run):
    table = tables.decay_table(run)
    return [table, *_plots(run, figures.decay_plots(run.cases("decay")))] if table else []


def tbptt_blocks(run):
    found = tables.tbptt_tables(run)
    return [*found, *_plots(run, figures.tbptt_plots(run.cases("tbptt")))] if found else []


def appendix_blocks(runs):
    blocks = [Heading("Timing methodology"), *docstring_blocks(timing.__doc__),
              Heading("Throughput phases"), *docstring_blocks(throughput.__doc__),
              Heading("FLOP conventions"), *docstring_blocks(flops.__doc__)]
    blocks += [Heading("Environment"), tables.environment_table(_environments(runs))]
    blocks.append(Heading("Full results"))
    blocks += _present(*(tables.results_table(run, m) for run in runs for m in ("throughput", "decay", "tbptt")))
    return blocks + _present(tables.failures_table(runs))


PER_RUN = (("Throughput", throughput_blocks), ("Scaling", scaling_blocks), ("Gradient decay", decay_blocks),
           ("Truncated BPTT", tbptt_blocks))


def build_sections(runs, problems):
    """The report's sections for ``runs`` (rnnbench.report.inputs.Run), those with content only, numbered
    as they appear; ``problems``: messages on the run folders left out."""
    parts = [("Summary", summary_section(runs, problems))]
    for title, blocks_of in PER_RUN:
        blocks = []
        for run in runs:
            found = blocks_of(run)
            if found:
                blocks += [_run_heading(run), *found]
        parts.append((title, blocks))
    parts.append(("Environment and method", appendix_blocks(runs)))
    present = [(title, blocks) for title, blocks in parts if blocks]
    return [Section(f"{n}  {title}", blocks) for n, (title, blocks) in enumerate(present, 1)]
