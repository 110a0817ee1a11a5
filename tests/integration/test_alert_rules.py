"""deploy/alerts.yml, checked without promtool: each rule has the shape Prometheus loads, names
only metrics the stack exposes or the measures agreed for it, and its expression fires on the
values a person must act on and stays quiet on a healthy stack's own /metrics."""
import math
import re
from pathlib import Path

import pytest
import yaml

from tests.support import promql
from tests.support.metrics import scrape
from tests.support.stack import Stack

RULES = Path(__file__).resolve().parents[2] / "deploy" / "alerts.yml"
SEVERITIES = {"page", "ticket"}
# The human measures other parts of the stack expose (the agreed names; services/common/measures.py).
AGREED = {
    "phr_exchange_release_seconds", "phr_denials_explained_ratio", "phr_break_glass_claims_open",
    "phr_break_glass_reviews_overdue", "phr_reports_open", "phr_reports_acknowledge_seconds",
    "phr_reports_close_days", "phr_preferred_language_ratio", "phr_portal_activation_ratio",
    "phr_sharing_requests", "phr_sharing_request_answer_seconds", "phr_correction_requests_open",
    "phr_correction_requests_near_deadline", "phr_correction_request_answer_days",
    "phr_page_answers", "phr_staff_pulse",
}


def _rules() -> list[dict]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


RULE_BY_NAME = {rule["alert"]: rule for rule in _rules()}


@pytest.fixture(scope="module")
def stack_text(tmp_path_factory) -> dict[str, str]:
    """Each service's /metrics text on a running stack, scraped twice (a range's two ends)."""
    with Stack(tmp_path_factory.mktemp("alerts")) as stack:
        first = {name: scrape(stack.url(name)) for name in ("gateway", "consent", "records", "exchange")}
        second = {name: scrape(stack.url(name)) for name in first}
    return {"before": "".join(first.values()), "now": "".join(second.values())}


def test_every_rule_has_the_shape_prometheus_loads_and_says_what_to_do():
    document = yaml.safe_load(RULES.read_text())
    assert set(document) == {"groups"}
    names = []
    for group in document["groups"]:
        assert set(group) == {"name", "rules"} and group["rules"]
        for rule in group["rules"]:
            assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule
            assert re.fullmatch(r"[A-Z][A-Za-z]+", rule["alert"])
            assert re.fullmatch(r"\d+[smh]", rule["for"])
            assert rule["labels"]["severity"] in SEVERITIES
            assert set(rule["annotations"]) == {"summary", "description"}
            assert all(len(text.split()) >= 6 for text in rule["annotations"].values())
            promql.parse(rule["expr"])  # inside the evaluator's subset, or a SyntaxError
            names.append(rule["alert"])
    assert len(names) == len(set(names))
    assert {"BreakGlassReviewsOverdue", "CorrectionRequestsNearDeadline", "DeadLettersGrowing",
            "OutboxBacklogOld", "ConsumerLagHigh"} <= set(names)


def test_every_agreed_measure_and_every_measure_a_rule_names_is_in_the_readmes_measures_tables():
    readme = (RULES.parents[1] / "README.md").read_text()
    tables = readme[readme.index("\n## Measures\n"):readme.index("\n## ", readme.index("\n## Machine measures") + 1)]
    listed = set(re.findall(r"`(phr_[a-z_]+)", tables))
    assert AGREED <= listed, f"README's Measures table does not name {AGREED - listed}"
    for rule in _rules():
        named = {re.sub(r"_(bucket|count|sum)$", "", name) for name in promql.metric_names(rule["expr"])}
        assert named <= listed, rule["alert"]


def test_every_rule_names_only_metrics_the_stack_exposes_or_the_agreed_measures(stack_text):
    exposed = {name for name in promql.samples(stack_text["now"])}
    exposed |= {re.sub(r"_(bucket|count|sum|total)$", "", name) for name in exposed}
    for rule in _rules():
        unknown = promql.metric_names(rule["expr"]) - exposed - AGREED
        assert not unknown, f"{rule['alert']} names {unknown}, which nothing exposes"


MACHINE_RULES = ["DeadLettersGrowing", "OutboxBacklogOld", "ConsumerLagHigh", "RelayPublishFailing",
                 "ConsentDecisionsSlow"]


@pytest.mark.parametrize("alert", MACHINE_RULES)
def test_a_machine_rule_reads_the_stacks_own_series_and_is_quiet_while_it_is_healthy(stack_text, alert):
    expr = RULE_BY_NAME[alert]["expr"]
    compared = promql.parse(expr)
    assert compared[0] == "compare"
    for name in promql.metric_names(expr):
        assert promql.samples(stack_text["now"]).get(name), f"the stack exposes no {name}"
    assert promql.evaluate(expr, stack_text["now"], stack_text["before"]) == {}


def test_every_machine_rule_is_checked_against_the_stack():
    people = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] if group["name"] == "people"
              for rule in group["rules"]}
    assert set(RULE_BY_NAME) - people == set(MACHINE_RULES)


def _with(text: str, sample: str, labels: str, new: float) -> str:
    """TEXT with the value of SAMPLE{LABELS...} (or SAMPLE alone, for LABELS "") set to NEW (the line must exist)."""
    selector = rf"\{{[^}}]*{re.escape(labels)}[^}}]*\}}" if labels else ""
    pattern = re.compile(rf"^({re.escape(sample)}{selector}) \S+$", re.M)
    changed, count = pattern.subn(lambda m: f"{m.group(1)} {new}", text, count=1)
    assert count == 1, f"no {sample} with {labels} in the stack's metrics"
    return changed


