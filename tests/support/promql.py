"""A small evaluator for the part of PromQL that deploy/alerts.yml uses, for tests without promtool.

Written by hand because PyPI has no maintained pure-Python PromQL evaluator (promql-parser
parses, it does not evaluate). It knows: a metric selector with label matchers (=, !=, =~, !~),
``sum by (...)``, ``sum (...)`` and ``max by (...)`` of an expression, ``increase`` and ``delta``
over a range given two samples (the scrapes at both ends of the range, without Prometheus's
extrapolation), the ratio ``a / b`` of two such expressions (series matched on equal labels;
as in Prometheus, x/0 is ±Inf and 0/0 is NaN, which passes no comparison), and a comparison
with a number, which keeps the series that pass. Anything else is a SyntaxError, so a rule
outside this subset fails its test instead of being half-checked.
"""
from __future__ import annotations

import math
import re

from prometheus_client.parser import text_string_to_metric_families

Vector = dict[tuple[tuple[str, str], ...], float]  # labels (sorted, without __name__) -> value

_TOKEN = re.compile(r'\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>"(?:[^"\\]|\\.)*")|(?P<dur>\[\d+[smhd]\])'
                    r'|(?P<op>=~|!~|!=|==|>=|<=|[=><(){},/])|(?P<name>[A-Za-z_:][A-Za-z0-9_:]*))')
_CMP = {">": float.__gt__, "<": float.__lt__, ">=": float.__ge__, "<=": float.__le__,
        "==": float.__eq__, "!=": float.__ne__}


def samples(text: str) -> dict[str, Vector]:
    """Every sample of exposition TEXT: {sample name: {labels: value}}."""
    found: dict[str, Vector] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = float(s.value)
    return found


def metric_names(expr: str) -> set[str]:
    """The metric names EXPR selects."""
    return {node[1] for node in _walk(parse(expr)) if node[0] == "select"}


def evaluate(expr: str, now: str, before: str | None = None) -> Vector:
    """Evaluate EXPR on the scrape NOW (and BEFORE, the scrape at the start of any range)."""
    return _eval(parse(expr), samples(now), samples(before) if before is not None else None)


def parse(expr: str):
    tokens = [(kind, m.group(kind)) for m in _TOKEN.finditer(expr) for kind in m.groupdict() if m.group(kind)]
    if "".join(v for _, v in tokens).replace(" ", "") != expr.replace(" ", "").replace("\n", ""):
        raise SyntaxError(f"unknown characters in {expr!r}")
    parser = _Parser(tokens)
    node = parser.expression()
    if parser.tokens:
        raise SyntaxError(f"unexpected {parser.tokens[0][1]!r} in {expr!r}")
    return node


class _Parser:
    def __init__(self, tokens):
        self.tokens = tokens

    def take(self, value=None, kind=None):
        if not self.tokens:
            raise SyntaxError("the expression ends too soon")
        k, v = self.tokens.pop(0)
        if (value is not None and v != value) or (kind is not None and k != kind):
            raise SyntaxError(f"expected {value or kind}, got {v!r}")
        return v

    def peek(self):
        return self.tokens[0][1] if self.tokens else None

    def expression(self):
        node = self.term()
        if self.peek() == "/":
            self.take("/")
            node = ("ratio", node, self.term())
        if self.peek() in _CMP:
            op = self.take()
            node = ("compare", op, node, float(self.take(kind="num")))
        return node

    def term(self):
        name = self.take(kind="name")
        if name in ("sum", "max"):
            labels = []
            if name == "max" or self.peek() == "by":
                self.take("by")
                self.take("(")
                labels = [self.take(kind="name")]
                while self.peek() == ",":
                    self.take(",")
                    labels.append(self.take(kind="name"))
                self.take(")")
            self.take("(")
            inner = self.term()
            self.take(")")
            return ("aggregate", name, tuple(labels), inner)
        if name in ("increase", "delta"):
            self.take("(")
            inner = self.selector(self.take(kind="name"))
            self.take(kind="dur")
            self.take(")")
            return ("range", name, inner)
        return self.selector(name)

    def selector(self, name):
        matchers = []
        if self.peek() == "{":
            self.take("{")
            while self.peek() != "}":
                label, op = self.take(kind="name"), self.take()
                if op not in ("=", "!=", "=~", "!~"):
                    raise SyntaxError(f"unknown matcher {op!r}")
                matchers.append((label, op, self.take(kind="str")[1:-1]))
                if self.peek() == ",":
                    self.take(",")
            self.take("}")
        return ("select", name, tuple(matchers))


def _walk(node):
    yield node
    for child in node[1:]:
        if isinstance(child, tuple) and child and isinstance(child[0], str) and child[0] in (
                "select", "aggregate", "range", "compare", "ratio"):
            yield from _walk(child)


def _divide(top: float, bottom: float) -> float:
    if bottom:
        return top / bottom
    return math.copysign(math.inf, top) if top else math.nan


def _matches(labels, matchers) -> bool:
    got = dict(labels)
    for label, op, want in matchers:
        value = got.get(label, "")
        ok = {"=": value == want, "!=": value != want,
              "=~": re.fullmatch(want, value) is not None, "!~": re.fullmatch(want, value) is None}[op]
        if not ok:
            return False
    return True


def _eval(node, now, before) -> Vector:
    kind = node[0]
    if kind == "select":
        _, name, matchers = node
        return {labels: v for labels, v in now.get(name, {}).items() if _matches(labels, matchers)}
    if kind == "range":
        _, func, selector = node
        if before is None:
            raise ValueError(f"{func} needs the scrape at the start of its range")
        start, end = _eval(selector, before, None), _eval(selector, now, None)
        out = {}
        for labels, last in end.items():
            if labels in start:  # Prometheus too needs two samples of a series in the range
                first = start[labels]
                out[labels] = (last if last < first else last - first) if func == "increase" else last - first
        return out
    if kind == "aggregate":
        _, op, by, inner = node
        groups: dict[tuple, list[float]] = {}
        for labels, v in _eval(inner, now, before).items():
            key = tuple((k, v2) for k, v2 in labels if k in by)
            groups.setdefault(key, []).append(v)
        return {key: (sum(vs) if op == "sum" else max(vs)) for key, vs in groups.items()}
    if kind == "ratio":
        _, top, bottom = node
        over = _eval(bottom, now, before)
        return {labels: _divide(v, over[labels]) for labels, v in _eval(top, now, before).items() if labels in over}
    _, op, inner, number = node
    return {labels: v for labels, v in _eval(inner, now, before).items() if _CMP[op](v, number)}
