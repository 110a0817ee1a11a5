"""What the staff console's dashboard shows, as charts: pure functions from measures to rows.

Each chart is a title and rows of (label, value, shown value); the page draws each chart as an
SVG of bars and, under it, a table of the same rows (templates/console/measures.html), so the
table holds exactly the numbers the bars show. A measure that no service gave is one row
"not measured here" rather than an error: the machine measures come from each process's
/metrics, and a process that does not (yet) export one should not break the page.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from prometheus_client.parser import text_string_to_metric_families

from contracts.vocabulary import REPORT_KIND_NAMES
from gateway.portal.pulse import QUESTIONS as PULSE
from services.common.i18n import N_, _


@dataclass
class Row:
    label: str
    value: float | None  # None: not measured here
    shown: str


@dataclass
class Chart:
    id: str
    title: str
    unit: str
    rows: list[Row] = field(default_factory=list)

    @property
    def biggest(self) -> float:
        return max([r.value for r in self.rows if r.value is not None] + [0.0]) or 1.0


NOT_MEASURED = N_("not measured here")
QUANTILES = {"0.5": N_("half within"), "0.9": N_("9 in 10 within")}

#: Human measures (services/common/measures.py names): id, title, unit, and how a row is labelled.
PEOPLE = (
    ("phr_exchange_release_seconds", N_("Time from a request for records to their release"), N_("seconds"),
     ("department", "quantile")),
    ("phr_denials_explained_ratio", N_("Refusals explained in words with a next step"), N_("share"), ()),
    ("phr_sharing_requests", N_("Requests to share, waiting and answered"), N_("requests"), ("state",)),
    ("phr_sharing_request_answer_seconds", N_("Time for a patient to answer a request to share"),
     N_("seconds"), ("quantile",)),
    ("phr_break_glass_claims_open", N_("Emergency claims waiting for review"), N_("claims"), ("department",)),
    ("phr_break_glass_reviews_overdue", N_("Emergency claims late for review (over 72 hours)"), N_("claims"),
     ("department",)),
    ("phr_correction_requests_open", N_("Requests to fix records, waiting"), N_("requests"), ("department",)),
    ("phr_correction_requests_near_deadline", N_("Requests to fix records, 50 days old or more (limit 60)"),
     N_("requests"), ("department",)),
    ("phr_correction_request_answer_days", N_("Days to answer a request to fix records"), N_("days"),
     ("quantile",)),
    ("phr_preferred_language_ratio", N_("Answers to patients in the language they asked for"), N_("share"),
     ("service", "language")),
    ("phr_portal_activation_ratio", N_("Patients who use the portal, by group"), N_("share"), ("group",)),
    ("phr_reports_open", N_("Reports not closed yet, by kind"), N_("reports"), ("kind",)),
    ("phr_reports_acknowledge_seconds", N_("Time for a report to get its first answer"), N_("seconds"),
     ("quantile",)),
    ("phr_reports_close_days", N_("Days for a report to be closed"), N_("days"), ("quantile",)),
    ("phr_page_answers", N_("Was this page easy to understand?"), N_("answers"), ("page", "language", "answer")),
    ("phr_staff_pulse", N_("Staff pulse (groups of 5 or more)"), N_("answers"), ("department", "question", "answer")),
)
#: Machine measures, read from each service's /metrics (per service).
MACHINES = (
    ("phr_consumer_lag_messages", N_("Messages waiting to be read, by consumer group")),
    ("phr_dead_letter_messages", N_("Messages set aside after failing")),
    ("phr_outbox_pending_events", N_("Events waiting to be sent")),
    ("phr_outbox_oldest_pending_seconds", N_("Age of the oldest event waiting, in seconds")),
    ("phr_relay_publish_errors_total", N_("Errors sending events")),
    ("http_requests_total", N_("Requests served, by status")),
)
#: The bounds (seconds) at which the consent decisions' latency chart cuts its rows: a few ranges
#: a person can read, from the histogram's finer buckets (services/consent/entrypoints/http.py).
DECISION_BOUNDS = (0.01, 0.1, 0.25, 1.0)


def number(value: float) -> str:
    """VALUE as the chart and the table both show it."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def label_of(labels: dict, keys: tuple[str, ...], names: Callable[[str], str] = str) -> str:
    """A row's words: the values of LABELS under KEYS, a department by its NAMES, a quantile and
    the staff pulse's codes in words."""
    words = []
    for key in keys:
        value = labels.get(key, "")
        if key == "quantile" and value in QUANTILES:
            value = _(QUANTILES[value])
        elif key == "department" and value:
            value = names(value)
        elif key == "kind" and value in REPORT_KIND_NAMES:
            value = _(REPORT_KIND_NAMES[value])
        elif key == "question" and value in PULSE:
            value = _(PULSE[value][0])
        elif key == "answer" and labels.get("question") in PULSE:
            answers = PULSE[labels.get("question")][1]  # the words are marked in gateway/portal/pulse.py
            value = _(answers.get(value, value))
        words.append(value)
    return ", ".join(w for w in words if w) or _("all")


