"""The Content Security Policy's report endpoint: counted, logged without secrets, hard to abuse."""

from __future__ import annotations

import json
import logging

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse
from prometheus_client import REGISTRY

from portal.core import csp_report
from portal.test import World

pytestmark = pytest.mark.django_db

URL = "/csp-report/"


@pytest.fixture(autouse=True)
def _fresh_budget() -> None:
    cache.clear()


def reported(directive: str) -> float:
    return REGISTRY.get_sample_value("portal_csp_reports_total", {"directive": directive}) or 0.0


def report_uri_body(**fields: str) -> bytes:
    report = {
        "document-uri": "http://testserver/shared/s3cr3t-token/?key=abc",
        "violated-directive": "script-src-elem",
        "effective-directive": "script-src-elem",
        "blocked-uri": "inline",
    }
    report.update(fields)
    return json.dumps({"csp-report": report}).encode()


def post(client: Client, body: bytes, content_type: str = "application/csp-report") -> int:
    return client.post(URL, body, content_type=content_type).status_code


def test_the_policy_names_the_endpoint(client: Client) -> None:
    assert reverse("csp_report") == URL
    csp = client.get("/accounts/login/")["Content-Security-Policy"]
    assert f"report-uri {URL}" in csp


def test_it_counts_and_logs_a_report_without_the_url_secrets(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    before = reported("script-src-elem")
    with caplog.at_level(logging.WARNING, logger="portal.csp"):
        assert post(client, report_uri_body()) == 204
    assert reported("script-src-elem") == before + 1
    line = caplog.records[-1].getMessage()
    assert "script-src-elem" in line and "inline" in line
    assert "s3cr3t-token" not in line and "abc" not in line


def test_it_reads_the_reporting_api_format(client: Client) -> None:
    before = reported("img-src")
    body = json.dumps(
        [
            {
                "type": "csp-violation",
                "body": {"effectiveDirective": "img-src", "blockedURL": "https://x.example/a.png"},
            }
        ]
    ).encode()
    assert post(client, body, "application/reports+json") == 204
    assert reported("img-src") == before + 1


def test_an_unknown_directive_is_counted_as_other(client: Client) -> None:
    before = reported("other")
    assert post(client, report_uri_body(**{"effective-directive": "x" * 500})) == 204
    assert reported("other") == before + 1


@pytest.mark.parametrize("body", [b"", b"not json", b"\xff\xfe", b"[1, 2]", b'{"csp-report": "x"}'])
def test_junk_is_ignored_quietly(client: Client, body: bytes) -> None:
    assert post(client, body) == 204


def test_it_takes_only_posts(client: Client) -> None:
    assert client.get(URL).status_code == 405


def test_a_large_body_is_refused(client: Client) -> None:
    before = reported("script-src-elem")
    padding = "a" * (csp_report.MAX_REPORT_BYTES + 1)
    assert post(client, report_uri_body(**{"script-sample": padding})) == 413
    assert reported("script-src-elem") == before


def test_one_address_gets_a_budget_per_minute(client: Client) -> None:
    for _ in range(csp_report.REPORTS_PER_MINUTE):
        assert post(client, b"{}") == 204
    assert post(client, b"{}") == 429
    other = Client(REMOTE_ADDR="192.0.2.9")
    assert post(other, b"{}") == 204


@override_settings(PORTAL_REQUIRE_MFA=True)
def test_a_report_from_a_user_not_yet_enrolled_in_two_factor_is_still_counted(
    client: Client, world: World
) -> None:
    client.force_login(world.alice_user)
    before = reported("script-src-elem")
    response = client.post(URL, report_uri_body(), content_type="application/csp-report")
    assert response.status_code == 204
    assert reported("script-src-elem") == before + 1


def test_an_unparseable_address_is_logged_as_such(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="portal.csp"):
        assert post(client, report_uri_body(**{"blocked-uri": "http://[::1/x"})) == 204
    assert "(unparseable address)" in caplog.records[-1].getMessage()


def test_each_report_in_a_batch_counts_against_the_budget(client: Client) -> None:
    batch = [{"type": "csp-violation", "body": {"effectiveDirective": "img-src"}}] * 10
    body = json.dumps(batch).encode()
    for _ in range(csp_report.REPORTS_PER_MINUTE // 10):
        assert post(client, body, "application/reports+json") == 204
    assert post(client, b"{}") == 429


def test_an_ipv6_network_shares_one_budget(client: Client) -> None:
    for suffix in range(csp_report.REPORTS_PER_MINUTE):
        assert post(Client(REMOTE_ADDR=f"2001:db8::{suffix + 1:x}"), b"{}") == 204
    assert post(Client(REMOTE_ADDR="2001:db8::ffff"), b"{}") == 429
    assert post(Client(REMOTE_ADDR="2001:db8:0:1::1"), b"{}") == 204
