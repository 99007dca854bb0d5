"""The network description: kind, sizes, and parameters in PyTorch's layout."""
from dataclasses import dataclass

import numpy as np

from .kernels.cells import GATES

KINDS = tuple(GATES)
DTYPES = (np.float32, np.float64)
INPUT_MODES = ("linear", "skip")


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class RNN:
    """A stack of recurrent layers, exactly as ``torch.nn.{RNN, LSTM, GRU}``.

    kind: ``rnn_tanh``, ``rnn_relu``, ``lstm`` (gates i, f, g, o) or ``gru``
    (gates r, z, n). Parameters are a dict with the names and shapes of the
    torch module's ``state_dict()``, per layer l and direction suffix s
    ('' or '_reverse'), G gates:

    - ``weight_ih_l{l}{s}``: [G*H, I_l]  (I_0 = input_size, I_l = D*H above)
    - ``weight_hh_l{l}{s}``: [G*H, H]
    - ``bias_ih_l{l}{s}``, ``bias_hh_l{l}{s}``: [G*H]

    input_mode: ``"linear"`` (torch's only mode) or ``"skip"``, cuDNN's
    CUDNN_SKIP_INPUT as DeepBench times it: layer 0 has no ``weight_ih_l0``
    and its input (input_size = hidden_size) enters every gate block as it
    is, a_x = [x_t, ..., x_t] + b_ih. Not loadable into torch.nn.
    """

    kind: str
    input_size: int
    hidden_size: int
    num_layers: int = 1
    bidirectional: bool = False
    input_mode: str = "linear"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {self.kind!r}")
        for name in ("input_size", "hidden_size", "num_layers"):
            object.__setattr__(self, name, _positive_int(name, getattr(self, name)))
        if not isinstance(self.bidirectional, (bool, np.bool_)):
            raise ValueError(f"bidirectional: expected True or False, got {self.bidirectional!r}")
        object.__setattr__(self, "bidirectional", bool(self.bidirectional))
        if self.input_mode not in INPUT_MODES:
            raise ValueError(f"input_mode: expected one of {', '.join(INPUT_MODES)}, got {self.input_mode!r}")
        if self.input_mode == "skip" and self.input_size != self.hidden_size:
            raise ValueError(f"input_size: input_mode 'skip' needs input_size == hidden_size "
                             f"({self.hidden_size}), got {self.input_size}")

    @property
    def skips_input(self):
        return self.input_mode == "skip"

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    @property
    def gates(self):
        return GATES[self.kind]

    def layer_input_size(self, layer):
        return self.input_size if layer == 0 else self.num_directions * self.hidden_size

    @staticmethod
    def param_name(what, layer, direction):
        """e.g. param_name("weight_ih", 1, 1) -> "weight_ih_l1_reverse"."""
        return f"{what}_l{layer}{'_reverse' if direction else ''}"

    def param_shapes(self):
        """name -> shape, in the order of torch's ``state_dict()``."""
        G, H = self.gates, self.hidden_size
        shapes = {}
        for layer in range(self.num_layers):
            for d in range(self.num_directions):
                if layer > 0 or not self.skips_input:
                    shapes[self.param_name("weight_ih", layer, d)] = (G * H, self.layer_input_size(layer))
                shapes[self.param_name("weight_hh", layer, d)] = (G * H, H)
                shapes[self.param_name("bias_ih", layer, d)] = (G * H,)
                shapes[self.param_name("bias_hh", layer, d)] = (G * H,)
        return shapes

    def layer_weights(self, params, layer, direction):
        """(weight_ih, weight_hh, bias_ih, bias_hh) of one layer and direction;
        weight_ih is None for layer 0 in skip-input mode."""
        return tuple(params.get(self.param_name(what, layer, direction))
                     for what in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def init_params(self, seed=0, dtype=np.float64):
        """PyTorch's default init: every parameter ~ U(-1/sqrt(H), 1/sqrt(H)).

        Deterministic in ``seed`` (NumPy's PCG64), in ``param_shapes`` order.
        """
        dtype = np.dtype(dtype)
        if dtype not in DTYPES:
            raise ValueError(f"dtype: expected float32 or float64, got {dtype}")
        rng = np.random.default_rng(seed)
        bound = 1.0 / np.sqrt(self.hidden_size)
        return {name: rng.uniform(-bound, bound, size=shape).astype(dtype)
                for name, shape in self.param_shapes().items()}
