"""The SIMD vector width the CPU kernels are written for: VECTOR_BYTES.

The micro-kernel of :mod:`rnnbench.kernels.panels` and the transposes of
:mod:`rnnbench.kernels.transpose` build LLVM vectors of VECTOR_BYTES: 64
(16 float32 or 8 float64, one AVX-512 register) where the CPU Numba
compiles for has AVX-512F, else 32 (AVX2). On the 2-core Zen 4 machine
(AVX-512 on 256-bit units: the same fused multiply-adds a cycle either way),
the 64-byte build ran one thread's per-step products at 101-111 GFLOP/s
where the 32-byte one swung between 75 and 109, and, in one process,
alternating the two (two threads), the LSTM forward 1.20-1.42x faster at
H = 256..1024, B = 16..64, the vanilla RNN's and the GRU's at B = 32
1.07-1.18x, batch 1 0.89-1.21x (inside this host's noise); the results are
bit for bit the same: each output's sum runs in the same order. Eight rows
a micro-kernel call instead of six (AVX-512 has the registers for them)
measured 0.97-1.09x, within that noise: not kept.

``RNNBENCH_SIMD_BYTES`` (32 or 64), read once at import, overrides the
choice: to compare the two, or to test the width a machine would not pick.
64 on a CPU without AVX-512 is still correct (LLVM splits each vector in
two), only slower. The width is part of the on-disk cache's stamp
(:mod:`rnnbench.kernels.cache`), so builds of both widths never mix.
"""
import os

from numba.core import codegen, config

WIDTHS = (32, 64)
ENVIRONMENT_VARIABLE = "RNNBENCH_SIMD_BYTES"


def target_features():
    """The CPU features Numba compiles for, as LLVM writes them
    ('+avx2,+avx512f,...'): NUMBA_CPU_FEATURES where set, else the host's
    (as numba.core.codegen's CPU target chooses them)."""
    if config.CPU_FEATURES is not None:
        return config.CPU_FEATURES
    return codegen.get_host_cpu_features()


def vector_bytes(environ=os.environ, features=None):
    """The vector width for the kernels: ``environ``'s RNNBENCH_SIMD_BYTES
    where set (ValueError unless 32 or 64), else 64 if ``features`` (default:
    :func:`target_features`) enable AVX-512F, else 32."""
    requested = environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if requested:
        if requested not in {str(w) for w in WIDTHS}:
            raise ValueError(f"{ENVIRONMENT_VARIABLE}: expected one of {', '.join(map(str, WIDTHS))} "
                             f"(bytes of a SIMD vector), got {requested!r}")
        return int(requested)
    features = target_features() if features is None else features
    return 64 if "+avx512f" in features.split(",") else 32


VECTOR_BYTES = vector_bytes()
