"""rnnbench's compute layer (imported as ``rnnbench.kernels``).

- :mod:`rnnbench.kernels.cells`: scalar cell math, written once and shared by
  every compiled backend.
- :mod:`rnnbench.kernels.cpu`: Numba CPU time loops (forward sweep and
  backward sweep of one layer in one direction).
- :mod:`rnnbench.kernels.panels`: products against weights packed in
  panels, in our own SIMD micro-kernel (every product of the CPU time loops).
- :mod:`rnnbench.kernels.transpose`: transposed copies in SIMD blocks (the
  packing of a weight's rows).
- :mod:`rnnbench.kernels.team`: the team of threads that runs each CPU layer
  call, split by hidden units, with a spin barrier between steps.
- :mod:`rnnbench.kernels.blas`: the BLAS gemm of the weight gradients.
- :mod:`rnnbench.kernels.cache`: Numba's on-disk cache, made stale by an edit
  to any kernel source (Numba itself only watches each function's own file).
- :mod:`rnnbench.kernels.cuda`: Numba CUDA kernels (the numba-cuda backend;
  needs ``pip install 'rnnbench[cuda]'``).
"""
