"""The patient portal over plain HTTP, as a browser without JavaScript uses it: follow the
sign-in link, fill the login form, allow, then read pages and send their forms (each with its
csrf_token)."""
from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

import requests


class _Forms(HTMLParser):
    """Collect each form's action and fields (hidden and text inputs; the values a radio, checkbox or select offers)."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "fields": {}, "options": {}})
        elif self.forms and tag == "input" and a.get("name") and a.get("type") in ("hidden", None, "text"):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""
        elif self.forms and tag == "input" and a.get("name") and a.get("type") in ("radio", "checkbox"):
            self.forms[-1]["options"].setdefault(a["name"], []).append(a.get("value"))
        elif self.forms and tag == "select":
            self._select = a.get("name")
        elif self.forms and tag == "option" and self._select and a.get("value"):
            self.forms[-1]["options"].setdefault(self._select, []).append(a["value"])

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def forms(page: requests.Response) -> list[dict]:
    """The forms of PAGE: [{"action": absolute URL, "fields": {...}, "options": {name: [values]}}]."""
    parser = _Forms()
    parser.feed(page.text)
    for form in parser.forms:
        form["action"] = urljoin(page.url, form["action"])
    return parser.forms


def form_with(page: requests.Response, field: str) -> dict:
    """The form of PAGE that has a field or option named FIELD."""
    return next(f for f in forms(page) if field in f["fields"] or field in f["options"])


def signed_in(gateway: str, username: str, password: str, language: str = "en") -> requests.Session:
    """A session signed in to the portal through its own sign-in link, login form and approval."""
    s = requests.Session()
    s.headers["Accept-Language"] = language
    login = s.get(f"{gateway}/portal/signin", timeout=30)
    form = form_with(login, "username")
    approve = s.post(form["action"], timeout=30,
                     data={**form["fields"], "username": username, "password": password})
    form = form_with(approve, "ticket")
    home = s.post(form["action"], timeout=30, data={**form["fields"], "decision": "allow"})
    assert "/portal/" in home.url, (home.status_code, home.url)
    return s
