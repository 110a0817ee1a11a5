"""The gateway's pages and problems in the negotiated language (real app, SQLite, real upstream)."""
from __future__ import annotations

import json

from werkzeug.wrappers import Response

from gateway.admin.clients import ensure_portal_client
from tests.support.gateway import (REDIRECT_URI, authorize_params, bearer, department, department_token,
                                   hidden_fields, make_account, pkce)


def login_page(client, engine, **headers):
    ensure_portal_client(engine, [REDIRECT_URI])
    return client.get("/oauth/authorize", query_string=authorize_params(pkce()[1]), headers=headers)


def test_the_login_page_is_in_spanish_with_lang_es_when_the_browser_asks_for_spanish(client, engine):
    page = login_page(client, engine, **{"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Content-Language"] == "es"
    assert '<html lang="es">' in html
    assert "<h1>Iniciar sesión</h1>" in html and '<label for="username">Nombre de usuario</label>' in html
    assert "Contraseña" in html and "Sign in" not in html and "Password" not in html


def test_the_login_page_stays_in_english_for_an_english_or_unsupported_browser(client, engine):
    for header in ("en-GB", "de-DE, fr;q=0.8"):
        page = login_page(client, engine, **{"Accept-Language": header})
        html = page.get_data(as_text=True)
        assert '<html lang="en">' in html and "<h1>Sign in</h1>" in html
        assert page.headers["Content-Language"] == "en"


def test_the_client_name_is_escaped_inside_the_translated_sentence(client, engine):
    html = login_page(client, engine, **{"Accept-Language": "es"}).get_data(as_text=True)
    assert "Inicie sesión para que <strong>" in html and "</strong> pueda abrir" in html


def test_a_wrong_password_is_explained_in_the_language_of_the_page(client, engine):
    make_account(engine)
    form = hidden_fields(login_page(client, engine, **{"Accept-Language": "es"}).get_data(as_text=True))
    resp = client.post("/oauth/authorize", data={**form, "username": "ana", "password": "nope-nope"},
                       headers={"Accept-Language": "es"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and '<html lang="es">' in html
    assert "El nombre de usuario o la contraseña no son correctos." in html


def test_without_a_header_the_approval_page_uses_the_patients_own_language(client, engine):
    make_account(engine)  # the account's preferred language is "es"
    form = hidden_fields(login_page(client, engine).get_data(as_text=True))
    resp = client.post("/oauth/authorize",
                       data={**form, "username": "ana", "password": "correct horse battery"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and '<html lang="es">' in html
    assert "Leer su expediente médico" in html and 'value="allow">Permitir</button>' in html
    assert resp.headers["Content-Language"] == "es"


def test_the_error_page_is_translated_and_marks_the_english_technical_detail(client, engine):
    ensure_portal_client(engine, [REDIRECT_URI])
    params = {**authorize_params(pkce()[1]), "redirect_uri": "https://evil.example/cb"}
    html = client.get("/oauth/authorize", query_string=params,
                      headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert '<html lang="es">' in html and "Este enlace para iniciar sesión no funciona" in html
    assert '<code lang="en">' in html


def test_a_gateway_problem_has_the_same_type_in_both_languages_and_translated_text(client):
    en = client.get("/patient/v1/me/nowhere")
    es = client.get("/patient/v1/me/nowhere", headers={"Accept-Language": "es"})
    assert en.status_code == es.status_code == 404 and en.json["type"] == es.json["type"]
    assert en.json["title"] == "Not Found" and es.json["title"] == "No encontrado"
    assert en.json["detail"] == "The gateway has no route for GET /patient/v1/me/nowhere."
    assert es.json["detail"] == "El gateway no tiene una ruta para GET /patient/v1/me/nowhere."
    assert es.headers["Content-Language"] == "es" and en.headers["Content-Language"] == "en"


def test_activation_failures_carry_a_translated_next_step(client):
    body = {"code": "AAAA-BBBB-CCCC", "birth_date": "1961-04-02", "username": "maria",
            "password": "a long passphrase"}
    en = client.post("/accounts/v1/activate", json=body)
    es = client.post("/accounts/v1/activate", json=body, headers={"Accept-Language": "es"})
    assert en.status_code == es.status_code == 400 and en.json["type"] == es.json["type"]
    assert es.json["title"] == "No se pudo activar" and en.json["title"] == "Activation failed"
    assert es.json["detail"].startswith("El código de activación y la fecha de nacimiento")
    assert es.json["next_step"].startswith("Revise los dos datos") and en.json["next_step"]


def test_a_parameterised_problem_is_translated_with_its_values(client):
    body = {"code": "x", "birth_date": "1961-04-02", "username": "maria", "password": "short"}
    resp = client.post("/accounts/v1/activate", json=body, headers={"Accept-Language": "es"})
    assert resp.status_code == 422 and resp.json["fields"] == ["password"]
    assert resp.json["detail"] == "Elija una contraseña de 10 caracteres o más."


def test_a_proxied_response_keeps_the_language_its_service_chose(client, engine, upstream):
    upstream.handler = lambda req: Response(json.dumps({"resourceType": "Bundle"}), 200,
                                            content_type="application/fhir+json",
                                            headers={"Content-Language": "es"})
    token = department_token(client, department(engine, "cardiology"))
    resp = client.get("/fhir/Observation?patient=p-1", headers=bearer(token))
    assert resp.status_code == 200 and resp.headers["Content-Language"] == "es"
    assert upstream.requests[-1]["headers"].get("Accept-Language") is None
    resp = client.get("/fhir/Observation?patient=p-1",
                      headers={**bearer(token), "Accept-Language": "es"})
    assert upstream.requests[-1]["headers"]["Accept-Language"] == "es"
