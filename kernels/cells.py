"""Scalar cell math shared by every compiled kernel (CPU now, CUDA later).

Each function works on one hidden unit of one sample: plain scalars in, a
scalar or a tuple of scalars out. They are ``numba.njit(inline="always")`` so
the time loops in :mod:`rnnbench.kernels.cpu` (and later the CUDA pointwise
kernels) inline them into their element loops; no arrays, no allocation.

Conventions follow ``torch.nn`` exactly (pre-activations ``a_*`` include both
biases):

- ``rnn_tanh``: h' = tanh(a),            a = W_ih x + b_ih + W_hh h + b_hh
- ``rnn_relu``: h' = max(0, a)
- ``lstm`` (gates i, f, g, o):
  i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o),
  c' = f c + i g,  h' = o tanh(c')
- ``gru`` (gates r, z, n):
  r = σ(x_r + h_r), z = σ(x_z + h_z), n = tanh(x_n + r h_n),
  h' = (1 - z) n + z h,  where x_* = W_i* x + b_i*, h_* = W_h* h + b_h*

Backward functions take the gradient arriving at the cell's outputs and the
values saved by the forward pass, and return gradients of the
pre-activations and of the previous state.
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

RNN_TANH = 0
RNN_RELU = 1
LSTM = 2
GRU = 3

KIND_IDS = {"rnn_tanh": RNN_TANH, "rnn_relu": RNN_RELU, "lstm": LSTM, "gru": GRU}
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}

inline = njit(inline="always")

# float32 tanh: x P(x^2) / Q(x^2), Eigen's generic_fast_tanh_float coefficients, P and
# Q by Horner's rule in fused multiply-adds, on x clamped to +-7.998812: Eigen's clamp
# for the fused form, the first float32 at which it gives exactly 1 (every float32 in
# [7, 7.998812) gives less than 1, checked). Branch-free, so LLVM vectorises the
# element loops. Error against float64 tanh, checked exhaustively over every float32
# in [0, 9] (odd symmetry and the clamp cover the rest): at most 4.90 float32 ulp,
# i.e. 2.9e-7 relative (6.88 with separate multiplies and adds; tests/test_cells.py
# re-checks a dense grid). Its division (one a call, five an LSTM unit) costs the LSTM's
# cell loop 8% (Zen 4, in L1: 1.86-1.90 ns a unit, 1.73 with a multiply in its place),
# so a reciprocal estimate, which would loosen that bound, is not worth it. Nor is folding
# the float32 sigmoid's halvings into scaled coefficients (x P(x^2/4) / (4 Q(x^2/4)),
# bit for bit the same over all 2^32 inputs, two multiplies fewer): the cell loops in
# L1 took 0.975 (LSTM) and 1.007 (GRU) of the time.
_F32 = np.float32
_CLAMP = _F32(7.99881172180175781)
_TINY = _F32(0.0004)
_A = tuple(map(_F32, (4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05,
                      5.12229709037114e-08, -8.60467152213735e-11, 2.00018790482477e-13,
                      -2.76076847742355e-16)))
_B = tuple(map(_F32, (4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04,
                      1.19825839466702e-06)))
_HALF = _F32(0.5)
# 0 and 1 as float32 constants: exact in either precision, so float64 cell math
# promotes them losslessly while float32 cell math stays in float32 (a Python
# float literal would turn every float32 expression it touches into float64,
# halving the vector width on the CPU and costing FP64 instructions on a GPU).
_ZERO = _F32(0.0)
_ONE = _F32(1.0)


# float64 exp, branch-free so LLVM vectorises it (libm's exp and tanh are scalar calls):
# Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, a degree-13 Taylor polynomial for e^r
# (truncation error < 4e-18), and 2^k assembled from its bits. Measured: at most 1 ulp
# against libm on [-707, 709.78]; tests/test_cells.py re-checks it.
_INV_LN2 = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split so that k * _LN2_HI is exact for |k| < 2^11
_LN2_LO = 1.90821492927058770002e-10
_EXP_TAYLOR = tuple(1.0 / math.factorial(n) for n in range(14))
_ROUND = 6755399441055744.0  # 1.5 * 2^52: x + _ROUND rounds x to an integer held in the low bits
_ROUND_BITS = int(np.float64(_ROUND).view(np.int64))
# Cephes' tanh for |x| <= 0.625: x + x^3 P(x^2) / Q(x^2) (Q monic)
_TANH_P = (-9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3)
_TANH_Q = (1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3)


@intrinsic
def _f64_from_bits(typingctx, bits):
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def _bits_of_f64(typingctx, value):
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@inline
def _exp_f64(x):
    """e^x for x in [-707, 709.78] (1 ulp), inf above; below -707 it returns
    e^-707 (~1e-307) instead of a subnormal: only for uses where 1 + e^x absorbs
    it. NaN propagates."""
    x = 709.79 if x > 709.79 else (-707.0 if x < -707.0 else x)
    t = x * _INV_LN2 + _ROUND
    kf = t - _ROUND
    r = (x - kf * _LN2_HI) - kf * _LN2_LO
    c = _EXP_TAYLOR
    p = ((((((c[13] * r + c[12]) * r + c[11]) * r + c[10]) * r + c[9]) * r + c[8]) * r + c[7]) * r + c[6]
    p = (((((p * r + c[5]) * r + c[4]) * r + c[3]) * r + c[2]) * r + c[1]) * r + c[0]
    k = _bits_of_f64(t) - _ROUND_BITS
    return (p * 2.0) * _f64_from_bits((k + 1022) << 52)  # 2 * 2^(k-1): k = 1024 stays finite


@inline
def _tanh_f64(x):
    ax = abs(x)
    s = x * x
    small = ax + ax * s * (((_TANH_P[0] * s + _TANH_P[1]) * s + _TANH_P[2])
                           / (((s + _TANH_Q[0]) * s + _TANH_Q[1]) * s + _TANH_Q[2]))
    large = 1.0 - 2.0 / (_exp_f64(2.0 * ax) + 1.0)
    return math.copysign(small if ax <= 0.625 else large, x)


def tanh(x):
    """tanh(x). float64: Cephes' rational form for |x| <= 0.625, 1 - 2/(e^{2|x|} + 1)
    above (at most 2 ulp, measured); float32: the rational approximation above
    (at most 4.90 ulp). Both branch-free and vectorisable; NaN propagates."""
    return np.tanh(x)


def sigmoid(x):
    """σ(x) = 1 / (1 + e^{-x}). float64: with the vectorisable exp above
    (e^{-x} = inf gives exactly 0, never NaN); float32: 0.5 tanh(x/2) + 0.5 with
    the float32 tanh."""
    return 1 / (1 + np.exp(-x))


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c rounded once (llvm.fma: one vfmadd per vector on the CPU,
    fma.rn on the GPU). Numba does not contract a * b + c by itself without
    fastmath, which the numerics must not have."""
    if not (isinstance(a, types.Float) and a == b == c):
        return None

    def codegen(context, builder, sig, args):
        ty = context.get_value_type(sig.return_type)
        return builder.call(builder.module.declare_intrinsic("llvm.fma", [ty], ir.FunctionType(ty, [ty] * 3)), args)
    return a(a, b, c), codegen


