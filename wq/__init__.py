"""wq: an agentless job dispatcher for research labs."""

__version__ = "0.1.0"
