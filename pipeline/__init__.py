"""diptych: publish a podcast episode and its article, paired."""

__version__ = "0.1.0"
