"""What a benchmark run measures, on which device, and how long it spends: the presets.

One set of sections serves every device: ``device="cuda"`` runs the sections that measure
the device (``DEVICE_SECTIONS``) with the GPU presets' sizes (SpikingJelly's tutorial
workload for the LIF layer, larger surrogates and workloads); the others measure the host.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .timing import Timing

#: Section names in run order; ``--only`` takes any of them.
SECTIONS: tuple[str, ...] = (
    "surrogates",
    "peers",
    "bandwidth",
    "lif",
    "network",
    "workload",
    "registry",
    "cli",
    "amp",
)
#: The sections that measure a CUDA device (the rest measure the host: its memory bandwidth,
#: the registry, the command line, resident memory).
DEVICE_SECTIONS: tuple[str, ...] = ("surrogates", "lif", "workload")


def is_cuda(device: str) -> bool:
    return device.split(":")[0] == "cuda"


def sections_for(device: str) -> tuple[str, ...]:
    """The sections a run on ``device`` can measure, in run order."""
    return DEVICE_SECTIONS if is_cuda(device) else SECTIONS


@dataclass(frozen=True)
class BenchConfig:
    """Sizes and repetition counts; ``quick()`` shrinks everything to run in seconds."""

    sections: tuple[str, ...] = SECTIONS
    quick: bool = False
    #: Where the device sections run (``cuda``: synchronized timing, CUDA peak memory).
    device: str = "cpu"
    #: Element counts of the surrogate fwd+bwd measurements.
    sizes: tuple[int, ...] = (1_000, 1_000_000)
    surrogate_timing: Timing = field(default_factory=lambda: Timing(rounds=21, min_sample_s=0.01))
    #: LIF layer (time steps, batch, neurons).
    lif_shape: tuple[int, int, int] = (100, 64, 1024)
    lif_timing: Timing = field(default_factory=lambda: Timing(rounds=5, warmup=1, min_sample_s=0))
    #: Time steps swept at lif_shape's batch and neurons (empty: lif_shape's T), and dtypes.
    lif_steps: tuple[int, ...] = ()
    lif_dtypes: tuple[str, ...] = ("float32",)
    #: Peak memory of each LIF candidate in a fresh child process (seconds each).
    peak_memory: bool = True
    #: SpikingNet training step (time steps, batch, (input, hidden, output)).
    net_steps: int = 25
    net_batch: int = 128
    net_sizes: tuple[int, int, int] = (784, 512, 10)
    net_timing: Timing = field(default_factory=lambda: Timing(rounds=7, warmup=2, min_sample_s=0))
    compile_network: bool = True
    #: Copy bandwidth and each kernel's fraction of the memory-traffic limit.
    bandwidth_timing: Timing = field(
        default_factory=lambda: Timing(rounds=15, warmup=1, min_sample_s=0.005)
    )
    #: The open-neuromorphic workload: Linear(n, n) + LIF, (steps, batch) per n.
    workload_sizes: tuple[int, ...] = (128, 256, 512, 1024, 4096)
    workload_steps: int = 500
    workload_batch: int = 16
    workload_timing: Timing = field(
        default_factory=lambda: Timing(rounds=7, warmup=1, min_sample_s=0)
    )
    #: Rounds from this n on (each fwd+bwd there takes seconds).
    workload_large_n: int = 2048
    workload_large_rounds: int = 3
    #: Peak memory of each workload candidate (a fresh child process each) at these n: every
    #: size, since the target holds at each of them.
    workload_memory_sizes: tuple[int, ...] = (128, 256, 512, 1024, 4096)
    #: torch.compile the peers that offer it (Norse); off with --no-compile.
    compile_peers: bool = True
    #: Registry costs.
    registry_timing: Timing = field(default_factory=lambda: Timing(rounds=21, min_sample_s=0.01))
    import_repeats: int = 15
    #: Interleaved rounds of the command lines (section cli).
    cli_rounds: int = 7
    #: Section amp: the layer step (T, batch, n) and the net step (T, batch, in, hidden, out).
    amp_layer_shape: tuple[int, int, int] = (100, 32, 1024)
    amp_net_shape: tuple[int, int, int, int, int] = (25, 128, 784, 512, 10)

    def __post_init__(self) -> None:
        known = sections_for(self.device)
        unknown = [name for name in self.sections if name not in known]
        if unknown:
            where = "GPU " if is_cuda(self.device) else ""
            raise ValueError(f"unknown {where}benchmark section(s) {unknown}; choose from {known}")

    @property
    def steps(self) -> tuple[int, ...]:
        """The LIF section's time steps."""
        return self.lif_steps or self.lif_shape[:1]

    @classmethod
    def full(cls, sections: tuple[str, ...] = SECTIONS) -> BenchConfig:
        return cls(sections=tuple(sections))

    @classmethod
    def preset(cls, device: str, quick: bool, sections: tuple[str, ...] = ()) -> BenchConfig:
        """The preset for ``device`` (full or quick), running ``sections`` (default: all)."""
        chosen = tuple(sections) or sections_for(device)
        if is_cuda(device):
            return cls.gpu_quick(device, chosen) if quick else cls.gpu(device, chosen)
        return cls.quick_preset(chosen) if quick else cls.full(chosen)

    @classmethod
    def gpu(cls, device: str = "cuda", sections: tuple[str, ...] = DEVICE_SECTIONS) -> BenchConfig:
        """The device sections at GPU sizes: surrogates at 1e6 and 1e8 elements, the fused LIF
        on SpikingJelly's tutorial workload (T, 64, 65,536) for T in 4..32, fp32 and fp16,
        the workload at n = 4,096 and 16,384; peak memory of every case (in process)."""
        timing = Timing(rounds=11, warmup=2, min_sample_s=0)
        return cls(
            sections=tuple(sections),
            device=device,
            sizes=(1_000_000, 100_000_000),
            surrogate_timing=timing,
            lif_shape=(32, 64, 65_536),
            lif_steps=(4, 8, 16, 32),
            lif_dtypes=("float32", "float16"),
            lif_timing=timing,
            workload_sizes=(4_096, 16_384),
            workload_memory_sizes=(4_096, 16_384),
            workload_timing=Timing(rounds=3, warmup=1, min_sample_s=0),
        )

    @classmethod
    def gpu_quick(
        cls, device: str = "cuda", sections: tuple[str, ...] = DEVICE_SECTIONS
    ) -> BenchConfig:
        """Tiny sizes, two rounds: checks that everything runs on the device, not how fast."""
        short = Timing(rounds=2, warmup=1, min_sample_s=0)
        return replace(
            cls.gpu(device, sections),
            quick=True,
            sizes=(1_000,),
            surrogate_timing=short,
            lif_shape=(4, 2, 64),
            lif_steps=(4,),
            lif_timing=short,
            workload_sizes=(32,),
            workload_memory_sizes=(32,),
            workload_steps=5,
            workload_batch=2,
            workload_timing=short,
            compile_peers=False,
        )

    @classmethod
    def quick_preset(cls, sections: tuple[str, ...] = SECTIONS) -> BenchConfig:
        """Tiny shapes and few rounds: checks that everything runs, not how fast."""
        short = Timing(rounds=3, warmup=1, min_sample_s=0.001)
        return replace(
            cls(sections=tuple(sections)),
            quick=True,
            sizes=(1_000, 10_000),
            surrogate_timing=short,
            lif_shape=(8, 4, 32),
            lif_timing=Timing(rounds=2, warmup=1, min_sample_s=0),
            peak_memory=False,
            net_steps=3,
            net_batch=8,
            net_sizes=(784, 32, 10),
            net_timing=Timing(rounds=2, warmup=1, min_sample_s=0),
            compile_network=False,
            bandwidth_timing=Timing(rounds=2, warmup=1, min_sample_s=0),
            workload_sizes=(16, 32),
            workload_steps=5,
            workload_batch=2,
            workload_timing=Timing(rounds=2, warmup=1, min_sample_s=0),
            workload_memory_sizes=(),
            compile_peers=False,
            registry_timing=short,
            import_repeats=2,
            amp_layer_shape=(5, 2, 16),
            amp_net_shape=(3, 4, 16, 8, 3),
        )
