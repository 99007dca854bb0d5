"""Short text tables of a run's headline numbers, for the terminal."""
from collections import defaultdict

from .environment import blas_kernel_warning
from .rundata import data_text, kind_text, median_time_ratios, ok_cases


def _fmt(value, spec):
    """format(value, spec), or a dash of the same width for a missing value."""
    if value is None:
        width = "".join(ch for ch in spec.split(".")[0] if ch.isdigit())
        return "-".rjust(int(width) if width else 1)
    return format(value, spec)


def decay_table(cases):
    """Per kind and init, at the longest T: fitted rate, e-folding length, steps in the past."""
    longest = {}
    for c in cases:
        if c["measurement"] == "decay" and c["status"] == "ok":
            key = (c["params"]["kind"], c["params"]["init"])
            if key not in longest or c["params"]["T"] > longest[key]["params"]["T"]:
                longest[key] = c
    if not longest:
        return []
    lines = [f"{'kind':9s} {'init':16s} {'T':>5s} {'rate/step':>10s} {'e-fold':>8s} {'grad@0':>9s} "
             f"{'in past':>8s}"]
    for (kind, init), c in longest.items():
        v = c["values"]
        lines.append(f"{kind:9s} {init:16s} {c['params']['T']:5d} {_fmt(v['rate'], '+10.4f')} "
                     f"{_fmt(v['e_folding'], '8.1f')} {_fmt(v['grad_step0'], '9.1e')} "
                     f"{_fmt(v['steps_in_past'], '8.0%')}")
    return lines


def tbptt_table(cases):
    """Per kind, init and mode: cosine to full BPTT for each K."""
    table = defaultdict(dict)
    ks = set()
    for c in cases:
        if c["measurement"] == "tbptt" and c["status"] == "ok" and c["values"]["mode"] != "full":
            key = (c["params"]["kind"], c["params"]["init"], c["values"]["mode"])
            table[key][c["values"]["K"]] = c["values"]["cosine"]
            ks.add(c["values"]["K"])
    if not table:
        return []
    ks = sorted(ks)
    lines = [f"{'cosine to full BPTT':37s}" + "".join(f"{'K=' + str(k):>8s}" for k in ks)]
    for (kind, init, mode), row in table.items():
        lines.append(f"{kind:9s} {init:16s} {mode:10s}" + "".join(f"{_fmt(row.get(k), '8.4f')}" for k in ks))
    return lines


