"""The measures dashboard of the staff console (quality staff and privacy officers): how people
fare and how the system runs, as bar charts with the same numbers in tables.

The human measures come through the public API, as the person's own token may read them
(``GET /staff/v1/measures/{service}``: their department's figures and the whole system's); the
machine measures from each process's /metrics on the internal network (gateway settings'
peers), read as they are. Comments on the pages are shown to quality staff only, never with who
wrote them.
"""
from __future__ import annotations

import requests
from flask import current_app
from prometheus_client import generate_latest

from contracts.schemas.measures import MEASURED_SERVICES
from gateway.portal import dashboard
from gateway.portal.client import ApiError
from gateway.portal.console import api, bp, me, needs, page, stores
from services.common.i18n import _, current_language

METRICS_TIMEOUT = 2.0  # a process that does not answer shows "not measured here", soon


def human_measures() -> list[dict]:
    """Every service's human measures the signed-in person may read, each with its service."""
    found = []
    for service in MEASURED_SERVICES:
        try:
            body = api("GET", f"/staff/v1/measures/{service}")
        except ApiError:
            continue  # that service's figures show as "not measured here"
        found += [{**m, "service": service} for m in body["measures"]]
    return found


def machine_metrics() -> dict[str, str | None]:
    """Each process's /metrics text (None when it did not answer)."""
    texts: dict[str, str | None] = {
        "gateway": generate_latest(current_app.extensions["metrics_registry"]).decode()}
    settings = current_app.extensions["gateway"].settings
    peers, token = settings.peers, settings.metrics_token
    sent = {"Authorization": f"Bearer {token}"} if token else {}
    for service in ("consent", "records", "exchange"):
        try:
            resp = requests.get(peers[service].rstrip("/") + "/metrics", timeout=METRICS_TIMEOUT, headers=sent)
            texts[service] = resp.text if resp.ok else None
        except (requests.RequestException, KeyError):
            texts[service] = None
    return texts


def department_name(department: str) -> str:
    """DEPARTMENT's name in the page's language, as the gateway's directory holds it."""
    names = (stores().directory.entry(department) or {}).get("names") or {}
    return names.get(current_language().used) or names.get("en") or department


@bp.get("/console/measures")
def measures_page():
    """The dashboard: how people fare, how the system runs."""
    refused = needs("quality", "privacy-officer")
    if refused is not None:
        return refused
    metrics = machine_metrics()
    people = dashboard.people_charts(human_measures(), department_name) + [dashboard.grade_chart(metrics)]
    comments = stores().page_answers.comments() if "quality" in me().get("roles", []) else None
    return page("console/measures.html", title=_("Measures"), people=people,
                machines=dashboard.machine_charts(metrics) + [dashboard.decision_chart(metrics),
                                                              dashboard.errors_by_route_chart(metrics)],
                comments=comments)
