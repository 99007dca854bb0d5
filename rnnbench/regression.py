"""Regression table between two saved throughput runs.

Cases are matched by id. For each phase the ratio is median_B / median_A; a
difference is "same" when it lies inside the runs' own spread (the larger of
the two IQRs of the raw samples), else "slower" or "faster".
"""
import numpy as np

PHASES = ("forward", "forward_backward")


def _stats(case, phase):
    samples = case["series"].get(f"{phase}_samples_s") or []
    if not samples:
        return None
    q1, q3 = np.percentile(samples, [25, 75])
    return float(np.median(samples)), float(q3 - q1)


def regression_rows(run_a, run_b):
    """[{id, phase, a_ms, b_ms, ratio, verdict}] for the throughput cases both runs have."""
    a_cases = {c["id"]: c for c in run_a["cases"] if c["measurement"] == "throughput" and c["status"] == "ok"}
    rows = []
    for case in run_b["cases"]:
        base = a_cases.get(case["id"])
        if base is None or case["status"] != "ok":
            continue
        for phase in PHASES:
            a, b = _stats(base, phase), _stats(case, phase)
            if a is None or b is None:
                continue
            (ma, iqr_a), (mb, iqr_b) = a, b
            verdict = "same" if abs(mb - ma) <= max(iqr_a, iqr_b) else ("slower" if mb > ma else "faster")
            rows.append(dict(id=case["id"], phase=phase, a_ms=1e3 * ma, b_ms=1e3 * mb, ratio=mb / ma,
                             verdict=verdict))
    return rows


def worst_slowdown(rows):
    """The largest ratio among rows judged slower (1.0 when none is)."""
    return max([r["ratio"] for r in rows if r["verdict"] == "slower"], default=1.0)
