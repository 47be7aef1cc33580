"""TLS helpers on top of cryptography."""
from cryptography.hazmat.primitives import hashes  # noqa: F401
