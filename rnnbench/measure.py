"""Run one suite case: build the network and data it names, measure, and
return JSON-ready scalar values and per-lag series."""
import math

import numpy as np

from . import decay
from .inits import init_params
from .model import RNN

STEPS_IN_PAST_RATIO = 1e-20


def _finite_or_none(value):
    """JSON-safe scalar: non-finite floats become None (rows say so in 'finite')."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def _series(values):
    return [_finite_or_none(v) for v in np.asarray(values, dtype=np.float64)]


def log_mean(norms, axis=1):
    """Geometric mean over ``axis`` of the positive finite entries (NaN where none)."""
    norms = np.asarray(norms, dtype=np.float64)
    with np.errstate(all="ignore"):
        logs = np.where(np.isfinite(norms) & (norms > 0), np.log(norms), np.nan)
        valid = ~np.all(np.isnan(logs), axis=axis)
        out = np.full(logs.shape[:axis] + logs.shape[axis + 1:], np.nan)
        out[valid] = np.exp(np.nanmean(np.compress(valid, logs, axis=1 - axis), axis=axis))
    return out


def geometric_mean(values):
    """exp(mean(ln v)): 0 when any value underflowed to 0 (a real result, not a gap)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.exp(np.mean(np.log(np.asarray(values, dtype=np.float64)))))


def build(case):
    """(net, params, x) for a case."""
    net = RNN(case["kind"], case["input_size"], case["hidden_size"], case["num_layers"])
    params = init_params(net, case["init"], seed=case["seed"], dtype=np.dtype(case["dtype"]))
    rng = np.random.default_rng([case["seed"], 2])
    x = (rng.standard_normal((case["T"], case["batch"], case["input_size"])) * case["input_scale"])
    return net, params, x.astype(case["dtype"])


def measure_decay(case):
    net, params, x = build(case)
    T, B = case["T"], case["batch"]
    H = net.hidden_size
    jac = decay.jacobian_norms(net, params, x, backend=case["backend"])
    jac_fit = decay.fit(jac)
    d_output = np.zeros((T, B, H), dtype=x.dtype)
    d_output[-1] = 1 / math.sqrt(H)  # a unit-norm loss gradient at the last step
    adj = decay.adjoint_norms(net, params, x, d_output=d_output, backend=case["backend"])
    adj_by_lag = adj[::-1]
    with np.errstate(all="ignore"):
        in_past = float(np.mean(adj > STEPS_IN_PAST_RATIO * adj[-1][None, :]))
    temporal = decay.temporal_contributions(net, params, x, backend=case["backend"])
    spectral = decay.spectral(net, params)[0]
    bound = decay.pascanu_bound(net, params, T)
    values = dict(
        rate=jac_fit.rate, e_folding=jac_fit.e_folding, half_life=jac_fit.half_life,
        jacobian_norm_last=geometric_mean(jac[-1]), grad_step0=geometric_mean(adj[0]),
        adjoint_rate=decay.fit_rate(adj_by_lag), steps_in_past=in_past,
        sigma_1=spectral["sigma_1"], rho=spectral["rho"],
        pascanu_applies=bound is not None,
        pascanu_violations=decay.bound_violations(jac, bound) if bound is not None else None,
        finite=bool(np.all(np.isfinite(jac)) and np.all(np.isfinite(adj)) and np.all(np.isfinite(temporal))),
    )
    series = dict(jacobian_norm=_series(log_mean(jac)), adjoint_norm=_series(log_mean(adj_by_lag)),
                  temporal=_series(log_mean(temporal)))
    if bound is not None:
        series["pascanu_bound"] = _series(bound)
    return values, series


def measure_tbptt(case):
    net, params, x = build(case)
    rng = np.random.default_rng([case["seed"], 3])
    d_output = rng.standard_normal((case["T"], case["batch"], net.hidden_size)).astype(x.dtype)
    row = decay.truncation_bias(net, params, x, d_output, [case["truncation"]], backend=case["backend"]).iloc[0]
    values = {k: row[k] for k in ("mode", "K", "cosine", "rel_error", "share_beyond_K", "seconds", "finite", "note")}
    values.update(K=int(values["K"]), finite=bool(values["finite"]))
    return values, {}


def measure_throughput_case(case, backends=None, **timing):
    """{backend: (values, series)}: timing of the case on each backend, interleaved
    (``timing``: min_repeats, min_seconds, settle_s for rnnbench.throughput).
    A backend that cannot run the case has values {"unsupported": reason}."""
    from .throughput import measure_throughput
    net = RNN(case["kind"], case["input_size"], case["hidden_size"], case["num_layers"],
              input_mode=case["input_mode"])
    results = measure_throughput(net, case["T"], case["batch"], np.dtype(case["dtype"]),
                                 backends or [case["backend"]], seed=case["seed"], init=case["init"],
                                 input_scale=case["input_scale"], **timing)
    out = {}
    for name, values in results.items():
        timings = values.pop("timings", {})
        series = {f"{phase}_samples_s": t["samples"] for phase, t in timings.items()}
        out[name] = ({k: _finite_or_none(v) for k, v in values.items()}, series)
    return out


def measure_single_backend_throughput(case):
    values, series = measure_throughput_case(case)[case["backend"]]
    if "unsupported" in values:
        raise ValueError(values["unsupported"])
    return values, series


MEASURE = {"decay": measure_decay, "tbptt": measure_tbptt, "throughput": measure_single_backend_throughput}


def run_case(case):
    """-> (values: dict of JSON scalars, series: dict name -> list)."""
    values, series = MEASURE[case["measurement"]](case)
    return {k: _finite_or_none(v) for k, v in values.items()}, series