def test_machine_rules_fire_on_the_stacks_series_when_they_go_wrong(stack_text):
    now, before = stack_text["now"], stack_text["before"]
    lagging = _with(now, "phr_consumer_lag_messages", 'group="phr-exchange-flow"', 250)
    assert list(promql.evaluate(RULE_BY_NAME["ConsumerLagHigh"]["expr"], lagging, before)) == [
        (("group", "phr-exchange-flow"), ("topic", "phr.exchange.v1"))]
    stuck = _with(now, "phr_outbox_oldest_pending_seconds", 'service="records"', 61)
    assert list(promql.evaluate(RULE_BY_NAME["OutboxBacklogOld"]["expr"], stuck, before)) == [
        (("service", "records"),)]
    grown = _with(now, "phr_dead_letter_messages", 'topic="phr.consent.v1.dlq"', 3)
    assert list(promql.evaluate(RULE_BY_NAME["DeadLettersGrowing"]["expr"], grown, before)) == [
        (("topic", "phr.consent.v1.dlq"),)]
    failing = _with(now, "phr_relay_publish_errors_total", 'service="consent"', 9)
    assert list(promql.evaluate(RULE_BY_NAME["RelayPublishFailing"]["expr"], failing, before)) == [
        (("service", "consent"),)]
    # A few failures (a broker restart) do not call anyone.
    restarted = _with(now, "phr_relay_publish_errors_total", 'service="consent"', 3)
    assert promql.evaluate(RULE_BY_NAME["RelayPublishFailing"]["expr"], restarted, before) == {}
    # Dead letters that stay as they were (already seen to) do not fire again.
    assert promql.evaluate(RULE_BY_NAME["DeadLettersGrowing"]["expr"], grown, grown) == {}


def _decisions(text: str, fast: float, every: float) -> str:
    """TEXT where consent has answered EVERY decisions, FAST of them within a quarter of a second."""
    text = _with(text, "phr_decision_duration_seconds_count", "", every)
    for bound in ("0.25", "0.5", "1.0", "+Inf"):
        text = _with(text, "phr_decision_duration_seconds_bucket", f'le="{bound}"', every if bound != "0.25" else fast)
    return text


@pytest.mark.parametrize("fast,every,fires", [
    (900, 1000, True),    # 1 in 10 slow
    (990, 1000, False),   # 1 in 100 slow: the stack is busy, nobody is called
    (1000, 1000, False),
])
def test_slow_consent_decisions_call_someone_only_when_more_than_one_in_twenty_is_slow(stack_text, fast, every, fires):
    """FAST of EVERY decisions since the range's first scrape took 250 ms or less. (On the idle
    test stack the rule is quiet because nothing was decided: 0/0 passes no comparison.)"""
    expr, before = RULE_BY_NAME["ConsentDecisionsSlow"]["expr"], stack_text["before"]
    at_start = promql.samples(before)
    now = _decisions(stack_text["now"], at_start["phr_decision_duration_seconds_bucket"][(("le", "0.25"),)] + fast,
                     at_start["phr_decision_duration_seconds_count"][()] + every)
    assert promql.evaluate(expr, now, before) == ({(): pytest.approx(fast / every)} if fires else {})


HUMAN = """\
# HELP phr_break_glass_reviews_overdue Claims not reviewed 72 hours after
# TYPE phr_break_glass_reviews_overdue gauge
phr_break_glass_reviews_overdue{department="cardiology"} 2.0
phr_break_glass_reviews_overdue{department="emergency"} 0.0
# HELP phr_correction_requests_near_deadline Requests open 50 days or more
# TYPE phr_correction_requests_near_deadline gauge
phr_correction_requests_near_deadline{department="primary-care"} 0.0
phr_correction_requests_near_deadline{department="cardiology"} 1.0
"""


@pytest.mark.parametrize("alert,firing", [
    ("BreakGlassReviewsOverdue", [(("department", "cardiology"),)]),
    ("CorrectionRequestsNearDeadline", [(("department", "cardiology"),)]),
])
def test_human_rules_fire_for_the_departments_with_work_waiting_and_only_those(alert, firing):
    expr = RULE_BY_NAME[alert]["expr"]
    assert list(promql.evaluate(expr, HUMAN)) == firing
    quiet = re.sub(r" [12]\.0$", " 0.0", HUMAN, flags=re.M)
    assert promql.evaluate(expr, quiet) == {}


def test_the_evaluator_refuses_what_it_does_not_know_and_names_an_unknown_metric():
    for expr in ("rate(x[5m]) > 0", "avg by (a) (x) > 1", "x > y", "x{a=b} > 1", "x + 1", "x / 2 > 1", "max (x) > 1"):
        with pytest.raises(SyntaxError):
            promql.parse(expr)
    assert promql.metric_names('max by (topic) (delta(phr_made_up{a="b"}[5m])) > 0') == {"phr_made_up"}
    assert promql.evaluate('sum by (a) (x{b!="2"}) >= 3', 'x{a="1",b="1"} 2\nx{a="1",b="3"} 1\nx{a="1",b="2"} 9\n') \
        == {(("a", "1"),): 3.0}
    assert promql.evaluate("increase(c_total[5m])", "c_total 2\n", "c_total 7\n") == {(): 2.0}  # a reset
    assert promql.metric_names("sum(a) / sum(b) < 1") == {"a", "b"}
    ratio = 'sum by (s) (a) / sum by (s) (b)'
    assert promql.evaluate(ratio, 'a{s="x"} 1\na{s="y"} 0\na{s="z"} 2\nb{s="x"} 4\nb{s="y"} 0\nb{s="z"} 0\n') == {
        (("s", "x"),): 0.25, (("s", "y"),): pytest.approx(math.nan, nan_ok=True), (("s", "z"),): math.inf}
    assert promql.evaluate(ratio + " < 1", 'a{s="y"} 0\nb{s="y"} 0\n') == {}  # no decisions: quiet
