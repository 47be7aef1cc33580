"""What machine a benchmark ran on, for its JSON report."""

import os
import platform
from pathlib import Path
from typing import Optional


def cpu_model() -> Optional[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine() -> dict:
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "system": platform.platform()}
