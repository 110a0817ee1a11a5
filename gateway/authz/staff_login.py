"""Department staff signing in through the authorization server (the console's client,
``phr-console``: authorization code + PKCE S256), in pages that need no script.

1. The login page takes the username and password, under the sign-in throttle as patients'
   (gateway/accounts/staff_signin.py check_staff_password).
2. A right password gives a *ticket* for the next step only, bound to this authorization
   request (gateway/authz/stores.py TicketStore): the second-factor page (a code from the
   authenticator app or a recovery code), or, for a pending account, the enrolment page (the
   key as text, grouped for reading aloud, and the ``otpauth://`` link, then the first code),
   followed by the recovery codes, shown once.
3. Only a valid second factor leads to a code (no approval page: the console is the
   platform's own client, and a member of staff signs in to do their work). Every ticket is
   used once; a wrong code gives a fresh ticket for the same step, and wrong codes count on
   the account's own counter, so six digits cannot be guessed at speed.
"""
from __future__ import annotations

import secrets
from typing import Callable

from flask import Response, request
from markupsafe import Markup

from gateway.accounts.devices import COOKIE as DEVICE_COOKIE, DeviceCookies
from gateway.accounts.signin import PasswordGate
from gateway.accounts.staff import enrolment_qr, enrolment_uri
from gateway.accounts.staff_signin import (check_second_factor, check_staff_password,
                                           confirm_enrolment)
from gateway.accounts.staff_store import StaffStore
from gateway.accounts.throttle import told_wait
from gateway.authz.pages import render_page, trust_device
from gateway.authz.stores import TicketStore
from services.common.i18n import N_, _

#: The steps a staff ticket opens (login_tickets.step).
SECOND, ENROL, DONE = "second-factor", "enrol", "done"
STAFF_STEPS = (SECOND, ENROL, DONE)

BAD_LOGIN = N_("The username or password is not right. Check them and try again.")
MISSING = N_("Enter both your username and your password.")
EXPIRED = N_("Your sign-in has expired. Sign in again.")
WAIT_SECONDS = N_("Too many tries to sign in. Wait {seconds} seconds, then try again.")
WAIT_MINUTES = N_("Too many tries to sign in. Wait {minutes} minutes, then try again.")
NO_CODE = N_("Enter the code.")
WRONG_CODE = N_("That code is not right. Check it and try again.")
USED_CODE = N_("That code was used already. Wait for the app to show a new code, then try again.")
REFUSED = {
    "disabled": N_("This account is turned off. Ask your department's administrator for help."),
    "department-disabled": N_("Your department cannot sign in here now. Ask your department's "
                              "administrator for help."),
    "pending": N_("Your sign-in has expired. Sign in again."),
}


def grouped(secret: str, size: int = 4) -> str:
    """SECRET in groups of SIZE characters, easier to read aloud and to type."""
    return " ".join(secret[i:i + size] for i in range(0, len(secret), size))


