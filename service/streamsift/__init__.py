"""streamsift: continuous production sampling for active learning on Kafka streams."""

__version__ = "0.1.0"

__all__ = ["__version__"]
