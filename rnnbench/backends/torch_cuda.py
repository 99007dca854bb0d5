"""The ``torch-cuda`` backend: the torch peer on a CUDA GPU, where torch.nn
runs cuDNN (the peer for numba-cuda). Unavailable without a CUDA build of
torch and a GPU."""
import torch

from .torch_peer import TorchBackend

if not torch.cuda.is_available():
    raise ImportError(f"torch {torch.__version__} sees no CUDA GPU (a CUDA build of torch and a GPU are needed)")

BACKEND = TorchBackend("cuda")
