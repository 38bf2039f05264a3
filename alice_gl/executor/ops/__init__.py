"""NumPy kernels, one module per operator family; importing a module registers its kernels."""
