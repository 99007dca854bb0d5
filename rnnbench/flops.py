"""FLOP counts for one single-layer, unidirectional RNN pass.

Notation: ``T`` time steps, ``N`` batch, ``H`` hidden size, ``I`` input size,
``G`` gate blocks per cell (1 for rnn_tanh/rnn_relu, 4 for lstm, 3 for gru).
One multiply-add counts as 2 FLOPs. Every count is an exact Python ``int``.

Two conventions:

``"deepbench"`` (:func:`deepbench_flops`)
    Counts the recurrent GEMM only, as Baidu DeepBench does. Its RNN benches
    skip the input GEMM (``CUDNN_SKIP_INPUT`` / ``miopenRNNskip``, input size =
    hidden) and the README says "the time for the calculation of Wx_t for all t
    should not be included". Per forward pass::

        vanilla (rnn_relu; rnn_tanh counted the same)  2*T*N*H**2 + T*N*H
        lstm                                           8*T*N*H**2
        gru                                            6*T*N*H**2

    ``I`` plays no part. The ``+ T*N*H`` term for vanilla is one op per output
    element for the nonlinearity. The LSTM and GRU counts leave their pointwise
    work out.

    Where these formulas come from: DeepBench's benchmark code computes no FLOP
    count. ``code/nvidia/rnn_bench.cu`` and ``code/amd/rnn_bench_rocm.cpp``
    only print times in microseconds (fwd_time, bwd_time), and the README's
    "Fwd TeraFLOPS" column gives no formula. The counts above come from the
    issue that asked for this module, and they are the usual count for the
    recurrent GEMM U h_{t-1} with G*H outputs, giving 2*N*(G*H)*H per step.

``"full"`` (:func:`full_flops`)
    Counts both GEMMs of every step: the input GEMM W x_t, which is
    ``[N, I] x [I, G*H]``, and the recurrent GEMM U h_{t-1}, which is
    ``[N, H] x [H, G*H]``::

        2*T*N*G*H*(I + H)

    In skip-input mode (``skip_input=True``, cuDNN's CUDNN_SKIP_INPUT) there
    is no input GEMM and the count is ``2*T*N*G*H*H``.

    Bias adds, activations, gate products and the cell/state update (all
    O(T*N*H)) are **not** counted. They are small next to the GEMMs when H is
    large.

    Always ``full >= deepbench`` for the same H (and any I >= 1). For vanilla,
    ``2*T*N*H*I >= T*N*H``.

Phases (:func:`phase_flops`): ``backward_data`` (dX, dh: multiplies by W^T and
U^T) and ``backward_weights`` (dW, dU: outer products accumulated over T*N)
each cost the same as ``forward`` under either convention.
``forward_backward = forward + backward_data + backward_weights = 3 * forward``.
(DeepBench's NVIDIA bench times only forward and ``cudnnRNNBackwardData``. Its
ROCm bench reports ``bwd_params_time`` as 0.)
"""
from numbers import Integral

from .kernels.cells import GATES

KINDS = tuple(GATES)

__all__ = [
    "KINDS", "PHASES", "CONVENTIONS", "GATES", "DEEPBENCH_KIND",
    "deepbench_flops", "full_flops", "phase_flops", "problem_flops",
]

PHASES = ("forward", "backward_data", "backward_weights", "forward_backward")
CONVENTIONS = ("deepbench", "full")

#: DeepBench cell name -> our kind. DeepBench's "vanilla" is a ReLU RNN.
DEEPBENCH_KIND = {"vanilla": "rnn_relu", "lstm": "lstm", "gru": "gru"}

_PHASE_MULT = {"forward": 1, "backward_data": 1, "backward_weights": 1,
               "forward_backward": 3}


def _check_kind(kind):
    if kind not in GATES:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def _check_size(name, value):
    if isinstance(value, bool) or not isinstance(value, Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def deepbench_flops(kind, T, N, H):
    """Forward FLOPs the DeepBench way: the recurrent GEMM only (see module doc).

    rnn_tanh / rnn_relu: ``2*T*N*H**2 + T*N*H``; lstm: ``8*T*N*H**2``;
    gru: ``6*T*N*H**2``.
    """
    _check_kind(kind)
    T, N, H = (_check_size(n, v) for n, v in (("T", T), ("N", N), ("H", H)))
    if GATES[kind] == 1:
        return 2 * T * N * H * H + T * N * H
    return 2 * GATES[kind] * T * N * H * H


def full_flops(kind, T, N, H, I, skip_input=False):
    """Forward FLOPs of the input and recurrent GEMMs: ``2*T*N*G*H*(I + H)``,
    or ``2*T*N*G*H*H`` with ``skip_input`` (no input GEMM).

    Pointwise work (bias, activations, gate math) is not counted.
    """
    _check_kind(kind)
    T, N, H, I = (_check_size(n, v) for n, v in (("T", T), ("N", N), ("H", H), ("I", I)))
    return 2 * T * N * GATES[kind] * H * ((0 if skip_input else I) + H)


def phase_flops(kind, T, N, H, I, phase="forward", convention="full", skip_input=False):
    """FLOPs of one phase under ``convention`` ("deepbench" or "full").

    ``backward_data`` and ``backward_weights`` each equal ``forward``, and
    ``forward_backward`` is 3x ``forward``. Under "deepbench", ``I`` is checked
    but not used, since DeepBench sets the input size to H and leaves out the input GEMM.
    """
    if phase not in _PHASE_MULT:
        raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
    if convention == "deepbench":
        _check_size("I", I)
        fwd = deepbench_flops(kind, T, N, H)
    elif convention == "full":
        fwd = full_flops(kind, T, N, H, I, skip_input)
    else:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    return _PHASE_MULT[phase] * fwd


def problem_flops(problem, phase="forward", convention="deepbench"):
    """FLOPs for a :class:`rnnbench.deepbench.Problem` (input size = hidden)."""
    hidden, batch, steps, cell = problem
    if cell not in DEEPBENCH_KIND:
        raise ValueError(f"problem cell must be one of {tuple(DEEPBENCH_KIND)}, got {cell!r}")
    return phase_flops(DEEPBENCH_KIND[cell], steps, batch, hidden, hidden, phase, convention)
