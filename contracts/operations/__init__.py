"""One module per area of contract v1, each declaring ``OPERATIONS`` (see contracts.http)."""
