"""The visitor's display choices, kept in plain cookies so they hold before sign-in and after."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Request, Response

from services.common import i18n

LANG, SIZE, CONTRAST = "phr_lang", "phr_text", "phr_contrast"
SIZES = ("standard", "large", "largest")
YEAR = 365 * 86400


@dataclass(frozen=True)
class Prefs:
    lang: str | None  # None: follow the browser's Accept-Language
    size: str
    high_contrast: bool

    @property
    def html_class(self) -> str:
        """Classes for <html>: the text size and contrast the stylesheet scales by."""
        names = [f"text-{self.size}"] if self.size != "standard" else []
        return " ".join(names + (["contrast-high"] if self.high_contrast else []))


def read(request: Request) -> Prefs:
    lang = request.cookies.get(LANG)
    size = request.cookies.get(SIZE)
    return Prefs(lang if lang in i18n.SUPPORTED else None, size if size in SIZES else "standard",
                 request.cookies.get(CONTRAST) == "high")


def save(resp: Response, prefs: Prefs, secure: bool) -> Response:
    """Store PREFS for a year (HttpOnly: nothing on the page needs to read them)."""
    for name, value in ((LANG, prefs.lang), (SIZE, prefs.size),
                        (CONTRAST, "high" if prefs.high_contrast else "normal")):
        if value:
            resp.set_cookie(name, value, max_age=YEAR, httponly=True, samesite="Lax", secure=secure)
    return resp
