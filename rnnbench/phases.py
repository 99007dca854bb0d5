"""One training step in DeepBench's phases, as separately callable functions.

- ``forward``: rb.forward (inference: outputs and final state).
- ``backward_data``: full BPTT of x, h0 (and c0) from a training forward's
  tapes, the pre-activation gradients of every step kept (cudnnRNNBackwardData).
- ``backward_weights``: the parameter gradients from those pre-activation
  gradients, two GEMMs per layer over all steps (cudnnRNNBackwardWeights).
- ``forward_backward``: rb.backward end to end (its own training forward,
  backward-data and backward-weights).

A backend built on :class:`rnnbench.layered.LayeredBackend` splits the
backward (``splits_backward = True``); torch's autograd runs both backward
phases as one pass, so it offers ``forward`` and ``forward_backward`` only.
A backend with its own ``phase_functions`` (torch) is timed through them:
torch as its users run it, module and tensors made once, outside the clock.
"""
import numpy as np

from . import validation as v
from .api import backward, forward, validated_problem
from .backends import get_backend
from .flops import PHASES


def splits_backward(backend):
    """Whether ``backend`` can time backward-data and backward-weights apart."""
    return bool(getattr(get_backend(backend), "splits_backward", False))


def phase_functions(net, params, x, d_output, backend):
    """{phase: zero-argument callable} for one problem, loss sum(d_output * output).

    x: [T, B, I]; d_output: [T, B, D*H]. Every backend gets ``forward`` and
    ``forward_backward``; splitting backends also ``backward_data`` and
    ``backward_weights``, which run on one training forward made here (and
    one backward-data, so that backward-weights has its input from the start).
    Each phase call recomputes its whole result, so calls can repeat; each
    backward-data call starts from the tapes as the training forward left
    them, so it pays what a training step's does (numba-cpu packs W_hh and
    W_ih on a tape's first sweep and reuses them on later sweeps of that tape:
    a repeated call on one trace would skip that).
    """
    impl = get_backend(backend)
    p = validated_problem(net, params, x, None, None)
    dy = v.check_grad("d_output", d_output, x.shape[:2] + (net.num_directions * net.hidden_size,), p.dtype)
    if hasattr(impl, "phase_functions"):
        return impl.phase_functions(p, dy)
    functions = {"forward": lambda: forward(net, params, x, backend=backend),
                 "forward_backward": lambda: backward(net, params, x, d_output, backend=backend)}
    if splits_backward(backend):
        zeros = np.zeros_like(p.h0)
        trace = impl.train_forward(p)
        as_left = [dict(vars(tape)) for tape in trace.tapes]

        def backward_data():
            for tape, fields in zip(trace.tapes, as_left):
                vars(tape).update(fields)
            return impl.backward_data(p, trace, dy, zeros, zeros)
        backward_data()
        functions["backward_data"] = backward_data
        functions["backward_weights"] = lambda: impl.backward_weights(p, trace)
    return {phase: functions[phase] for phase in PHASES if phase in functions}