def throughput_table(cases):
    """DeepBench-like rows: Type, Hidden, Batch, TimeSteps, input mode, dtype, backend,
    the phase times, GFLOP/s, % peak, ratio, correctness (and the subnormal share
    where some is)."""
    rows = [c for c in cases if c["measurement"] == "throughput" and c["status"] == "ok"]
    if not rows:
        return []
    width = max(9, *(len(kind_text(c["params"])) for c in rows))
    drawn = any(data_text(c["params"]) for c in rows)  # a note, a column, only where some row has them
    subnormal = any(c["values"].get("subnormal_share") for c in rows)
    lines = [f"{'Type':{width}s} {'Hidden':>6s} {'Batch':>5s} {'Steps':>5s} {'input':6s} {'dtype':7s} {'backend':10s} "
             f"{'fwd ms':>9s} {'bwd-data':>9s} {'bwd-wts':>9s} {'fwd+bwd ms':>10s} {'GFLOP/s':>8s} {'%peak':>6s} "
             f"{'ratio':>6s} {'max rel diff':>12s}" + (f" {'subnormal':>9s}" if subnormal else "")]
    for c in rows:
        p, v = c["params"], c["values"]
        lines.append(f"{kind_text(p):{width}s} {p['hidden_size']:6d} {p['batch']:5d} {p['T']:5d} "
                     f"{p.get('input_mode', 'linear'):6s} {p.get('dtype', '-'):7s} {p['backend']:10s} "
                     f"{_fmt(v.get('forward_ms'), '9.2f')} {_fmt(v.get('backward_data_ms'), '9.2f')} "
                     f"{_fmt(v.get('backward_weights_ms'), '9.2f')} {_fmt(v.get('forward_backward_ms'), '10.2f')} "
                     f"{_fmt(v.get('forward_backward_gflops_full'), '8.1f')} "
                     f"{_fmt(v.get('forward_backward_percent_of_peak'), '6.1f')} "
                     f"{_fmt(v.get('ratio_forward_backward'), '6.2f')} {_fmt(v.get('max_rel_diff'), '12.1e')}"
                     + (f" {_fmt(v.get('subnormal_share'), '9.1%')}" if subnormal else ""))
    lines.append("bwd-data / bwd-wts: backward-data (dx, dh) and backward-weights (dW) timed apart, '-' where the "
                 "backend runs them as one pass (torch); GFLOP/s and %peak: forward+backward, full FLOP count "
                 "(every GEMM run) against the measured GEMM peak; ratio: fwd+bwd time / the first backend's; "
                 "max rel diff: against numpy float64"
                 + ("; Type [init, x*s]: parameters by that init scheme, inputs scaled by s" if drawn else "")
                 + ("; subnormal: the share of the outputs and gradients that is subnormal" if subnormal else "") + ".")
    unsupported = sorted({f"{c['params']['backend']} ({c['error']})" for c in cases if c["status"] == "unsupported"})
    if unsupported:
        lines.append("unsupported: " + "; ".join(unsupported))
    return lines


def median_ratio_table(cases, backends):
    """Per kind (the vanilla RNN's two pooled) and other backend: the median over its problems of the first
    backend's time / the other's, forward and forward+backward (the speed targets' measure)."""
    rows = median_time_ratios(cases, backends) if len(backends) >= 2 else []
    if not rows:
        return []
    reference = backends[0]
    width = max(9, *(len(label) for label, *_ in rows))
    lines = [f"median of the time ratios {reference} / other backend over each kind's problems (below 1: "
             f"{reference} faster; rnn: rnn_tanh and rnn_relu):",
             f"{'kind':{width}s} {'dtype':7s} {'backend':10s} {'problems':>8s} {'forward':>8s} {'fwd+bwd':>8s}"]
    for label, dtype, backend, n, forward, forward_backward in rows:
        lines.append(f"{label:{width}s} {dtype:7s} {backend:10s} {n:8d} {_fmt(forward, '8.2f')} "
                     f"{_fmt(forward_backward, '8.2f')}")
    return lines


def summary_lines(data):
    cases = data["cases"]
    failed = [c for c in cases if c["status"] == "error"]
    lines = [f"{data['suite']['name']}: {len(cases)} of {data['suite']['cases_planned']} cases, "
             f"{len(failed)} failed, status {data['status']}"]
    backends = data.get("options", {}).get("backends") or []
    for table in (decay_table(cases), tbptt_table(cases), throughput_table(cases),
                  median_ratio_table(ok_cases(data, "throughput"), backends)):
        if table:
            lines += [""] + table
    violated = [c["id"] for c in cases if c["status"] == "ok" and c["values"].get("pascanu_violations")]
    if violated:
        lines.append(f"WARNING: Pascanu's bound is exceeded (it never should be) in {', '.join(violated)}")
    forced = blas_kernel_warning(data.get("environment"))
    if forced and any(c["measurement"] == "throughput" for c in cases):
        lines.append(f"WARNING: {forced}")
    nonfinite = [c["id"] for c in cases if c["status"] == "ok" and c["values"].get("finite") is False]
    if nonfinite:
        lines.append(f"overflow (inf/NaN, flagged in results): {len(nonfinite)} case(s), e.g. {nonfinite[0]}")
    for c in failed:
        lines.append(f"FAILED {c['id']}: {c['error'].splitlines()[0]}")
    return lines
