"""A reader for the Spiking Heidelberg Digits (SHD) HDF5 layout; nothing is downloaded.

SHD (Cramer et al. 2020, IEEE TNNLS) ships ``shd_train.h5`` and ``shd_test.h5``, each with
``spikes/times`` (one variable-length float array of spike times in seconds per sample),
``spikes/units`` (the matching input channel of each spike, 0..699) and ``labels`` (0..19).
People who have the files point this reader at their folder; it bins the spikes into
``steps`` steps over ``duration`` seconds (later spikes are dropped) and returns events.
Needs the optional ``h5py`` (``pip install h5py``, the ``data`` extra).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..core.settings import positive_int
from .spikes import SpikeSet

__all__ = ["SHD_CLASSES", "SHD_UNITS", "read_shd"]

SHD_UNITS = 700
SHD_CLASSES = 20


def _h5py():  # type: ignore[no-untyped-def]
    try:
        import h5py
    except ImportError as error:
        raise ImportError('reading SHD needs h5py: pip install h5py (the "data" extra)') from error
    return h5py


def read_shd(
    path: str | Path, steps: int = 100, duration: float = 1.0, units: int = SHD_UNITS
) -> SpikeSet:
    """The samples of one SHD file as spike events binned into ``steps`` x ``units``."""
    positive_int("read_shd: steps", steps)
    if not duration > 0:
        raise ValueError(f"read_shd: duration must be > 0 seconds, got {duration!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"read_shd: no SHD file at {str(path)!r}")
    h5py = _h5py()
    samples, bins, channels = [], [], []
    with h5py.File(path, "r") as file:
        for name in ("spikes/times", "spikes/units", "labels"):
            if name not in file:
                raise ValueError(
                    f"read_shd: {str(path)!r} has no dataset {name!r} (not SHD layout)"
                )
        times, unit_lists = file["spikes/times"], file["spikes/units"]
        labels = np.asarray(file["labels"][()], dtype=np.int64)
        if not (len(times) == len(unit_lists) == len(labels)):
            raise ValueError(
                f"read_shd: {str(path)!r} has {len(times)} time lists, {len(unit_lists)} unit "
                f"lists and {len(labels)} labels; they must match"
            )
        for index in range(len(labels)):
            when = np.asarray(times[index], dtype=np.float64)
            which = np.asarray(unit_lists[index], dtype=np.int64)
            if when.shape != which.shape:
                raise ValueError(
                    f"read_shd: sample {index} has {len(when)} times, {len(which)} units"
                )
            step = np.floor(when / duration * steps).astype(np.int64)
            keep = (step >= 0) & (step < steps) & (which >= 0) & (which < units)
            samples.append(np.full(int(keep.sum()), index, dtype=np.int64))
            bins.append(step[keep])
            channels.append(which[keep])

    def joined(parts: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64))

    return SpikeSet(
        joined(samples), joined(bins), joined(channels), torch.from_numpy(labels), steps, units
    )
