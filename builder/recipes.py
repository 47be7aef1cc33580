"""What the builder knows of specific packages. A recipe is data: add one in a few lines.

`runtime_probe` is `module:attribute.path` of what reports the OpenSSL version text at run
time (called when callable); without one, the version text compiled into the package's
extension modules is the proof.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

from packaging.utils import canonicalize_name


@dataclass(frozen=True)
class Recipe:
    runtime_probe: Optional[str] = None


DEFAULT = Recipe()

RECIPES: Dict[str, Recipe] = {
    # scrypt has no API that names its OpenSSL: its extension's embedded text is checked.
    "scrypt": Recipe(),
    "cryptography": Recipe(
        runtime_probe="cryptography.hazmat.backends.openssl.backend:backend.openssl_version_text"
    ),
}


def recipe_for(package: str) -> Recipe:
    return RECIPES.get(canonicalize_name(package), DEFAULT)
