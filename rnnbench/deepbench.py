"""Baidu DeepBench's RNN problem lists, transcribed exactly.

Source: ``code/kernels/rnn_problems.h`` in github.com/baidu-research/DeepBench
(read at commits 7b75e76ba0fa60e67a1f4c11ea5ff9381072eb67 and
608d7a3f5e7a6db791664a2f498c1ba642919217). The header holds three
``std::vector<std::tuple<int, int, int, std::string>>`` lists, with field order
"Hidden units, batch size, timesteps, RNN cell type", and it has no ``#ifdef``
or platform-specific sections:

* ``training_set``         -> :data:`TRAIN`        (53 problems)
* ``inference_server_set`` -> :data:`INFER_SERVER` (69 problems)
* ``inference_device_set`` -> :data:`INFER_DEVICE` (3 problems)

The order of entries matches the header. None of the lists has duplicates.

One difference between the two revisions: in 608d7a3 (which also changes
``code/amd/`` and looks like the later revision) the training entry
``(2816, 32, 1500, "gru")`` is commented out, leaving 52 active training
problems. In 7b75e76 it is active. :data:`TRAIN` keeps it, giving 53, and it
is the largest GRU problem in DeepBench's README results table.
:data:`TRAIN_COMMENTED_OUT` lists it on its own.

Cell names are DeepBench's own: ``"vanilla"``, ``"lstm"``, ``"gru"``.
Conventions DeepBench uses for these problems (README "Recurrent Layers";
``code/nvidia/rnn_bench.cu``; ``code/amd/rnn_bench_rocm.cpp``):

* ``"vanilla"`` is a **ReLU** RNN. The README says "The non-linearity for
  vanilla RNNs should be a ReLU", and the ROCm bench maps ``"vanilla"`` to
  ``miopenRNNRELU``. It therefore maps to our ``rnn_relu`` (see
  ``rnnbench.flops.DEEPBENCH_KIND``).
* The input GEMM (W x_t for all t) is **excluded**. The benches build the
  layer with ``CUDNN_SKIP_INPUT`` / ``miopenRNNskip``, and the input size equals
  the hidden size. Only the recurrent work (U h_{t-1} plus the pointwise cell
  math) is timed.
* Single layer, unidirectional, batch size N, T time steps.
"""
from typing import NamedTuple

__all__ = [
    "Problem", "TRAIN", "INFER_SERVER", "INFER_DEVICE", "TRAIN_COMMENTED_OUT",
    "CELLS", "SOURCE",
]

SOURCE = "baidu-research/DeepBench:code/kernels/rnn_problems.h"

#: Cell type strings exactly as they appear in the header.
CELLS = ("vanilla", "lstm", "gru")


class Problem(NamedTuple):
    """One DeepBench RNN problem, in the header's field order."""

    hidden: int
    batch: int
    time_steps: int
    cell: str  # "vanilla" (ReLU RNN), "lstm" or "gru"


TRAIN: tuple[Problem, ...] = (
    Problem(1760, 16, 50, "vanilla"),
    Problem(1760, 32, 50, "vanilla"),
    Problem(1760, 64, 50, "vanilla"),
    Problem(1760, 128, 50, "vanilla"),
    Problem(2048, 16, 50, "vanilla"),
    Problem(2048, 32, 50, "vanilla"),
    Problem(2048, 64, 50, "vanilla"),
    Problem(2048, 128, 50, "vanilla"),
    Problem(2560, 16, 50, "vanilla"),
    Problem(2560, 32, 50, "vanilla"),
    Problem(2560, 64, 50, "vanilla"),
    Problem(2560, 128, 50, "vanilla"),
    Problem(512, 16, 25, "lstm"),
    Problem(512, 32, 25, "lstm"),
    Problem(512, 64, 25, "lstm"),
    Problem(512, 128, 25, "lstm"),
    Problem(1024, 16, 25, "lstm"),
    Problem(1024, 32, 25, "lstm"),
    Problem(1024, 64, 25, "lstm"),
    Problem(1024, 128, 25, "lstm"),
    Problem(2048, 16, 25, "lstm"),
    Problem(2048, 32, 25, "lstm"),
    Problem(2048, 64, 25, "lstm"),
    Problem(2048, 128, 25, "lstm"),
    Problem(4096, 16, 25, "lstm"),
    Problem(4096, 32, 25, "lstm"),
    Problem(4096, 64, 25, "lstm"),
    Problem(4096, 128, 25, "lstm"),
    Problem(1536, 8, 50, "lstm"),
    Problem(1536, 16, 50, "lstm"),
    Problem(1536, 32, 50, "lstm"),
    Problem(256, 16, 150, "lstm"),
    Problem(256, 32, 150, "lstm"),
    Problem(256, 64, 150, "lstm"),
    Problem(2816, 32, 1500, "gru"),  # commented out in the later revision
    Problem(2816, 32, 750, "gru"),
    Problem(2816, 32, 375, "gru"),
    Problem(2816, 32, 187, "gru"),
    Problem(2048, 32, 1500, "gru"),
    Problem(2048, 32, 750, "gru"),
    Problem(2048, 32, 375, "gru"),
    Problem(2048, 32, 187, "gru"),
    Problem(1536, 32, 1500, "gru"),
    Problem(1536, 32, 750, "gru"),
    Problem(1536, 32, 375, "gru"),
    Problem(1536, 32, 187, "gru"),
    Problem(2560, 32, 1500, "gru"),
    Problem(2560, 32, 750, "gru"),
    Problem(2560, 32, 375, "gru"),
    Problem(2560, 32, 187, "gru"),
    Problem(512, 32, 1, "gru"),
    Problem(1024, 32, 1500, "gru"),
    Problem(1024, 64, 1500, "gru"),
)


