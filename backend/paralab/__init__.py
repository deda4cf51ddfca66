"""ParaLab: see parallel computing happen, and serve neural image models from a process pool."""

__version__ = "0.1.0"
