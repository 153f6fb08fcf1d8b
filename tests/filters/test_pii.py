"""PII redaction: what is replaced, what is left alone, and the counts per kind."""

from __future__ import annotations

from dataclasses import replace

import pytest

from filters.config import PiiConfig
from filters.pii import PiiRedactor

R = PiiRedactor(PiiConfig())
E, IP, PH = "|||EMAIL_ADDRESS|||", "|||IP_ADDRESS|||", "|||PHONE_NUMBER|||"


@pytest.mark.parametrize(
    ("text", "expected", "counts"),
    [
        ("Write to john.doe@example.com today.", f"Write to {E} today.", (1, 0, 0)),
        ("(jane+news@mail.example.co.uk)", f"({E})", (1, 0, 0)),
        ("Server at 192.168.1.20 is down.", f"Server at {IP} is down.", (0, 1, 0)),
        ("Use 2001:db8::1 or fe80::1ff:fe23:4567:890a now.", f"Use {IP} or {IP} now.", (0, 2, 0)),
        ("Call +49 30 1234567 please.", f"Call {PH} please.", (0, 0, 1)),
        ("Call (555) 123-4567 or 555-123-4567.", f"Call {PH} or {PH}.", (0, 0, 2)),
    ],
)
def test_replaced(text, expected, counts):
    out, n = R.redact(text)
    assert out == expected
    assert (n["email"], n["ip"], n["phone"]) == counts


@pytest.mark.parametrize(
    "text",
    [
        "Version 1.2.3 and 1.2.3.4.5 are out.",
        "The address 999.1.1.1 is not valid.",
        "Meet at 12:30:45 or read std::vector docs.",
        "From 2004-2005, on 2005-01-15, ISBN 978-3-16-148410-0.",
        "It costs 1.234,56 EUR, about 1500 dollars.",
        "Twitter handle @someone and a lone x@y.",
        "Population 83 000 000 in 2020.",
    ],
)
def test_left_alone(text):
    out, n = R.redact(text)
    assert out == text
    assert sum(n.values()) == 0


def test_kinds_can_be_turned_off():
    r = PiiRedactor(replace(PiiConfig(), email=None, phone=None))
    out, n = r.redact("a@example.com 10.0.0.1 555-123-4567")
    assert out == f"a@example.com {IP} 555-123-4567"
    assert n == {"ip": 1}
