"""Benchmark sections: each module has ``run(ctx: bench.Context) -> list[bench.Row]``.

``make bench`` runs the core section first (it measures the ceiling every other section
compares with), then every other module here in name order.
"""
