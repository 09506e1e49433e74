"""diptych: publish a podcast episode and its article, paired."""

__version__ = "0.2.0"
