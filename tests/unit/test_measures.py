"""Human measures reach /metrics as gauges; a provider that fails is skipped, not fatal."""
from flask import Flask
from prometheus_client import generate_latest

from services.common import measures
from services.common.measures import Measure
from services.common.observability import instrument


def _app_with(*sources):
    app = Flask(__name__)
    instrument(app, "test", {})
    measures.providers(app).extend(sources)
    return app


def test_each_measure_is_a_gauge_on_metrics_with_its_labels():
    app = _app_with(lambda: [Measure("phr_things_open", "Things open", 3, {"department": "cardiology"}),
                             Measure("phr_things_open", "Things open", 1, {"department": "emergency"})])
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert "# TYPE phr_things_open gauge" in text
    assert 'phr_things_open{department="cardiology"} 3.0' in text
    assert 'phr_things_open{department="emergency"} 1.0' in text


def test_a_failing_provider_is_skipped_and_the_others_still_count():
    def broken():
        raise RuntimeError("database gone")
    app = _app_with(broken, lambda: [Measure("phr_ok_total_now", "OK", 2)])
    text = generate_latest(app.extensions["metrics_registry"]).decode()
    assert "phr_ok_total_now 2.0" in text
    assert [m.value for m in measures.current([broken, lambda: [Measure("x", "x", 1)]])] == [1]


def test_quantiles_take_the_nearest_rank_and_none_without_values():
    from services.common.measures import quantiles
    assert quantiles([]) == {}
    assert quantiles([40, 10, 30, 20, 100]) == {0.5: 30, 0.9: 100}
    assert quantiles([7]) == {0.5: 7, 0.9: 7}


class _Counting:
    """A provider that counts its reads and fails when told to."""

    def __init__(self):
        self.reads, self.failing = 0, False

    def __call__(self):
        self.reads += 1
        if self.failing:
            raise RuntimeError("database gone")
        return [Measure("phr_things_open", "Things open", self.reads)]


def test_a_cached_provider_is_read_once_per_five_seconds_and_again_after():
    now, source = [100.0], _Counting()
    cached = measures.Cached(source, clock=lambda: now[0])
    assert [m.value for m in cached()] == [1]
    now[0] += 4.9
    assert [m.value for m in cached()] == [1] and source.reads == 1
    now[0] += 0.1
    assert [m.value for m in cached()] == [2]


def test_a_cached_provider_that_fails_is_read_again_at_the_next_call_and_expire_forgets():
    now, source = [0.0], _Counting()
    cached = measures.Cached(source, clock=lambda: now[0])
    source.failing = True
    app = _app_with(cached)
    assert "phr_things_open" not in app.test_client().get("/metrics").get_data(as_text=True)
    source.failing = False
    assert "phr_things_open 2.0" in app.test_client().get("/metrics").get_data(as_text=True)
    measures.expire(app)
    assert "phr_things_open 3.0" in app.test_client().get("/metrics").get_data(as_text=True)
