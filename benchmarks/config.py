"""What a benchmark run measures and how long it spends: the full and quick presets."""

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


@dataclass(frozen=True)
class BenchConfig:
    """Sizes and repetition counts; ``quick()`` shrinks everything to run in seconds."""

    sections: tuple[str, ...] = SECTIONS
    quick: bool = False
    #: Element counts of the surrogate fwd+bwd measurements.
    sizes: tuple[int, ...] = (1_000, 1_000_000)
    surrogate_timing: Timing = field(default_factory=lambda: Timing(rounds=21, min_sample_s=0.01))
    #: LIF layer (time steps, batch, neurons).
    lif_shape: tuple[int, int, int] = (100, 64, 1024)
    lif_timing: Timing = field(default_factory=lambda: Timing(rounds=5, warmup=1, min_sample_s=0))
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
        unknown = [name for name in self.sections if name not in SECTIONS]
        if unknown:
            raise ValueError(f"unknown benchmark section(s) {unknown}; choose from {SECTIONS}")

    @classmethod
    def full(cls, sections: tuple[str, ...] = SECTIONS) -> BenchConfig:
        return cls(sections=tuple(sections))

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
