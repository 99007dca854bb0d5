"""The ``torch`` backend: the same parameters run through ``torch.nn`` and autograd.

A peer to compare against, not a reference: lengths run as packed sequences;
truncated BPTT runs each window from detached states, the way people train
with torch: ``chunk:K`` one chunk after another, ``kstep:K`` one window
max(0, t-K)..t per loss step t (O(T*K) steps).

``TorchBackend(device)``: ``torch`` runs on the CPU; ``torch-cuda``
(:mod:`rnnbench.backends.torch_cuda`) is the same code on a CUDA GPU, where
torch.nn runs cuDNN. Arrays go to the device and back once per call.

For timing, :meth:`TorchBackend.phase_functions` runs torch the way its own
users do: the module and the tensors are made once, outside the clock, and
each timed call only runs the module (and autograd).
"""
import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..torch_interop import to_torch


def _run(module, x, state, lengths, total_length):
    """module over x [n, B, I] from state; samples with lengths[b] < n are packed."""
    if lengths is None or bool((lengths == x.shape[0]).all()):
        return module(x, state)
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    out, final = module(packed, state)
    return pad_packed_sequence(out, total_length=total_length)[0], final


class TorchBackend:
    splits_backward = False  # autograd runs backward-data and backward-weights as one pass

    def __init__(self, device="cpu"):
        self.device = torch.device(device)

    def _tensor(self, array, grad=False):
        """A leaf tensor on the device holding a copy of ``array``."""
        return torch.from_numpy(array.copy()).to(self.device).requires_grad_(grad)

    def _setup(self, p, grad):
        module = to_torch(p.net, p.params).to(self.device)
        return (module,) + tuple(self._tensor(a, grad) for a in (p.x, p.h0, p.c0))

    def forward(self, p):
        module, x, h0, c0 = self._setup(p, grad=False)
        state = (h0, c0) if p.is_lstm else h0
        with torch.no_grad():
            out, final = _run(module, x, state, torch.from_numpy(p.lengths), x.shape[0])
        h_n, c_n = final if p.is_lstm else (final, None)
        return _host(out), _host(h_n), (_host(c_n) if c_n is not None else None)

    def phase_functions(self, p, d_output):
        """{"forward", "forward_backward"}: zero-argument callables over the
        validated problem ``p`` (every sample full length) and ``d_output``:
        [T, B, D*H], the loss sum(d_output * output).

        The module (``to_torch``), x, the initial state and d_output are put on
        the device once, here: building an ``nn.LSTM`` and loading its weights
        costs 2 ms at H=256 and 33 ms at H=1024, which no torch user pays per
        call. ``forward``: the module under ``no_grad``. ``forward_backward``:
        gradients cleared, the training forward, ``autograd.backward(output,
        d_output)`` into the weights, x, h0 (and c0); returns ({name: weight
        gradient}, x's gradient). Both wait for the device before returning
        and leave their results on it.
        """
        module, x, h0, c0 = self._setup(p, grad=True)
        state = (h0, c0) if p.is_lstm else h0
        dy = self._tensor(d_output)
        leaves = [x, h0] + ([c0] if p.is_lstm else [])

        def forward():
            with torch.no_grad():
                result = module(x, state)
            self._synchronize()
            return result

        def forward_backward():
            module.zero_grad(set_to_none=True)
            for leaf in leaves:
                leaf.grad = None
            out, _ = module(x, state)
            torch.autograd.backward(out, dy)
            self._synchronize()
            return {name: prm.grad for name, prm in module.named_parameters()}, x.grad

        return {"forward": forward, "forward_backward": forward_backward}

    def _synchronize(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def backward(self, p, d_output, d_h_n, d_c_n, trunc):
        module, x, h0, c0 = self._setup(p, grad=True)
        lengths = torch.from_numpy(p.lengths)  # packing wants lengths on the CPU
        dy, dh, dc = (self._tensor(a) for a in (d_output, d_h_n, d_c_n))
        T = x.shape[0]
        state0 = (h0, c0) if p.is_lstm else h0

        def select(state, live):
            return tuple(s[:, live] for s in state) if p.is_lstm else state[:, live]

        def loss(out, dy_window, final, live, ends):
            """sum(out * dy_window) + final-state terms of the samples in `live` whose
            last step lies in this window (ends: [1, n_live, 1] of 0/1)."""
            h_n, c_n = final if p.is_lstm else (final, None)
            total = (out * dy_window).sum() + (h_n * dh[:, live] * ends).sum()
            return total + (c_n * dc[:, live] * ends).sum() if p.is_lstm else total

        def on_device(ends):
            return ends.to(device=self.device, dtype=x.dtype)[None, :, None]

        everyone = torch.arange(x.shape[1], device=self.device)
        if trunc.is_full_for(T):
            out, final = _run(module, x, state0, lengths, T)
            loss(out, dy, final, everyone, on_device(torch.ones(len(everyone)))).backward()
        elif trunc.mode == "chunk":
            state = state0
            for a in range(0, T, trunc.k):
                b = min(T, a + trunc.k)
                steps = (lengths - a).clamp(min=0, max=b - a)
                live_cpu = torch.nonzero(steps > 0).flatten()
                live = live_cpu.to(self.device)
                out, final = _run(module, x[a:b, live], select(state, live), steps[live_cpu], b - a)
                loss(out, dy[a:b, live], final, live, on_device(lengths[live_cpu] <= b)).backward()
                state = _merge(state, final, live, p.is_lstm)
        else:  # kstep:K with K < T-1: the loss of step t from the detached state entering max(0, t-K)
            for t in range(T):
                a = trunc.window_start(t)
                live_cpu = torch.nonzero(lengths > t).flatten()  # active through steps 0..t: no packing
                live = live_cpu.to(self.device)
                state = select(state0, live)
                if a > 0:
                    with torch.no_grad():
                        _, state = module(x[:a, live], state)
                out, final = module(x[a:t + 1, live], state)
                loss(out[-1:], dy[t:t + 1, live], final, live, on_device(lengths[live_cpu] == t + 1)).backward()
        grads = {name: _grad(prm, p.params[name]) for name, prm in module.named_parameters()}
        return grads, _grad(x, p.x), _grad(h0, p.h0), _grad(c0, p.c0)


def _host(tensor):
    return tensor.detach().cpu().numpy()


def _grad(tensor, like):
    """tensor's accumulated gradient as a NumPy array (zeros if nothing reached it)."""
    return _host(tensor.grad).copy() if tensor.grad is not None else np.zeros_like(like)


def _merge(state, final, live, is_lstm):
    """state with the samples in `live` replaced by `final`, detached (a chunk boundary)."""
    if is_lstm:
        return tuple(_merge(s, f, live, False) for s, f in zip(state, final))
    merged = state.detach().clone()
    merged[:, live] = final.detach()
    return merged


BACKEND = TorchBackend("cpu")
