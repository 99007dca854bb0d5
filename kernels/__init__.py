"""rnnbench's compute layer (imported as ``rnnbench.kernels``).

- :mod:`rnnbench.kernels.cells`: scalar cell math, written once and shared by
  every compiled backend.
- :mod:`rnnbench.kernels.cpu`: Numba CPU time loops (forward sweep and
  backward sweep of one layer in one direction).
- :mod:`rnnbench.kernels.blas`: the BLAS gemm the CPU loops call.
- :mod:`rnnbench.kernels.transpose`: the transposed add of the recurrent
  products, in SIMD blocks.
- :mod:`rnnbench.kernels.cache`: Numba's on-disk cache, made stale by an edit
  to any kernel source (Numba itself only watches each function's own file).
- :mod:`rnnbench.kernels.cuda`: Numba CUDA kernels (the numba-cuda backend;
  needs ``pip install 'rnnbench[cuda]'``).
"""
