"""Reference kernels in torch ops: element-wise surrogates and the fused neurons' loops."""
