"""How an operator runs, grouped by backend: torch ops, compiled C, and (for CUDA) Triton.

A backend knows formulas and tensors, never the registry; operators choose the backend.
"""
