"""A digest through OpenSSL, and a checksum that needs none."""
from ._digest import sha256  # noqa: F401
from ._plain import checksum  # noqa: F401