INFER_SERVER: tuple[Problem, ...] = (
    Problem(512, 1, 25, "lstm"),
    Problem(512, 2, 25, "lstm"),
    Problem(512, 4, 25, "lstm"),
    Problem(1024, 1, 25, "lstm"),
    Problem(1024, 2, 25, "lstm"),
    Problem(1024, 4, 25, "lstm"),
    Problem(2048, 1, 25, "lstm"),
    Problem(2048, 2, 25, "lstm"),
    Problem(2048, 4, 25, "lstm"),
    Problem(1536, 1, 50, "lstm"),
    Problem(1536, 2, 50, "lstm"),
    Problem(1536, 4, 50, "lstm"),
    Problem(256, 1, 150, "lstm"),
    Problem(256, 2, 150, "lstm"),
    Problem(256, 4, 150, "lstm"),
    Problem(2816, 1, 1500, "gru"),
    Problem(2816, 1, 750, "gru"),
    Problem(2816, 1, 375, "gru"),
    Problem(2816, 1, 187, "gru"),
    Problem(2816, 2, 1500, "gru"),
    Problem(2816, 2, 750, "gru"),
    Problem(2816, 2, 375, "gru"),
    Problem(2816, 2, 187, "gru"),
    Problem(2816, 4, 1500, "gru"),
    Problem(2816, 4, 750, "gru"),
    Problem(2816, 4, 375, "gru"),
    Problem(2816, 4, 187, "gru"),
    Problem(2048, 1, 1500, "gru"),
    Problem(2048, 1, 750, "gru"),
    Problem(2048, 1, 375, "gru"),
    Problem(2048, 1, 187, "gru"),
    Problem(2048, 2, 1500, "gru"),
    Problem(2048, 2, 750, "gru"),
    Problem(2048, 2, 375, "gru"),
    Problem(2048, 2, 187, "gru"),
    Problem(2048, 4, 1500, "gru"),
    Problem(2048, 4, 750, "gru"),
    Problem(2048, 4, 375, "gru"),
    Problem(2048, 4, 187, "gru"),
    Problem(1536, 1, 1500, "gru"),
    Problem(1536, 1, 750, "gru"),
    Problem(1536, 1, 375, "gru"),
    Problem(1536, 1, 187, "gru"),
    Problem(1536, 2, 1500, "gru"),
    Problem(1536, 2, 750, "gru"),
    Problem(1536, 2, 375, "gru"),
    Problem(1536, 2, 187, "gru"),
    Problem(1536, 4, 1500, "gru"),
    Problem(1536, 4, 750, "gru"),
    Problem(1536, 4, 375, "gru"),
    Problem(1536, 4, 187, "gru"),
    Problem(2560, 1, 1500, "gru"),
    Problem(2560, 1, 750, "gru"),
    Problem(2560, 1, 375, "gru"),
    Problem(2560, 1, 187, "gru"),
    Problem(2560, 2, 1500, "gru"),
    Problem(2560, 2, 750, "gru"),
    Problem(2560, 2, 375, "gru"),
    Problem(2560, 2, 187, "gru"),
    Problem(2560, 4, 1500, "gru"),
    Problem(2560, 4, 750, "gru"),
    Problem(2560, 4, 375, "gru"),
    Problem(2560, 4, 187, "gru"),
    Problem(512, 1, 1, "gru"),
    Problem(512, 2, 1, "gru"),
    Problem(512, 4, 1, "gru"),
    Problem(1024, 1, 1500, "gru"),
    Problem(1024, 2, 1500, "gru"),
    Problem(1024, 4, 1500, "gru"),
)


INFER_DEVICE: tuple[Problem, ...] = (
    Problem(32, 1, 672, "vanilla"),
    Problem(64, 1, 96, "vanilla"),
    Problem(256, 1, 150, "lstm"),
)

#: The training entry that is commented out in revision 608d7a3 (still in TRAIN).
TRAIN_COMMENTED_OUT: tuple[Problem, ...] = (Problem(2816, 32, 1500, "gru"),)
