"""Build static Python extension wheels that carry their own pinned OpenSSL."""

__version__ = "0.1.0"
