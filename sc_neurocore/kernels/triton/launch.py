"""What every fused-neuron Triton kernel launch shares: block size, grid, parameter arrays."""

from __future__ import annotations

import contextlib
import functools
import itertools
from typing import Any

import torch
from torch import Tensor

from ...core.settings import KERNEL_SWITCH

__all__ = [
    "BLOCK",
    "OLDEST_TRITON",
    "compute_dtype",
    "device_status",
    "grid",
    "interpreter_fma_problem",
    "interpreting",
    "launch_options",
    "on_device",
    "parameter",
    "release",
    "triton_missing",
]

#: Neurons per program; each program walks all T steps for its block.
BLOCK = 128
#: Warps per program of every kernel (docs/gpu.md has the compile report behind it).
WARPS = 4


def interpreting() -> bool:
    """Whether Triton kernels run in its CPU interpreter (``TRITON_INTERPRET=1``, read once
    into the kernel switch of core/settings.py)."""
    return KERNEL_SWITCH.interpret


#: The oldest triton release the kernels run on: the lower bound of the "triton" extra in
#: pyproject.toml (a test keeps the two equal).  Older ones (torch 2.5 pins triton 3.1)
#: reject the generated kernels, so they count as missing.
OLDEST_TRITON = (3, 4)


def release(version: str) -> tuple[int, ...]:
    """``"3.8.0+git..."`` -> ``(3, 8, 0)``: the leading numbers of a version string."""
    numbers = []
    for part in version.split("."):
        digits = "".join(itertools.takewhile(str.isdigit, part))
        if not digits:
            break
        numbers.append(int(digits))
    return tuple(numbers)


def triton_missing() -> str | None:
    """Why there is no usable triton here (not installed, or older than the kernels need)."""
    try:
        import triton
    except ImportError as error:  # pragma: no cover - CI installs the extra
        return f"triton is not installed ({error}); pip install triton (the 'triton' extra)"
    if release(triton.__version__) < OLDEST_TRITON:
        oldest = ".".join(map(str, OLDEST_TRITON))
        # No "CUDA"/"GPU" here: tests/ci_skips.py reads those as legitimate skips.
        return (
            f"triton {triton.__version__} is older than the Triton kernels need "
            f"(triton>={oldest}, the 'triton' extra)"
        )
    return None


def device_status(device: torch.device | str) -> str | None:
    """Why Triton kernels cannot run on ``device``'s kind of tensor here, or ``None``."""
    kind = torch.device(device).type
    # The same device test as kernels/choice.py, kept here so launching needs no choice module.
    if kind == "cpu" and not interpreting():
        return "Triton kernels run on CUDA (or on CPU tensors under TRITON_INTERPRET=1)"
    missing = triton_missing()
    if missing:
        return missing
    if kind == "cpu":
        problem = interpreter_fma_problem()
        if problem:
            return problem
    if kind == "cuda" and interpreting():
        return "TRITON_INTERPRET=1 runs Triton on CPU tensors only"
    if kind not in ("cpu", "cuda"):
        return f"no Triton kernels for {kind} tensors"
    if kind == "cuda" and not torch.cuda.is_available():
        return "CUDA is not available"
    return None


#: (a, b, c) whose product a * b needs more bits than the dtype has: fma(a, b, c) is
#: -2**-26 (float32) or -2**-60 (float64) when rounded once, 0 when a * b is rounded first.
_FMA_PROBES = {
    torch.float32: (1 + 2.0**-13, 1 - 2.0**-13, -1.0),
    torch.float64: (1 + 2.0**-30, 1 - 2.0**-30, -1.0),
}


