"""The staff console (gateway/portal/console.py) over real HTTP, as a browser without script
uses it: sign in with a password and a code, see who you are, your department's name in your
language and your roles in words; an admin sees the department's staff and invites a person,
who makes their account with the code and enrols at the first sign-in. On SQLite and PostgreSQL."""
from __future__ import annotations

import html
import re

import pytest
import requests

from tests.security.gateway_server import GatewayServer
from tests.support.gateway import hidden_fields
from tests.support.staff import PASSWORD, console_session, person, totp_code



def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_a_clinician_sees_their_name_department_and_roles_and_no_staff_list(gw, clock):
    account, secret, _codes = person(gw.staff, gw.directory, clock, roles=("clinician", "records-officer"))
    _s, home = console_session(gw.url, account.username, secret, clock["at"])
    words = text(home.text)
    assert home.status_code == 200 and "Signed in as Dr. Ruiz." in words
    assert "Cardiology" in words and "Clinician, Records officer" in words
    assert "Invite a person" not in words and "Your department's staff" not in words


def test_the_console_speaks_spanish_with_the_departments_spanish_name(gw, clock):
    account, secret, _codes = person(gw.staff, gw.directory, clock, department="emergency")
    _s, home = console_session(gw.url, account.username, secret, clock["at"], "es")
    assert '<html lang="es"' in home.text and home.headers["Content-Language"] == "es"
    names = gw.directory.entry("emergency")["names"]
    assert names["es"] in text(home.text) and "Profesional clínico" in text(home.text)


def test_an_admin_invites_a_person_who_joins_enrols_and_signs_in(gw, clock):
    account, secret, _codes = person(gw.staff, gw.directory, clock, username="ada.admin",
                                     display_name="Ada Admin", roles=("admin",))
    s, home = console_session(gw.url, account.username, secret, clock["at"])
    assert "Your department's staff" in text(home.text) and "ada.admin" in home.text
    refused = s.post(gw.url + "/console/invite", timeout=30,
                     data={"csrf_token": csrf(home.text), "display_name": "Dr. Paz"})
    assert refused.status_code == 400 and 'aria-describedby="roles-error"' in refused.text
    form = {"csrf_token": csrf(home.text), "once": re.search(r'name="once" value="([^"]+)"', home.text).group(1),
            "display_name": "Dr. Paz", "roles": ["clinician", "privacy-officer"]}
    made = s.post(gw.url + "/console/invite", timeout=30, data=form)
    assert made.status_code == 200 and [r.status_code for r in made.history] == [303], made.text
    code = re.search(r'<p class="secret"><code>([A-Z0-9-]+)</code>', made.text).group(1)
    assert "You will not see it again." in made.text
    again = s.post(gw.url + "/console/invite", timeout=30, data=form)  # the form sent twice: no second invite
    assert "You sent this form already." in text(again.text) and code not in again.text
    invites = [r for r in gw.staff.audit_trail(account.department) if (r["actor"], r["action"]) == (account.id, "invited")]
    assert len(invites) == 1

    guest = requests.Session()
    join = guest.get(gw.url + "/console/join", timeout=30)
    wrong = guest.post(gw.url + "/console/join", timeout=30, data={
        "csrf_token": csrf(join.text), "code": "AAAA-BBBB-CCCC", "username": "dr.paz", "password": PASSWORD})
    assert wrong.status_code == 400 and 'aria-describedby="code-hint code-error"' in wrong.text
    joined = guest.post(gw.url + "/console/join", timeout=30, data={
        "csrf_token": csrf(join.text), "code": code, "username": "dr.paz", "password": PASSWORD})
    assert joined.status_code == 201, joined.text
    login = guest.get(gw.url + "/console/signin", timeout=30)
    enrol = guest.post(gw.url + "/oauth/authorize", timeout=30,
                       data={**hidden_fields(login.text), "username": "dr.paz", "password": PASSWORD})
    key = re.search(r'id="secret"><code>([A-Z2-7 ]+)</code>', enrol.text).group(1).replace(" ", "")
    codes = guest.post(gw.url + "/oauth/authorize", timeout=30,
                       data={**hidden_fields(enrol.text), "code": totp_code(key, clock["at"])})
    assert len(re.findall(r"<li><code>", codes.text)) == 10
    home = guest.post(gw.url + "/oauth/authorize", timeout=30, data=hidden_fields(codes.text))
    assert "Signed in as Dr. Paz." in text(home.text) and "Clinician, Privacy officer" in text(home.text)
    listed = s.get(gw.url + "/console/", timeout=30)
    assert "dr.paz" in listed.text


def test_a_form_without_its_token_changes_nothing(gw, clock):
    account, secret, _codes = person(gw.staff, gw.directory, clock, roles=("admin",), username="ada.admin")
    s, _home = console_session(gw.url, account.username, secret, clock["at"])
    resp = s.post(gw.url + "/console/invite", timeout=30, data={"display_name": "X", "roles": ["admin"]})
    assert resp.status_code == 400
    assert len(gw.staff.staff_of("cardiology")) == 1
    with gw.app.extensions["gateway"].engine.connect() as conn:
        import sqlalchemy as sa
        from gateway import schema
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.staff_invites)).scalar() == 1


