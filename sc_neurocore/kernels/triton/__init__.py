"""GPU kernels written in Triton, generated from each surrogate's formula."""
