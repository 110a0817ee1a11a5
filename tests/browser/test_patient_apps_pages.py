"""A patient's own app on the HTML pages, in English and Spanish: the approval page and the
portal's Connected apps page pass axe-core (WCAG 2.2 A/AA), carry the right <html lang>, read at
grade 8 or below and need no script; Disconnect ends the app's access at once. With the keyboard
alone, and focus visible at every stop, a patient denies an app, approves it and disconnects it."""
import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.browser.conftest import axe_violations, reading_level_violations, screenshot, sign_in
from tests.browser.test_keyboard_journey import Keyboard, every_control_is_labelled

LOCALES = {"en": "en-US", "es": "es-ES"}
REDIRECT = "https://app.example/callback"
TITLES = {"en": ("Connect this app?", "Connected apps"),
          "es": ("¿Conectar esta aplicación?", "Aplicaciones conectadas")}


def check(page, lang: str, name: str) -> list[str]:
    html_lang = page.locator("html").get_attribute("lang")
    problems = [] if html_lang == lang else [f"{name}: <html lang={html_lang!r}>"]
    if page.locator("script").count():
        problems.append(f"{name}: the page has a script")
    problems += [f"{name}: axe: {v}" for v in axe_violations(page)]
    problems += [f"{name}: reading level: {v}" for v in reading_level_violations(page, lang)]
    screenshot(page, f"{name}-{lang}")
    return problems


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_approval_and_connected_apps_pages_pass_axe_and_disconnect_works(browser, stack, lang):
    gateway = stack.gateway
    who = stack.credentials()["patients"][0]
    registered = requests.post(gateway + "/oauth/register", timeout=30, json={
        "client_name": f"Walk Diary {lang}", "redirect_uris": [REDIRECT],
        "scope": "launch/patient openid fhirUser patient/Observation.rs patient/Condition.rs"})
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
                       "scope": "launch/patient openid fhirUser patient/Observation.rs patient/Condition.rs",
                       "state": "st", "code_challenge": challenge, "code_challenge_method": "S256",
                       "aud": gateway + "/fhir"})
    context = browser.new_context(locale=LOCALES[lang], viewport={"width": 1000, "height": 800})
    # The app's own page is not on this machine: answer its redirect here and keep the URL.
    context.route("https://app.example/**", lambda route: route.fulfill(status=200, body="ok",
                                                                        content_type="text/plain"))
    page, problems = context.new_page(), []
    try:
        page.goto(f"{gateway}/oauth/authorize?{query}")
        page.fill("#username", who["username"])
        page.fill("#password", who["password"])
        page.locator("main button[type=submit]").click()
        assert page.locator("h1").inner_text() == TITLES[lang][0]
        problems += check(page, lang, "app-approval")
        page.locator("button[value=allow]").click()
        page.wait_for_url(REDIRECT + "?**")
        code = parse_qs(urlsplit(page.url).query)["code"][0]
        tokens = requests.post(gateway + "/oauth/token", timeout=30, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "client_id": client_id, "code_verifier": verifier})
        assert tokens.status_code == 200, tokens.text
        access = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
        assert requests.get(gateway + "/oauth/userinfo", headers=access, timeout=30).status_code == 200

        sign_in(page, gateway, who["username"], who["password"])
        page.locator("nav a[href='/portal/apps']").click()
        assert page.locator("h1").inner_text() == TITLES[lang][1]
        assert f"Walk Diary {lang}" in page.locator("main").inner_text()
        problems += check(page, lang, "connected-apps")
        page.locator(f"form[action='/portal/apps/{client_id}/disconnect'] button").click()
        assert page.get_by_role("status").count() == 1
        assert f"Walk Diary {lang}" not in page.locator("main").inner_text()
        problems += check(page, lang, "connected-apps-after")
        assert requests.get(gateway + "/oauth/userinfo", headers=access, timeout=30).status_code == 401
    finally:
        context.close()
    assert problems == []


