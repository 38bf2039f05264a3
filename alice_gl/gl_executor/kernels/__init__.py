"""Executor kernels, one module per op family; each issues fragment or compute passes."""
