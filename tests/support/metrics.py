"""Read one sample of a Prometheus text exposition (a /metrics answer) in tests."""
from __future__ import annotations

import re


def sample(text: str, name: str, **labels) -> float | None:
    """The value of NAME{LABELS} in TEXT (labels in any order), or None when it is not there."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = rf"^{re.escape(name)}{{{re.escape(wanted)}}} (\S+)$" if labels else rf"^{re.escape(name)} (\S+)$"
    found = re.search(pattern, text, re.M)
    return float(found.group(1)) if found else None