@inline
def _tanh_f32(x):
    xc = _CLAMP if x > _CLAMP else (-_CLAMP if x < -_CLAMP else x)  # NaN passes through
    x2 = xc * xc
    p = _A[6]
    for a in _A[5::-1]:  # Horner's rule, one fused multiply-add a term
        p = _fma(p, x2, a)
    q = _B[3]
    for b in _B[2::-1]:
        q = _fma(q, x2, b)
    return x if abs(x) < _TINY else (p * xc) / q


@inline
def _sigmoid_f32(x):
    return _HALF * _tanh_f32(_HALF * x) + _HALF


@overload(tanh)
def _tanh_overload(x):
    if x == types.float32:
        def impl(x):
            return _tanh_f32(x)
    else:
        def impl(x):
            return _tanh_f64(x)
    return impl


@overload(sigmoid)
def _sigmoid_overload(x):
    if x == types.float32:
        def impl(x):
            return _sigmoid_f32(x)
    else:
        def impl(x):
            return 1.0 / (1.0 + _exp_f64(-x))
    return impl


@inline
def relu(x):
    """max(0, x), propagating NaN like torch.relu."""
    return _ZERO if x <= _ZERO else x


@inline
def rnn_cell(a, use_relu):
    """h' = relu(a) or tanh(a)."""
    return relu(a) if use_relu else tanh(a)


