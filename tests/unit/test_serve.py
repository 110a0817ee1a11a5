"""The one way every HTTP process is served (services.common.serve): its settings and its factory."""
import gc
import logging.config

import pytest

from services.common import serve


def test_the_bind_address_and_the_services_thread_count_become_granians_settings():
    options = serve.settings("0.0.0.0:8081", "services.consent.entrypoints.http:create_app", 1, {})
    assert (options["address"], options["port"]) == ("0.0.0.0", 8081)
    assert options["interface"] == "wsgi" and options["factory"] is True
    assert options["target"] == "services.common.serve:app"
    assert (options["workers"], options["blocking_threads"]) == (2, 1)
    assert options["respawn_failed_workers"] is True
    assert options["log_access"] is False


def test_web_concurrency_and_web_threads_override_the_defaults():
    options = serve.settings("127.0.0.1:9000", "m:f", 8, {"WEB_CONCURRENCY": "3", "WEB_THREADS": "5"})
    assert (options["workers"], options["blocking_threads"]) == (3, 5)


@pytest.mark.parametrize("bind", ["8080", "host:", "host:http", ""])
def test_a_bind_address_without_a_numeric_port_is_refused_in_words(bind):
    with pytest.raises(ValueError, match="HOST:PORT"):
        serve.settings(bind, "m:f", 1, {})


@pytest.mark.parametrize("target", ["module", "module:", ":factory"])
def test_an_app_not_named_as_module_and_factory_is_refused_in_words(target):
    with pytest.raises(ValueError, match="module:factory"):
        serve.settings("127.0.0.1:8080", target, 1, {})


def test_an_access_log_path_appends_access_lines_to_that_file(tmp_path):
    path = tmp_path / "access.log"
    options = serve.settings("127.0.0.1:8080", "m:f", 1, {"ACCESS_LOG": str(path), "LOG_LEVEL": "WARN"})
    assert options["log_access"] is True and options["log_level"] == "warning"
    config = options["log_dictconfig"]
    assert config["handlers"]["access"]["filename"] == str(path)
    logging.config.dictConfig(config)  # a configuration logging accepts
    try:
        logging.getLogger("granian.access").info("GET /readyz 200")
        for handler in logging.getLogger("granian.access").handlers:
            handler.flush()
        assert "GET /readyz 200" in path.read_text()
    finally:
        for handler in logging.getLogger("granian.access").handlers:
            handler.close()
        logging.getLogger("granian.access").handlers.clear()


def test_the_worker_builds_the_named_factory_and_freezes_what_start_up_allocated(monkeypatch):
    monkeypatch.setenv(serve.FACTORY_ENV, "bench.ceiling:create_app")
    try:
        app = serve.app()
        assert app.test_client().get("/ping").get_json() == {"ok": True}
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