def test_signing_out_ends_the_session_and_its_refresh_token(gw, clock):
    account, secret, _codes = person(gw.staff, gw.directory, clock)
    s, home = console_session(gw.url, account.username, secret, clock["at"])
    out = s.post(gw.url + "/console/signout", timeout=30, data={"csrf_token": csrf(home.text)})
    assert out.status_code == 200 and "You are signed out." in out.text and "Signed in as" not in out.text
    with gw.app.extensions["gateway"].engine.connect() as conn:
        import sqlalchemy as sa
        from gateway import schema
        rows = conn.execute(sa.select(schema.tokens.c.refresh_revoked)
                            .where(schema.tokens.c.staff_id == account.id)).all()
    assert rows and all(r.refresh_revoked for r in rows)


def test_a_signed_out_visitor_sees_only_the_way_in(gw):
    page = requests.get(gw.url + "/console/", timeout=30)
    assert page.status_code == 200 and 'href="/console/signin"' in page.text
    assert "Invite a person" not in page.text


def test_invite_codes_cannot_be_guessed_at_speed(tmp_path):
    with GatewayServer(tmp_path / "slow", f"sqlite:///{tmp_path}/slow.db", ACTIVATION_ATTEMPTS_PER_MINUTE=2) as server:
        s = requests.Session()
        join = s.get(server.url + "/console/join", timeout=30)
        answers = [s.post(server.url + "/console/join", timeout=30, data={
            "csrf_token": csrf(join.text), "code": f"AAAA-BBBB-CCC{i}", "username": f"guess{i}",
            "password": PASSWORD}) for i in range(3)]
        assert [a.status_code for a in answers] == [400, 400, 429]
        assert "Too many tries." in answers[2].text and 'id="code-error"' in answers[2].text


def test_an_admin_changes_a_colleagues_roles_and_turns_their_account_off(gw, clock):
    admin, secret, _codes = person(gw.staff, gw.directory, clock, username="ada.admin",
                                   display_name="Ada Admin", roles=("admin",))
    colleague = person(gw.staff, gw.directory, clock, username="dr.ruiz")[0]
    other = person(gw.staff, gw.directory, clock, department="emergency", username="dr.vega")[0]
    s, home = console_session(gw.url, admin.username, secret, clock["at"])
    assert f'href="/console/staff/{colleague.id}"' in home.text
    assert s.get(f"{gw.url}/console/staff/{other.id}", timeout=30).status_code == 404
    page = s.get(f"{gw.url}/console/staff/{colleague.id}", timeout=30)
    assert page.status_code == 200 and "Turn off this account" in page.text
    token = csrf(page.text)
    none = s.post(f"{gw.url}/console/staff/{colleague.id}/roles", timeout=30, data={"csrf_token": token})
    assert none.status_code == 400 and 'aria-describedby="roles-error"' in none.text
    saved = s.post(f"{gw.url}/console/staff/{colleague.id}/roles", timeout=30,
                   data={"csrf_token": token, "roles": ["records-officer"]})
    assert saved.status_code == 200 and "are saved" in saved.text
    assert gw.staff.account(account_id=colleague.id).roles == ("records-officer",)
    unsure = s.post(f"{gw.url}/console/staff/{colleague.id}/disable", timeout=30, data={"csrf_token": token})
    assert unsure.status_code == 400 and gw.staff.account(account_id=colleague.id).status == "active"
    off = s.post(f"{gw.url}/console/staff/{colleague.id}/disable", timeout=30,
                 data={"csrf_token": token, "sure": "yes"})
    assert off.status_code == 200 and gw.staff.account(account_id=colleague.id).status == "disabled"
    mine = s.get(f"{gw.url}/console/staff/{admin.id}", timeout=30)
    assert "Turn off this account" not in mine.text  # not their own
    refused = s.post(f"{gw.url}/console/staff/{admin.id}/roles", timeout=30,
                     data={"csrf_token": token, "roles": ["clinician"]})
    assert refused.status_code == 409 and gw.staff.account(account_id=admin.id).roles == ("admin",)
    assert s.post(f"{gw.url}/console/staff/{other.id}/disable", timeout=30,
                  data={"csrf_token": token, "sure": "yes"}).status_code == 404
    assert gw.staff.account(account_id=other.id).status == "active"


def test_a_clinician_may_not_open_the_admin_pages(gw, clock):
    account, secret, _codes = person(gw.staff, gw.directory, clock)
    s, home = console_session(gw.url, account.username, secret, clock["at"])
    assert s.get(f"{gw.url}/console/staff/{account.id}", timeout=30).status_code == 403
    assert s.post(f"{gw.url}/console/staff/{account.id}/disable", timeout=30,
                  data={"csrf_token": csrf(home.text), "sure": "yes"}).status_code == 403
    assert gw.staff.account(account_id=account.id).status == "active"


@pytest.mark.parametrize("path,lang,words", [
    ("/console/no-such-page", "en", "There is no such page in the console."),
    ("/console/quality/..%2F..%2Fstaff", "es", "No hay tal página en la consola."),
    ("/portal/no-such-page", "es", "No encontramos esto en su expediente."),
    ("/portal/records/a/b/c", "en", "We cannot find this in your record."),
])
def test_an_address_no_page_has_under_the_console_or_the_portal_gets_an_error_page_in_the_persons_language(
        gw, path, lang, words):
    got = requests.get(gw.url + path, headers={"Accept-Language": lang}, timeout=10, allow_redirects=False)
    assert got.status_code == 404 and got.headers["Content-Type"].startswith("text/html")
    assert words in got.text and f'lang="{lang}"' in got.text


def test_an_address_no_route_has_outside_the_pages_is_still_problem_json(gw):
    for path in ("/no-such-api", "/consolex", "/staff/v1/no-such"):
        got = requests.get(gw.url + path, timeout=10)
        assert got.status_code == 404 and got.headers["Content-Type"] == "application/problem+json", path
