"""Initialisation schemes for the gradient-decay experiments.

A scheme is a string ``name`` or ``name:value``:

- ``default``: PyTorch's U(-1/sqrt(H), 1/sqrt(H)) for every parameter.
- ``orthogonal:g``: default, then every gate block of W_hh ([H, H] each) is
  g * Q with Q a random orthogonal matrix (QR of a Gaussian, signs fixed so
  Q is Haar-distributed); ``orthogonal`` alone means g = 1.
- ``identity``: IRNN (Le et al. 2015): W_hh = I (each gate block), biases 0,
  W_ih ~ N(0, 0.001^2).
- ``forget_bias:b``: default, then the LSTM forget-gate bias totals b
  (bias_ih's forget slice = b, bias_hh's = 0); lstm only; b = 1 if omitted.
"""
import numpy as np

SCHEMES = ("default", "orthogonal", "identity", "forget_bias")


def parse_scheme(scheme):
    """'name' or 'name:value' -> (name, value or None)."""
    name, sep, value = str(scheme).partition(":")
    if name not in SCHEMES:
        raise ValueError(f"init: expected one of {', '.join(SCHEMES)} (optionally ':value'), got {scheme!r}")
    if not sep:
        return name, None
    try:
        return name, float(value)
    except ValueError:
        raise ValueError(f"init: expected a number after ':', got {scheme!r}") from None


def haar_orthogonal(n, rng):
    """A random n x n orthogonal matrix, uniformly (Haar) distributed."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def init_params(net, scheme="default", seed=0, dtype=np.float64):
    """Parameters for ``net`` under ``scheme`` (see the module docstring)."""
    name, value = parse_scheme(scheme)
    params = net.init_params(seed=seed, dtype=np.float64)
    rng = np.random.default_rng([seed, 1])
    H, G = net.hidden_size, net.gates
    for layer in range(net.num_layers):
        for d in range(net.num_directions):
            w_ih, w_hh, b_ih, b_hh = (net.param_name(w, layer, d)
                                      for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
            if name == "orthogonal":
                gain = 1.0 if value is None else value
                params[w_hh] = np.concatenate([gain * haar_orthogonal(H, rng) for _ in range(G)])
            elif name == "identity":
                params[w_hh] = np.concatenate([np.eye(H)] * G)
                if w_ih in params:  # skip-input layers have none
                    params[w_ih] = rng.normal(0.0, 1e-3, params[w_ih].shape)
                params[b_ih] = np.zeros(G * H)
                params[b_hh] = np.zeros(G * H)
            elif name == "forget_bias":
                if net.kind != "lstm":
                    raise ValueError(f"init: forget_bias applies to lstm only, got kind {net.kind!r}")
                params[b_ih][H:2 * H] = 1.0 if value is None else value  # gates i, f, g, o
                params[b_hh][H:2 * H] = 0.0
    return {k: v.astype(dtype) for k, v in params.items()}
