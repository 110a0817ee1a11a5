"""The portal's pages over plain HTTP: cookies, form tokens, redirects (no browser needed)."""
import re

import pytest
import requests


def test_the_session_cookie_is_httponly_and_same_site_lax(stack):
    page = requests.get(f"{stack.gateway}/portal/activate", timeout=30)
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("phr_portal=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_form_without_its_token_is_refused_and_changes_nothing(stack):
    resp = requests.post(f"{stack.gateway}/portal/settings", data={"size": "largest"},
                         allow_redirects=False, timeout=30)
    assert resp.status_code == 400 and "phr_text" not in resp.headers.get("Set-Cookie", "")
    assert '<html lang="en">' in resp.text and "This form is too old" in resp.text


def test_a_form_with_its_token_is_accepted(stack):
    s = requests.Session()
    page = s.get(f"{stack.gateway}/portal/settings", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    resp = s.post(f"{stack.gateway}/portal/settings", allow_redirects=False, timeout=30,
                  data={"csrf_token": token, "size": "large", "lang": "es"})
    assert resp.status_code == 303 and s.cookies["phr_text"] == "large"
    again = s.get(f"{stack.gateway}/portal/settings", timeout=30)
    assert '<html lang="es" class="text-large">' in again.text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/"])
def test_the_language_switch_returns_only_to_this_site(stack, target):
    resp = requests.get(f"{stack.gateway}/portal/language", params={"lang": "es", "next": target},
                        allow_redirects=False, timeout=30)
    assert resp.status_code == 303 and resp.headers["Location"] == "/"


def test_a_signed_out_visitor_is_sent_to_the_start_page(stack):
    resp = requests.get(f"{stack.gateway}/portal/records", allow_redirects=False, timeout=30)
    assert resp.status_code == 303 and resp.headers["Location"] == "/"
