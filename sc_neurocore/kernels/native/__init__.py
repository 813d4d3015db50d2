"""Compiled C kernels for the CPU, generated from a surrogate's formula, built on first use."""
