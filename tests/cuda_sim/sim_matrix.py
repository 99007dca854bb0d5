"""The simulator test matrix, in one place: tests/cuda_sim/sim_checks.py
parametrizes over it, tests/test_cuda_sim.py counts on it (how many tests
each shard must pass). No Numba import here."""
import os

import numpy as np

KINDS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
STRUCTURES = ((1, False), (1, True), (2, False), (2, True))
LENGTHS = (5, 2, 4)  # tests/cases.py: T = 5, B = 3; unsorted, one full, one short
MODES = ("full", "kstep:1", "chunk:2")
DTYPES = (np.float64, np.float32)

# per-step path: the full product
MATRIX = [(kind, layers, bi, lengths, dtype) for dtype in DTYPES for kind in KINDS for layers, bi in STRUCTURES
          for lengths in (None, LENGTHS)]
# persistent kernels (one block): every kind in both dtypes, H = 16 and H = 3, both directions, 1-2 layers
PERSISTENT = ([(kind, 1, False, LENGTHS, np.float64, ("full", "kstep:2", "chunk:3"), 16) for kind in KINDS]
              + [(kind, 2, True, LENGTHS, np.float32, ("full",), 3) for kind in KINDS])
# tiled GEMM: every tile, every operand layout, both dtypes
GEMMS = [(tile, ta, tb, dtype) for tile in ("16x16", "32x32", "64x64")
         for ta, tb in ((False, True), (False, False), (True, False), (True, True)) for dtype in DTYPES]


def _shard_spec():
    spec = os.environ.get("RNNBENCH_SIM_SHARD", "0/1")
    index, count = (int(v) for v in spec.split("/"))
    return index, count


SHARD = _shard_spec()


def shard(items, spec=None):
    """Every count-th item, from index: this shard's share of a parameter list."""
    index, count = spec or SHARD
    return [item for i, item in enumerate(items) if i % count == index]


def ids(params):
    def one(value):
        if value is None:
            return "all-T"
        if isinstance(value, bool):
            return "bi" if value else "uni"
        if isinstance(value, type):
            return np.dtype(value).name
        if isinstance(value, tuple):
            return "lengths" if all(isinstance(v, int) for v in value) else "+".join(value)
        return str(value)
    return ["-".join(one(v) for v in p) for p in params]


# how many tests sim_checks.py holds in shard (index, count); sim_units.py has UNIT_TESTS more
SKIP_INPUT_KINDS = KINDS
DEVICE_KINDS = ("lstm", "gru")


def expected_tests(index, count):
    spec = (index, count)
    return sum(len(shard(items, spec)) for items in (MATRIX, PERSISTENT, GEMMS, SKIP_INPUT_KINDS, DEVICE_KINDS))
