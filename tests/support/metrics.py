"""Read Prometheus text from /metrics in tests: families and samples by name and labels."""
from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families


def families(text: str) -> list:
    """Parse exposition TEXT into prometheus_client metric families."""
    return list(text_string_to_metric_families(text))


def scrape(base_url: str) -> str:
    resp = requests.get(f"{base_url}/metrics", timeout=15)
    resp.raise_for_status()
    return resp.text


def value(text: str, sample: str, **labels: str) -> float | None:
    """The sum of SAMPLE's values in TEXT whose labels include LABELS; None when none matches."""
    found = [s.value for f in families(text) for s in f.samples
             if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())]
    return sum(found) if found else None


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of NAME whose labels are exactly LABELS in TEXT, or None when it is not there."""
    found = [s.value for f in families(text) for s in f.samples if s.name == name and s.labels == labels]
    return found[0] if found else None
