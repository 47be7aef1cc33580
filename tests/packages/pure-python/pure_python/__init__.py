"""Nothing compiled."""
