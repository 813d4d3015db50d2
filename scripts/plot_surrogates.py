"""Plot g(x) of every registered surrogate over x in [-3, 3] into docs/img/surrogates.png.

The gradient is measured through the default path (a real backward pass), so the figure
shows what training uses, not just the formula.  Needs matplotlib (extra ``plot``).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import sc_neurocore  # noqa: E402


def measured_gradient(name: str, x: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    spike = sc_neurocore.get_surrogate(name)(x)
    (grad,) = torch.autograd.grad(spike.sum(), x)
    return grad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/img/surrogates.png"))
    args = parser.parse_args()
    names = sc_neurocore.list_surrogates()
    x = torch.linspace(-3, 3, 1201, dtype=torch.float64)
    columns = 3
    rows = math.ceil(len(names) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 2.6 * rows), squeeze=False)
    for axis, name in zip(axes.flat, names):
        spec = sc_neurocore.get_spec(name)
        params = ", ".join(f"{key}={value:g}" for key, value in spec.params) or "no parameters"
        grad = measured_gradient(name, x)
        axis.plot(x, grad, color="tab:blue", lw=1.8)
        low, high = min(0.0, float(grad.min())), max(0.0, float(grad.max()))
        axis.set_ylim(low - 0.08 * (high - low), high + 0.08 * (high - low))
        axis.axvline(0, color="0.7", lw=0.8)
        axis.set_title(f"{name} ({params})", fontsize=10)
        axis.set_xlim(-3, 3)
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(names) :]:
        axis.set_visible(False)
    figure.suptitle("Surrogate gradient g(x), x = v - threshold (default parameters)")
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=110)
    print(f"wrote {args.out} ({len(names)} surrogates)")


if __name__ == "__main__":
    main()
