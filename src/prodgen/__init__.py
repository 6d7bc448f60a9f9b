"""prodgen: conditional generative models for product catalogs."""

__version__ = "0.1.0"

__all__ = ["__version__"]
