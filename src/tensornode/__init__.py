"""TensorNode: a decentralized AI inference network."""

__version__ = "0.1.0"
