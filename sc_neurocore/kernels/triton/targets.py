"""GPU targets for the ahead-of-time compile: ``"cuda:90"`` parsed, and what one SM holds.

Triton compiles for a ``GPUTarget`` without a GPU or a driver (the NVIDIA backend's ``ptxas``
ships inside the triton wheel), so CI can compile every kernel for the GPUs users train on.
The occupancy of a compiled kernel follows from its registers per thread, its warps and its
shared memory against the per-SM limits of the target (NVIDIA's CUDA occupancy rules; AMD's
per-SIMD VGPR file for ``hip``).  Importing this module does not import triton.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Target", "parse_target"]


@dataclass(frozen=True)
class Target:
    """One compile target and the per-multiprocessor limits that decide occupancy."""

    backend: str  # "cuda" or "hip"
    arch: int | str  # 80, 90 (compute capability) or "gfx942"
    warp_size: int
    #: Registers in one SM's (CU's SIMD's, for hip) register file, in 32-bit registers.
    registers: int
    #: Registers are handed to a warp in units of this many (per warp).
    register_unit: int
    #: Resident warps (waves) per SM (per SIMD, for hip).
    max_warps: int
    #: Resident thread blocks per SM.
    max_blocks: int
    #: Shared memory (LDS) per SM in bytes.
    shared: int

    @property
    def name(self) -> str:
        """The spelling :func:`parse_target` reads: ``cuda:90``, ``hip:gfx942``."""
        return f"{self.backend}:{self.arch}"

    def gpu_target(self) -> Any:
        """Triton's ``GPUTarget`` for this target (imports triton)."""
        from triton.backends.compiler import GPUTarget

        return GPUTarget(self.backend, self.arch, self.warp_size)

    def occupancy(self, registers: int, num_warps: int, shared: int) -> float:
        """Resident warps over the most an SM can hold, for a kernel with ``registers``
        per thread, ``num_warps`` warps per block and ``shared`` bytes of shared memory."""
        if registers <= 0:
            return 0.0
        per_warp = -(-registers * self.warp_size // self.register_unit) * self.register_unit
        # hip: a block's waves are spread over the CU's four SIMDs, the limits are per SIMD
        resident = -(-num_warps // 4) if self.backend == "hip" else num_warps
        blocks = min(
            (self.registers // per_warp) // resident,
            self.max_blocks,
            self.max_warps // max(resident, 1),
        )
        if shared:
            blocks = min(blocks, self.shared // shared)
        return min(blocks * resident, self.max_warps) / self.max_warps


#: The targets the compile report knows, by name.  NVIDIA: 64K registers and 64 warps per SM
#: (sm_80, sm_90), 256-register allocation units per warp, 164 KiB (sm_80) and 228 KiB
#: (sm_90) of shared memory per SM.  gfx942 (MI300): 512 VGPRs per SIMD lane (counted per
#: wave of 64 lanes here), 8 waves per SIMD, 64 KiB of LDS per CU.
TARGETS: dict[str, Target] = {
    "cuda:80": Target("cuda", 80, 32, 65536, 256, 64, 32, 164 * 1024),
    "cuda:86": Target("cuda", 86, 32, 65536, 256, 48, 16, 100 * 1024),
    "cuda:89": Target("cuda", 89, 32, 65536, 256, 48, 24, 100 * 1024),
    "cuda:90": Target("cuda", 90, 32, 65536, 256, 64, 32, 228 * 1024),
    "hip:gfx942": Target("hip", "gfx942", 64, 512 * 64, 8 * 64, 8, 32, 64 * 1024),
}

_SPELLING = re.compile(r"^(cuda|hip):(\w+)$")


def parse_target(text: str) -> Target:
    """``"cuda:90"`` -> its :class:`Target`; a clear error for anything else."""
    spelled = text.strip().lower().replace("sm_", "").replace("sm", "")
    if _SPELLING.match(spelled) and spelled in TARGETS:
        return TARGETS[spelled]
    raise ValueError(
        f"unknown compile target {text!r}; choose one of {', '.join(TARGETS)} "
        "(backend:compute capability, or hip:gfx name)"
    )