@functools.cache
def interpreter_fma_problem() -> str | None:
    """Why Triton's CPU interpreter cannot run the fused kernels exactly, or ``None``.

    The fused neurons integrate with ``tl.fma`` (rounded once, as compiled Triton and torch's
    ``add(alpha=)`` do, which is what makes them bit-identical to the cells); the
    interpreter of triton < 3.9 computes it as a multiply and an add, rounded twice.  Probed
    once per process by running ``tl.fma`` in the interpreter (call only while interpreting).
    """
    import triton
    import triton.language as tl

    @triton.jit
    def fma_probe(a_ptr, b_ptr, c_ptr, out_ptr):  # type: ignore[no-untyped-def]
        tl.store(out_ptr, tl.fma(tl.load(a_ptr), tl.load(b_ptr), tl.load(c_ptr)))

    for dtype, values in _FMA_PROBES.items():
        a, b, c = (torch.tensor([value], dtype=dtype) for value in values)
        out = torch.zeros(1, dtype=dtype)
        with on_device(out):  # CPU tensors here: a no-op, but no launch goes unguarded
            fma_probe[(1,)](a, b, c, out)
        if out.item() == 0.0:
            return (
                # No "GPU"/"compiler" here: tests/ci_skips.py reads those as legitimate skips.
                f"Triton {triton.__version__}'s CPU interpreter rounds tl.fma twice in {dtype} "
                "(a multiply, then an add), where the fused Triton kernels need a single "
                "rounding: TRITON_INTERPRET=1 needs triton>=3.9 for them"
            )
    return None


def compute_dtype(dtype: torch.dtype) -> Any:
    """The Triton dtype kernels compute in: float64 for float64, float32 for the rest."""
    import triton.language as tl

    return tl.float64 if dtype == torch.float64 else tl.float32


def grid(n: int) -> tuple[int]:
    return ((n + BLOCK - 1) // BLOCK,)


#: Stride that tells a fused kernel to use a parameter's scalar argument (nothing is read).
SCALAR = -1


def parameter(value: Tensor | float, x: Tensor) -> tuple[Tensor, int, float]:
    """A neuron parameter as the fused kernels take it: ``(tensor, stride, scalar)``.

    A Python float travels as the fp64 scalar argument (stride ``SCALAR``; the tensor slot
    holds ``x``, never read), so no host number becomes a device copy (a host sync); a
    one-element tensor is read with stride 0, a per-neuron one with stride 1.  Tensors are
    already on ``x``'s device (the operators check it), so nothing is copied here.
    """
    if not isinstance(value, Tensor):
        return x, SCALAR, value
    if value.numel() == 1:
        return value.reshape(1), 0, 0.0
    return value.expand(x.shape[1:]).contiguous(), 1, 0.0


def on_device(x: Tensor) -> contextlib.AbstractContextManager[object]:
    """The device guard of a launch: Triton launches on the current CUDA device, so a tensor
    on ``cuda:1`` must make ``cuda:1`` current (a no-op for the interpreter's CPU tensors)."""
    return torch.cuda.device(x.device) if x.is_cuda else contextlib.nullcontext()


#: Options of every launch, explicit rather than Triton's defaults.  ``enable_fp_fusion``
#: off: a multiply and an add are rounded apart, as torch's kernels and Triton's interpreter
#: (which CI runs) round them, so compiled and interpreted kernels agree; the fused neurons'
#: one deliberate fused multiply-add is the explicit ``tl.fma``.  Triton 3.9 warns that its
#: default (on) becomes off in 3.10: stating it keeps the kernels the same on both.
FP_FUSION = False


def launch_options(kernel: str, dtype: torch.dtype) -> dict[str, Any]:
    """The options every launch passes (``num_warps``, ``enable_fp_fusion``), for one kernel
    (``"forward"``, ``"backward"``, ``"backward saved"``, ``"elementwise"``) on ``dtype``
    inputs.  Today the same for all: the compile report (docs/gpu.md) found no kernel whose
    occupancy another warp count or a ``maxnreg`` would raise.  Kept per kernel so a measured
    choice has one place."""
    return {"enable_fp_fusion": FP_FUSION, "num_warps": WARPS}
