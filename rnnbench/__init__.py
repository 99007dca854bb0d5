"""rnnbench: exact, fast RNN / LSTM / GRU forward and backpropagation through time.

    import numpy as np, rnnbench as rb
    net = rb.RNN("lstm", input_size=8, hidden_size=16, num_layers=2)
    params = net.init_params(seed=0, dtype=np.float64)
    out = rb.forward(net, params, x)                     # x: [T, B, 8]
    g = rb.backward(net, params, x, d_output=dy, truncation="kstep:10")
"""
from importlib.metadata import PackageNotFoundError, version

from . import decay
from .api import ForwardResult, Gradients, backward, forward
from .backends import backends
from .model import KINDS, RNN
from .truncation import parse_truncation

try:
    __version__ = version("rnnbench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["decay", "RNN", "KINDS", "forward", "backward", "backends", "ForwardResult", "Gradients",
           "parse_truncation", "__version__"]