@inline
def rnn_cell_backward(dh, h, use_relu):
    """da = dh * act'(a), from the output h: tanh' = 1 - h², relu' = [h > 0]."""
    if use_relu:
        return dh if h > _ZERO else _ZERO
    return dh * (_ONE - h * h)


@inline
def lstm_gates(a_i, a_f, a_g, a_o):
    """Returns the activated gates (i, f, g, o) of one unit."""
    return sigmoid(a_i), sigmoid(a_f), tanh(a_g), sigmoid(a_o)


@inline
def lstm_state(i, f, g, o, c_prev):
    """Returns (c', h') for one unit from its activated gates."""
    c = f * c_prev + i * g
    return c, o * tanh(c)


@inline
def lstm_cell(a_i, a_f, a_g, a_o, c_prev):
    """Returns (i, f, g, o, c', h') for one unit: :func:`lstm_gates`, then
    :func:`lstm_state`."""
    i, f, g, o = lstm_gates(a_i, a_f, a_g, a_o)
    c, h = lstm_state(i, f, g, o, c_prev)
    return i, f, g, o, c, h


@inline
def lstm_cell_backward(dh, dc, i, f, g, o, c, c_prev):
    """Gradients of (a_i, a_f, a_g, a_o) and of c_prev.

    dc_total = dc + dh o (1 - tanh²c'); di = dc_total g; df = dc_total c_prev;
    dg = dc_total i; do = dh tanh c'; dc_prev = dc_total f.
    """
    tc = tanh(c)
    dct = dc + dh * o * (_ONE - tc * tc)
    da_i = dct * g * i * (_ONE - i)
    da_f = dct * c_prev * f * (_ONE - f)
    da_g = dct * i * (_ONE - g * g)
    da_o = dh * tc * o * (_ONE - o)
    return da_i, da_f, da_g, da_o, dct * f


@inline
def gru_cell(a_r, a_z, x_n, h_n, h_prev):
    """Returns (r, z, n, h') for one unit; a_r, a_z are summed pre-activations,
    x_n = W_in x + b_in and h_n = W_hn h + b_hn are kept apart."""
    r = sigmoid(a_r)
    z = sigmoid(a_z)
    n = tanh(x_n + r * h_n)
    return r, z, n, (_ONE - z) * n + z * h_prev


@inline
def gru_cell_backward(dh, r, z, n, h_n, h_prev):
    """Gradients (da_r, da_z, dx_n, dh_n, dh_prev_direct) for one unit.

    dn = dh (1 - z); dz = dh (h_prev - n); dx_n = dn (1 - n²);
    dh_n = dx_n r; da_r = dx_n h_n r (1 - r); da_z = dz z (1 - z);
    dh_prev (direct path, without W_hh) = dh z.
    """
    dx_n = dh * (_ONE - z) * (_ONE - n * n)
    da_r = dx_n * h_n * r * (_ONE - r)
    da_z = dh * (h_prev - n) * z * (_ONE - z)
    return da_r, da_z, dx_n, dx_n * r, dh * z
