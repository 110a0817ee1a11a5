"""GET /oauth/revoked, the list the services copy: open like the JWK Set, so it must tell
nothing but which token ids are revoked, and refuse anything but a plain read."""
from __future__ import annotations

from tests.support.gateway import basic, bearer, department, department_token


def _revoke(client, creds) -> str:
    token = department_token(client, creds)
    auth = basic(creds["client_id"], creds["client_secret"])
    jti = client.post("/oauth/introspect", data={"token": token}, headers=auth).json["jti"]
    assert client.post("/oauth/revoke", data={"token": token}, headers=auth).status_code == 200
    return jti


def test_the_list_names_revoked_token_ids_and_nothing_about_whose_they_were(client, engine):
    creds = department(engine, "cardiology")
    jti = _revoke(client, creds)
    resp = client.get("/oauth/revoked")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.headers["Cache-Control"] == "no-store"
    entries = resp.json["revoked"]
    assert jti in {e["jti"] for e in entries}
    assert all(set(e) == {"jti", "exp"} for e in entries)
    text = resp.get_data(as_text=True)
    assert "cardiology" not in text and creds["client_id"] not in text


def test_an_unchanged_list_is_a_304_and_a_new_revocation_changes_its_etag(client, engine):
    creds = department(engine, "cardiology")
    _revoke(client, creds)
    etag = client.get("/oauth/revoked").headers["ETag"]
    assert client.get("/oauth/revoked", headers={"If-None-Match": etag}).status_code == 304
    _revoke(client, creds)
    again = client.get("/oauth/revoked", headers={"If-None-Match": etag})
    assert again.status_code == 200 and again.headers["ETag"] != etag


def test_a_token_sent_with_the_read_changes_nothing_whether_revoked_or_another_departments(client, engine):
    cardiology, emergency = department(engine, "cardiology"), department(engine, "emergency")
    _revoke(client, cardiology)
    plain = client.get("/oauth/revoked")
    revoked_token = department_token(client, cardiology)
    client.post("/oauth/revoke", data={"token": revoked_token},
                headers=basic(cardiology["client_id"], cardiology["client_secret"]))
    for headers in (bearer(revoked_token), bearer(department_token(client, emergency)), bearer("not-a-jwt")):
        resp = client.get("/oauth/revoked", headers=headers)
        assert resp.status_code == 200
        assert {e["jti"] for e in plain.json["revoked"]} <= {e["jti"] for e in resp.json["revoked"]}


def test_writing_to_the_list_is_refused_with_a_problem_and_adds_nothing(client, engine):
    before = client.get("/oauth/revoked").json["revoked"]
    for body in (b'{"revoked": [{"jti": "x", "exp": 9999999999}]}', b"[" * 100_000, b"x" * (2 * 1024 * 1024)):
        resp = client.post("/oauth/revoked", data=body, content_type="application/json")
        assert resp.status_code in (405, 413), resp.status_code
        assert resp.mimetype == "application/problem+json"
    assert client.get("/oauth/revoked").json["revoked"] == before
