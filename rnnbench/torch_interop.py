"""Parameters both ways between rnnbench and ``torch.nn.{RNN, LSTM, GRU}``.

The parameter dict uses exactly the names and shapes of the torch module's
``state_dict()``, so conversion is a copy in either direction.
"""
import numpy as np

from .model import RNN


def _torch():
    import torch
    return torch


def to_torch(net, params):
    """A ``torch.nn`` module (time-major, ``batch_first=False``) holding ``params``."""
    if net.input_mode != "linear":
        raise ValueError(f"input_mode: torch.nn has only 'linear' (no skip-input mode), got {net.input_mode!r}")
    torch = _torch()
    dtype = next(iter(params.values())).dtype
    common = dict(input_size=net.input_size, hidden_size=net.hidden_size, num_layers=net.num_layers,
                  bidirectional=net.bidirectional)
    if net.kind == "lstm":
        module = torch.nn.LSTM(**common)
    elif net.kind == "gru":
        module = torch.nn.GRU(**common)
    else:
        module = torch.nn.RNN(nonlinearity=net.kind[4:], **common)
    module = module.to(torch.float64 if dtype == np.float64 else torch.float32)
    module.load_state_dict({name: torch.from_numpy(np.ascontiguousarray(value))
                            for name, value in params.items()})
    return module


def from_torch(module):
    """(RNN, params) from a ``torch.nn.{RNN, LSTM, GRU}`` module with biases."""
    torch = _torch()
    if isinstance(module, torch.nn.LSTM):
        kind = "lstm"
    elif isinstance(module, torch.nn.GRU):
        kind = "gru"
    elif isinstance(module, torch.nn.RNN):
        kind = f"rnn_{module.nonlinearity}"
    else:
        raise ValueError(f"module: expected a torch.nn.RNN, LSTM or GRU, got {type(module).__name__}")
    if not module.bias or module.batch_first or getattr(module, "proj_size", 0):
        raise ValueError("module: expected bias=True, batch_first=False and no proj_size, "
                         f"got bias={module.bias}, batch_first={module.batch_first}, "
                         f"proj_size={getattr(module, 'proj_size', 0)}")
    net = RNN(kind, module.input_size, module.hidden_size, module.num_layers, module.bidirectional)
    params = {name: value.detach().cpu().numpy().copy() for name, value in module.state_dict().items()}
    return net, params
