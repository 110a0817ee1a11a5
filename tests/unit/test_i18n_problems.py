"""problem+json and every other response in the negotiated language, on a real Flask app."""
from __future__ import annotations

import langcodes
import pytest
from flask import Flask, abort, jsonify

from services.common import i18n
from services.common.i18n import N_
from services.common.problem import Problem, install_problem_handlers


@pytest.fixture
def client():
    app = Flask(__name__)
    i18n.install(app)
    install_problem_handlers(app)

    @app.get("/ok")
    def ok():
        return jsonify(language=i18n.language_block(i18n.current_language()))

    @app.get("/patients/<code>")
    def patient(code):
        lang = i18n.use_preferred(code)  # as a service does once it has loaded the Patient
        return jsonify(language=i18n.language_block(lang))

    @app.get("/observation")
    def observation():
        raise Problem(404, N_("Not Found"), N_("Your department has no patient {patient}."),
                      params={"patient": "p-1"}, next_step=N_("Try again in a few minutes."),
                      fields=["patient"])

    @app.get("/legacy")
    def legacy():
        raise Problem(409, "Username taken", "Some English text no catalog knows.",
                      headers={"X-Why": "legacy"})

    @app.get("/abort")
    def aborted():
        abort(400)

    @app.get("/boom")
    def boom():
        raise RuntimeError("bug")

    return app.test_client()


def test_a_problem_in_spanish_and_in_english_has_the_same_type_and_status(client):
    en = client.get("/observation", headers={"Accept-Language": "en"})
    es = client.get("/observation", headers={"Accept-Language": "es-MX"})
    assert en.status_code == es.status_code == 404
    assert en.json["type"] == es.json["type"] and en.json["status"] == es.json["status"] == 404
    assert en.json["title"] == "Not Found" and es.json["title"] == "No encontrado"
    assert en.json["detail"] == "Your department has no patient p-1."
    assert es.json["detail"] == "Su departamento no tiene un paciente p-1."
    assert es.json["next_step"] == "Vuelva a intentarlo en unos minutos."
    assert es.json["fields"] == en.json["fields"] == ["patient"]
    assert en.headers["Content-Language"] == "en" and es.headers["Content-Language"] == "es"
    assert es.mimetype == "application/problem+json"


def test_english_text_the_catalog_does_not_know_is_sent_as_it_is(client):
    resp = client.get("/legacy", headers={"Accept-Language": "es"})
    assert resp.json["title"] == "Nombre de usuario ocupado"
    assert resp.json["detail"] == "Some English text no catalog knows."
    assert resp.headers["X-Why"] == "legacy" and resp.headers["Content-Language"] == "es"


@pytest.mark.parametrize("path,status", [("/abort", 400), ("/nowhere", 404), ("/boom", 500)])
def test_framework_errors_are_translated_too(client, path, status):
    en = client.get(path)
    es = client.get(path, headers={"Accept-Language": "es"})
    assert en.status_code == es.status_code == status and en.json["type"] == es.json["type"]
    assert en.json["title"] != es.json["title"] and en.json["detail"] != es.json["detail"]
    assert es.headers["Content-Language"] == "es"


def test_a_wrong_method_is_explained_with_the_method_in_either_language(client):
    resp = client.post("/ok", headers={"Accept-Language": "es"})
    assert resp.status_code == 405 and "Allow" in resp.headers
    assert resp.json["detail"] == "Esta dirección no acepta el método POST."


@pytest.mark.parametrize("header", [None, "es", "es-MX", "pt-BR", "*", "garbage!!", "en;q=0, es;q=0"])
@pytest.mark.parametrize("path", ["/ok", "/observation", "/nowhere", "/boom"])
def test_every_response_carries_a_valid_content_language(client, header, path):
    resp = client.get(path, headers={"Accept-Language": header} if header else {})
    tag = resp.headers.get("Content-Language")
    assert tag in i18n.SUPPORTED and langcodes.tag_is_valid(tag)
    assert "Accept-Language" in resp.headers.get("Vary", "")


def test_the_header_decides_before_the_patients_preferred_language(client):
    assert client.get("/patients/pt", headers={"Accept-Language": "es"}).json["language"] == \
        {"requested": "es", "used": "es", "fallback": False}


def test_without_a_header_the_patients_preferred_language_is_used(client):
    resp = client.get("/patients/es")
    assert resp.headers["Content-Language"] == "es"
    assert resp.json["language"]["used"] == "es"


def test_an_unsupported_preferred_language_falls_back_to_english_and_offers_an_interpreter(client):
    resp = client.get("/patients/pt")
    block = resp.json["language"]
    assert resp.headers["Content-Language"] == "en"
    assert block["requested"] == "pt" and block["used"] == "en" and block["fallback"] is True
    assert block["message"] and block["interpreter"]["offered"] is True
    assert block["interpreter"]["message"]


def test_a_problem_renders_outside_an_app_that_installed_i18n():
    app = Flask(__name__)
    install_problem_handlers(app)  # a service not yet wired with i18n.install

    @app.get("/p")
    def p():
        raise Problem(403, N_("Forbidden"), N_("You may not do this."))

    resp = app.test_client().get("/p", headers={"Accept-Language": "es"})
    assert resp.json["title"] == "Prohibido" and resp.headers["Content-Language"] == "es"


def test_existing_callers_still_get_the_english_text_as_the_exception_message():
    problem = Problem(429, "Too Many Requests", "Wait {seconds} s.", None, {"Retry-After": "3"},
                      params={"seconds": 3}, extra_member=1)
    assert str(problem) == "Wait 3 s."
    assert problem.headers == {"Retry-After": "3"} and problem.extra == {"extra_member": 1}
    assert problem.slug == "too-many-requests"