class StaffLogin:
    """The staff pages of /oauth/authorize, for the console client only."""

    def __init__(self, server, tickets: TicketStore, staff: StaffStore, gate: PasswordGate,
                 devices: DeviceCookies, department_active: Callable[[str], bool]):
        self.server, self.tickets, self.staff, self.gate = server, tickets, staff, gate
        self.devices, self.department_active = devices, department_active

    # pages ----------------------------------------------------------------------------------------
    def _page(self, template: str, grant, params, status: int = 200, error: str | None = None,
              **context) -> Response:
        return render_page(template, status, params=params, action=request.path, console=True,
                           me=None, client_name=grant.client.name, error=error, **context)

    def login_page(self, grant, params, status=200, error=None, username="", **words):
        return self._page("staff/login.html", grant, params, status,
                          error and _(error, **words), title=_("Staff sign-in"), username=username)

    def _ticket(self, staff_id: str, request_hash: str, step: str) -> str:
        ticket = secrets.token_urlsafe(32)
        self.tickets.save_ticket(ticket, None, request_hash, staff_id=staff_id, step=step)
        return ticket

    def second_page(self, grant, params, request_hash, staff_id, status=200, error=None, **words):
        return self._page("staff/second.html", grant, params, status, error and _(error, **words),
                          title=_("Enter your code"),
                          ticket=self._ticket(staff_id, request_hash, SECOND))

    def enrol_page(self, grant, params, request_hash, account, status=200, error=None, **words):
        uri = enrolment_uri(account.totp_secret, account.username)
        return self._page("staff/enrol.html", grant, params, status, error and _(error, **words),
                          title=_("Set up your authenticator app"),
                          ticket=self._ticket(account.id, request_hash, ENROL),
                          secret=grouped(account.totp_secret), uri=uri,
                          qr=Markup(enrolment_qr(uri, _("A code for your authenticator app to scan"))),
                          username=account.username)

    def _wait(self, page: Response, wait: float) -> Response:
        page.headers["Retry-After"] = str(told_wait(wait)[2])
        return page

    @staticmethod
    def _wait_words(wait: float) -> tuple[str, dict]:
        unit, count, _seconds = told_wait(wait)
        return (WAIT_SECONDS if unit == "seconds" else WAIT_MINUTES), {unit: count}

    # the flow -------------------------------------------------------------------------------------
    def handle(self, grant, params, request_hash: str) -> Response:
        """Answer one request of a staff sign-in (GET or POST /oauth/authorize)."""
        form = request.form if request.method == "POST" else {}
        step = form.get("step")
        if step in STAFF_STEPS:
            staff_id = self.tickets.take_staff_ticket(form.get("ticket", ""), request_hash, step)
            account = self.staff.account(account_id=staff_id) if staff_id else None
            if account is None:
                return self.login_page(grant, params, 400, EXPIRED)
            if step == SECOND:
                return self._second_factor(grant, params, request_hash, account, form.get("code", ""))
            if step == ENROL:
                return self._enrol(grant, params, request_hash, account, form.get("code", ""))
            return self._issue(grant, params, account)
        if "username" not in form and "password" not in form:
            return self.login_page(grant, params)
        username, password = form.get("username", "").strip(), form.get("password", "")
        if not username or not password:
            return self.login_page(grant, params, 400, MISSING, username)
        device = self.devices.nonce(request.cookies.get(DEVICE_COOKIE), username)
        checked = check_staff_password(self.gate, self.staff, username, password,
                                       request.remote_addr or "?", self.department_active, device)
        if checked.wait:
            message, words = self._wait_words(checked.wait)
            return self._wait(self.login_page(grant, params, 429, message, username, **words),
                              checked.wait)
        if checked.refused:
            return self.login_page(grant, params, 403, REFUSED[checked.refused], username)
        if checked.enrolling is not None:
            page = self.enrol_page(grant, params, request_hash, checked.enrolling)
        elif checked.account is not None:
            page = self.second_page(grant, params, request_hash, checked.account.id)
        else:
            return self.login_page(grant, params, 400, BAD_LOGIN, username)
        return trust_device(self.devices, page, username)

    def _second_factor(self, grant, params, request_hash, account, code: str) -> Response:
        code = code.strip() if isinstance(code, str) else ""
        if not code:
            return self.second_page(grant, params, request_hash, account.id, 400, NO_CODE)
        checked = check_second_factor(self.gate, self.staff, account.id, code[:64],
                                      self.department_active)
        if checked.wait:
            message, words = self._wait_words(checked.wait)
            return self._wait(self.second_page(grant, params, request_hash, account.id, 429,
                                               message, **words), checked.wait)
        if checked.accepted is not None:
            return self.server.create_authorization_response(grant_user=checked.accepted.account,
                                                             grant=grant)
        if checked.refused in ("wrong-code", "replayed"):
            error = USED_CODE if checked.refused == "replayed" else WRONG_CODE
            return self.second_page(grant, params, request_hash, account.id, 400, error)
        return self.login_page(grant, params, 403, REFUSED.get(checked.refused, EXPIRED))

    def _enrol(self, grant, params, request_hash, account, code: str) -> Response:
        code = code.strip() if isinstance(code, str) else ""
        if not code:
            return self.enrol_page(grant, params, request_hash, account, 400, NO_CODE)
        done = confirm_enrolment(self.gate, self.staff, account.id, code[:64], self.department_active)
        if done.wait:
            message, words = self._wait_words(done.wait)
            return self._wait(self.enrol_page(grant, params, request_hash, account, 429, message,
                                              **words), done.wait)
        if done.recovery_codes is not None:
            return self._page("staff/recovery.html", grant, params,
                              title=_("Write down your recovery codes"),
                              codes=done.recovery_codes,
                              ticket=self._ticket(account.id, request_hash, DONE))
        if done.refused in ("wrong-code", "replayed"):
            error = USED_CODE if done.refused == "replayed" else WRONG_CODE
            return self.enrol_page(grant, params, request_hash, account, 400, error)
        return self.login_page(grant, params, 403, REFUSED.get(done.refused, EXPIRED))

    def _issue(self, grant, params, account) -> Response:
        """Both factors were given (the enrolment's first code is one): issue the code, when
        the account may still sign in."""
        if account.status != "active":
            return self.login_page(grant, params, 403, REFUSED.get(account.status, EXPIRED))
        if not self.department_active(account.department):
            return self.login_page(grant, params, 403, REFUSED["department-disabled"])
        return self.server.create_authorization_response(grant_user=account, grant=grant)