def people_charts(measures: list[dict], names: Callable[[str], str] = str) -> list[Chart]:
    """One chart per human measure, from MEASURES (dicts of contracts/schemas/measures.py, each
    with the 'service' that gave it), departments shown by NAMES; a measure nobody gave is a
    "not measured here" row."""
    charts, known = [], set()
    for name, title, unit, keys in PEOPLE:
        known.add(name)
        chart = Chart(name.replace("_", "-"), _(title), _(unit))
        for m in sorted((m for m in measures if m["name"] == name), key=lambda m: label_of(m["labels"], keys, names)):
            labels = {**m["labels"], "service": m.get("service", "")}
            chart.rows.append(Row(label_of(labels, keys, names), m["value"], number(m["value"])))
        charts.append(_or_absent(chart))
    # A measure this page does not know yet (a service added one): shown under its own help line.
    for name in sorted({m["name"] for m in measures} - known):
        found = [m for m in measures if m["name"] == name]
        chart = Chart(name.replace("_", "-"), found[0]["help"], "")
        chart.rows = [Row(label_of(m["labels"], tuple(sorted(m["labels"]))), m["value"], number(m["value"]))
                      for m in found]
        charts.append(chart)
    return charts


def machine_charts(metrics: dict[str, str | None]) -> list[Chart]:
    """One chart per machine measure over METRICS, each service's /metrics text (None: unread)."""
    families = {service: _families(text) for service, text in metrics.items()}
    charts = []
    for name, title in MACHINES:
        chart = Chart(name.replace("_", "-"), _(title), "")
        for service, found in sorted(families.items()):
            samples = found.get(name)
            if samples is None:
                chart.rows.append(Row(f"{service}: {_(NOT_MEASURED)}", None, _(NOT_MEASURED)))
                continue
            totals: dict[str, float] = {}
            for labels, value in samples:
                key = ", ".join(f"{v}" for k, v in sorted(labels.items()) if k not in ("service", "method", "route"))
                totals[key] = totals.get(key, 0.0) + value
            chart.rows += [Row(f"{service}{': ' + key if key else ''}", v, number(v)) for key, v in sorted(totals.items())]
        charts.append(chart)
    return charts


def errors_by_route_chart(metrics: dict[str, str | None]) -> Chart:
    """Requests answered with an error (status 400 or above), by service, route and status."""
    chart = Chart("http-errors-by-route", _("Requests answered with an error, by route"), _("requests"))
    totals: dict[str, float] = {}
    for service, text in sorted(metrics.items()):
        for labels, value in _families(text).get("http_requests_total", []):
            status = labels.get("status", "")
            if status.isdigit() and int(status) >= 400:
                key = f"{service}: {labels.get('route', '')} {status}"
                totals[key] = totals.get(key, 0.0) + value
    chart.rows = [Row(key, v, number(v)) for key, v in sorted(totals.items()) if v]
    if not chart.rows and any(metrics.values()):
        chart.rows.append(Row(_("none"), 0.0, number(0.0)))
    return _or_absent(chart)


def decision_chart(metrics: dict[str, str | None]) -> Chart:
    """Consent decisions by the time they took (phr_decision_duration_seconds), summed over the
    processes that give it, in the ranges of DECISION_BOUNDS."""
    cumulative: dict[float, float] = {}
    for text in metrics.values():
        for labels, value in _families(text).get("phr_decision_duration_seconds_bucket", []):
            bound = float(labels["le"])
            cumulative[bound] = cumulative.get(bound, 0.0) + value
    chart = Chart("phr-decision-duration-seconds", _("Consent decisions by the time they took"), _("decisions"))
    if cumulative:
        below, low = 0.0, None
        for bound in [b for b in DECISION_BOUNDS if b in cumulative] + [float("inf")]:
            within = cumulative.get(bound, below)
            if low is None:
                label = _("within {ms} ms", ms=number(bound * 1000))
            elif bound == float("inf"):
                label = _("over {ms} ms", ms=number(low * 1000))
            else:
                label = _("{low} to {high} ms", low=number(low * 1000), high=number(bound * 1000))
            chart.rows.append(Row(label, within - below, number(within - below)))
            below, low = within, bound
    return _or_absent(chart)


def grade_chart(metrics: dict[str, str | None]) -> Chart:
    """Patient texts by reading grade (phr_patient_text_grade), summed over the services."""
    counts: dict[tuple[str, float], float] = {}
    for text in metrics.values():
        for labels, value in _families(text).get("phr_patient_text_grade_bucket", []):
            bound = float(labels["le"])
            counts[(labels.get("language", ""), bound)] = counts.get((labels.get("language", ""), bound), 0.0) + value
    chart = Chart("phr-patient-text-grade", _("Patient texts by reading grade"), _("texts"))
    for language in sorted({lang for lang, _b in counts}):
        below, low = 0.0, None
        for bound in sorted(b for lang, b in counts if lang == language):
            cumulative = counts[(language, bound)]
            if low is None:
                label = _("{language}, grade {grade} or below", language=language, grade=number(bound))
            elif bound == float("inf"):
                label = _("{language}, above grade {grade}", language=language, grade=number(low))
            else:
                label = _("{language}, above grade {low} up to {high}", language=language,
                          low=number(low), high=number(bound))
            chart.rows.append(Row(label, cumulative - below, number(cumulative - below)))
            below, low = cumulative, bound
    return _or_absent(chart)


def _or_absent(chart: Chart) -> Chart:
    if not chart.rows:
        chart.rows.append(Row(_(NOT_MEASURED), None, _(NOT_MEASURED)))
    return chart


def _families(text: str | None) -> dict[str, list[tuple[dict, float]]]:
    if not text:
        return {}
    found: dict[str, list[tuple[dict, float]]] = {}
    try:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                found.setdefault(s.name, []).append((dict(s.labels), s.value))
    except ValueError:
        return {}
    return found