KEYS = {"en": {"approve": "Approve", "deny": "Deny", "allow": "Allow", "apps": "Connected apps",
               "disconnect": "Disconnect {name}"},
        "es": {"approve": "Aprobar", "deny": "Rechazar", "allow": "Permitir", "apps": "Aplicaciones conectadas",
               "disconnect": "Desconectar {name}"}}


def _authorize_link(gateway: str, client_id: str, redirect: str, state: str) -> tuple[str, str]:
    """An app's authorize link (PKCE S256); return (link, verifier)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return gateway + "/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect,
        "scope": "launch/patient openid patient/Observation.rs", "state": state,
        "code_challenge": challenge, "code_challenge_method": "S256", "aud": gateway + "/fhir"}), verifier


def _type_in_and_sign_in(keys, who: dict) -> None:
    keys.tab_to(id="username"); keys.type(who["username"])
    keys.tab_to(id="password"); keys.type(who["password"])
    keys.go()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_patient_denies_approves_and_disconnects_an_app_with_the_keyboard_alone(browser, stack, lang):
    """Tab, Enter and Space alone reach and press Deny and Approve on the approval page and
    Disconnect on Connected apps; every stop on the way shows where the focus is."""
    gateway, words = stack.gateway, KEYS[lang]
    who = stack.credentials()["patients"][1]
    name = f"Sleep Log {lang}"
    # A native app's loopback redirect (RFC 8252), to a page that loads (the gateway's home): a
    # redirect to an https app that is not on this machine may get past a Playwright route, and
    # the keyboard's wait for the next page would then fail on Chromium's error page.
    app_page = gateway + "/"
    registered = requests.post(gateway + "/oauth/register", timeout=30, json={
        "client_name": name, "redirect_uris": [app_page], "scope": "launch/patient openid patient/Observation.rs"})
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    context = browser.new_context(locale=LOCALES[lang], viewport={"width": 1000, "height": 800})
    page = context.new_page()
    keys = Keyboard(page)
    try:
        # Deny: the app is told access_denied and gets nothing.
        link, _ = _authorize_link(gateway, client_id, app_page, "no")
        page.goto(link)
        _type_in_and_sign_in(keys, who)
        assert page.locator("h1").inner_text() == TITLES[lang][0]
        every_control_is_labelled(page)
        keys.tab_to(words["deny"])
        keys.go("Enter")
        assert page.url.startswith(app_page + "?")
        denied = parse_qs(urlsplit(page.url).query)
        assert denied["error"] == ["access_denied"] and denied["state"] == ["no"] and "code" not in denied

        # Approve, with Space this time: the app gets a code and its tokens.
        link, verifier = _authorize_link(gateway, client_id, app_page, "yes")
        page.goto(link)
        _type_in_and_sign_in(keys, who)
        keys.tab_to(words["approve"])
        keys.go("Space")
        assert page.url.startswith(app_page + "?")
        query = parse_qs(urlsplit(page.url).query)
        assert query["state"] == ["yes"]
        tokens = requests.post(gateway + "/oauth/token", timeout=30, data={
            "grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": app_page,
            "client_id": client_id, "code_verifier": verifier})
        assert tokens.status_code == 200, tokens.text
        access = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
        assert requests.get(gateway + "/oauth/userinfo", headers=access, timeout=30).status_code == 200

        # The portal: sign in, open Connected apps from the menu, Disconnect this app.
        page.goto(gateway + "/portal/signin")
        _type_in_and_sign_in(keys, who)
        keys.tab_to(words["allow"])
        keys.go("Space")
        page.wait_for_url("**/portal/**")
        keys.tab_to(words["apps"])
        keys.go()
        page.wait_for_url("**/portal/apps")
        assert page.locator("h1").inner_text() == TITLES[lang][1]
        keys.tab_to(label=words["disconnect"].format(name=name))
        keys.go("Enter")
        page.wait_for_url("**/portal/apps")
        assert page.get_by_role("status").count() == 1
        assert name not in page.locator("main").inner_text()
        assert requests.get(gateway + "/oauth/userinfo", headers=access, timeout=30).status_code == 401
    finally:
        context.close()
