"""Truncated backpropagation through time: which steps each loss reaches.

With 0-based steps, the loss at step t (d_output[t], plus the final-state
gradient at each sample's last step) sends gradient into the cell
computations at steps f(t)..t only; the state entering f(t) is a constant,
except when f(t) = 0, where the gradient reaches the initial state.

- ``full``:    f(t) = 0
- ``kstep:K``: f(t) = max(0, t - K)      (K >= 0; K = 0: no gradient through time)
- ``chunk:K``: f(t) = K * floor(t / K)   (K >= 1; chunks of K steps)
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Truncation:
    mode: str  # "full", "kstep" or "chunk"
    k: int = 0

    def window_start(self, t):
        """f(t): the first step the loss at step t reaches."""
        if self.mode == "kstep":
            return max(0, t - self.k)
        if self.mode == "chunk":
            return self.k * (t // self.k)
        return 0

    def is_full_for(self, T):
        """True when this truncation cuts nothing on a sequence of T steps."""
        return (self.mode == "full" or (self.mode == "kstep" and self.k >= T - 1)
                or (self.mode == "chunk" and self.k >= T))

    def __str__(self):
        return self.mode if self.mode == "full" else f"{self.mode}:{self.k}"


def parse_truncation(spec):
    """'full' | 'kstep:K' (K >= 0) | 'chunk:K' (K >= 1) -> Truncation."""
    if isinstance(spec, Truncation):
        return spec
    expected = "'full', 'kstep:K' with K >= 0, or 'chunk:K' with K >= 1"
    if not isinstance(spec, str):
        raise ValueError(f"truncation: expected {expected}, got {spec!r}")
    if spec == "full":
        return Truncation("full")
    mode, sep, k = spec.partition(":")
    minimum = {"kstep": 0, "chunk": 1}.get(mode)
    if not sep or minimum is None or not k.isdigit() or int(k) < minimum:
        raise ValueError(f"truncation: expected {expected}, got {spec!r}")
    return Truncation(mode, int(k))
