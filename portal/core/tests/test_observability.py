"""Observability: request ids, the access log, redaction, metrics and their access, /readyz
and the worker's heartbeat."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import logging.config
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import OperationalError, connections
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from prometheus_client import REGISTRY

from portal.accounts.tests.helpers import verify_email
from portal.core.models import WorkerHeartbeat
from portal.core.observability import heartbeat
from portal.core.observability.logs import logging_config
from portal.notifications.models import OutboxMessage
from portal.smart.tests.support import issue_token
from portal.test import PASSWORD, World, captured_queries

ROOT = Path(__file__).resolve().parents[3]
DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
METRICS_TOKEN = "metrics-token-for-the-tests-0123456789abcdef"
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything logged at any level, as the production configuration writes it (JSON
    through the real filters), into a buffer instead of stderr."""
    stream = io.StringIO()
    config = logging_config(json=True, level="DEBUG")
    config["handlers"]["console"]["stream"] = stream
    logging.config.dictConfig(config)
    try:
        yield stream
    finally:
        logging.config.dictConfig(settings.LOGGING)


@pytest.fixture
def log_lines(log_output: io.StringIO) -> Lines:
    return lambda: [json.loads(line) for line in log_output.getvalue().splitlines()]


def access_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["logger"] == "portal.access"]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# Request ids


def test_it_answers_with_a_fresh_request_id(client: Client) -> None:
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert REQUEST_ID.fullmatch(first)
    assert first != second


def test_it_keeps_the_proxys_request_id(client: Client) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID="nginx-4f2a.9_B")
    assert response["X-Request-ID"] == "nginx-4f2a.9_B"


@pytest.mark.parametrize(
    "incoming", ["a" * 65, "two words", "id\nINFO forged line", "<script>", "ünïcode", ""]
)
def test_it_replaces_an_invalid_request_id(client: Client, incoming: str) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID=incoming)
    assert response["X-Request-ID"] != incoming
    assert REQUEST_ID.fullmatch(response["X-Request-ID"])


# The access log


@pytest.mark.django_db
def test_the_access_log_names_the_route_not_the_path(client: Client, world: World, log_lines: Lines) -> None:
    client.force_login(world.alice_user)
    response = client.get("/record/results/987654/?q=cholesterol")
    assert response.status_code == 404
    lines = log_lines()
    [line] = access_lines(lines)
    assert line["method"] == "GET"
    assert line["route"] == "/record/results/<row_id:report_id>/"
    assert line["status"] == 404
    assert line["user_id"] == world.alice_user.pk
    assert line["request_id"] == response["X-Request-ID"]
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["level"] == "INFO"
    # Django's own "Not Found" warning carries the same id and the route too.
    not_found = [line for line in lines if line["logger"] == "django.request"]
    assert not_found and all(line["request_id"] == response["X-Request-ID"] for line in not_found)
    output = json.dumps(lines)
    assert "987654" not in output
    assert "cholesterol" not in output


@pytest.mark.django_db
def test_an_unknown_path_is_logged_as_unmatched(client: Client, log_lines: Lines) -> None:
    client.get("/no-such-page/secret-looking-segment/")
    [line] = access_lines(log_lines())
    assert line["route"] == "<unmatched>"
    assert line["user_id"] is None
    assert "secret-looking-segment" not in json.dumps(log_lines())


@pytest.mark.django_db
def test_probes_are_logged_at_debug(client: Client, log_lines: Lines) -> None:
    client.get("/healthz")
    client.get("/readyz")
    assert [(line["route"], line["level"]) for line in access_lines(log_lines())] == [
        ("/healthz", "DEBUG"),
        ("/readyz", "DEBUG"),
    ]


# Nothing secret in the logs


@pytest.mark.django_db
def test_no_log_line_holds_a_password_a_token_or_a_patients_name(
    client: Client, world: World, log_output: io.StringIO
) -> None:
    world.alice.given_name, world.alice.family_name = "Zephyrine", "Quillfeather"
    world.alice.save()
    verify_email(world.alice_user)
    wrong_password = "Wrong-Horse-Battery-4242"
    client.post(reverse("account_login"), {"login": "alice", "password": wrong_password})
    signed_in = client.post(reverse("account_login"), {"login": "alice", "password": PASSWORD})
    assert signed_in["Location"] == reverse("home")
    record_page = client.get(reverse("records:summary"))
    assert b"Zephyrine" in record_page.content

    token = issue_token(world.alice_user, world.alice)
    api = Client().get(f"/fhir/r4/Patient/patient-{world.alice.pk}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert b"Quillfeather" in api.content
    Client().get("/fhir/r4/Patient", HTTP_AUTHORIZATION="Bearer not-a-real-token-0123456789")

    output = log_output.getvalue()
    assert len(access_lines([json.loads(line) for line in output.splitlines()])) == 5
    for secret in (
        wrong_password,
        PASSWORD,
        token,
        "not-a-real-token-0123456789",
        "Zephyrine",
        "Quillfeather",
    ):
        assert secret not in output


def test_secrets_passed_to_a_logger_are_masked(log_output: io.StringIO) -> None:
    logger = logging.getLogger("portal.tests.careless")
    logger.warning("Headers: %s", {"Authorization": "Bearer abcdef0123456789", "Accept": "text/html"})
    logger.warning("Form: %s", "login=alice&password=hunter2-hunter2&next=/")
    logger.warning("Callback %s", "https://app.example/cb?code=one-time-code-xyz&state=1")
    logger.warning("%(user)s sent %(api_key)s", {"user": "alice", "api_key": "key-0123456789"})
    logger.warning("Cookie", extra={"session_cookie": "sessionid=abc123def456"})
    try:
        raise ValueError("client_secret=shhh-0123456789 rejected")
    except ValueError:
        logger.exception("It failed")
    output = log_output.getvalue()
    for secret in (
        "abcdef0123456789",
        "hunter2-hunter2",
        "one-time-code-xyz",
        "key-0123456789",
        "abc123def456",
        "shhh",
    ):
        assert secret not in output
    assert "[redacted]" in output
    assert "text/html" in output and "alice" in output and "ValueError" in output


def test_a_request_id_stamps_every_line_of_its_request(log_lines: Lines) -> None:
    from portal.core.observability import requestid

    reset = requestid.current.set("abc-123")
    try:
        logging.getLogger("portal.tests").info("inside")
    finally:
        requestid.current.reset(reset)
    logging.getLogger("portal.tests").info("outside")
    assert [(line["message"], line["request_id"]) for line in log_lines()] == [
        ("inside", "abc-123"),
        ("outside", "-"),
    ]


# Metrics


@pytest.mark.django_db
def test_requests_are_counted_by_route_method_and_status_class(client: Client) -> None:
    labels = {"route": "/healthz", "method": "GET", "status": "2xx"}
    before = sample("portal_http_requests_total", **labels)
    before_latency = sample("portal_http_request_duration_seconds_count", **labels)
    client.get("/healthz")
    client.get("/healthz")
    assert sample("portal_http_requests_total", **labels) == before + 2
    assert sample("portal_http_request_duration_seconds_count", **labels) == before_latency + 2
    exposition = client.get("/metrics").content.decode()
    assert 'portal_http_requests_total{method="GET",route="/healthz",status="2xx"}' in exposition
    assert "portal_http_request_duration_seconds_bucket{" in exposition


@pytest.mark.django_db
def test_an_odd_method_is_counted_as_other(client: Client) -> None:
    before = sample("portal_http_requests_total", route="/healthz", method="OTHER", status="4xx")
    client.generic("BREW", "/healthz")
    assert sample("portal_http_requests_total", route="/healthz", method="OTHER", status="4xx") == before + 1


@pytest.mark.django_db
def test_failed_sign_ins_are_counted(client: Client, world: World) -> None:
    before = sample("portal_failed_sign_ins_total", step="password")
    client.post(reverse("account_login"), {"login": "alice", "password": "not-her-password"})
    client.post(reverse("account_login"), {"login": "nobody-at-all", "password": "anything-at-all"})
    client.post(reverse("account_login"), {"login": "alice", "password": PASSWORD})
    assert sample("portal_failed_sign_ins_total", step="password") == before + 2


@pytest.mark.django_db
@override_settings(TASKS=DB_TASKS)
def test_queue_depth_outbox_lag_and_workers_are_read_at_scrape_time(client: Client, world: World) -> None:
    from portal.notifications.tasks import deliver_outbox

    now = timezone.now()
    deliver_outbox.enqueue()
    deliver_outbox.enqueue()
    for minutes, key in ((10, "old"), (1, "new")):
        OutboxMessage.objects.create(
            recipient=world.alice_user,
            patient=world.alice,
            channel=OutboxMessage.Channel.EMAIL,
            subject="News",
            dedupe_key=key,
            topic="tests",
            send_after=now - dt.timedelta(minutes=minutes),
        )
    heartbeat.beat("worker-1", now, now=now)

    with captured_queries() as queries:
        exposition = client.get("/metrics").content.decode()
    assert len(queries.captured_queries) == 4
    assert 'portal_task_queue_ready_tasks{queue="default"} 2.0' in exposition
    assert "portal_task_queue_running_tasks 0.0" in exposition
    assert "portal_tasks_lost_failed 0.0" in exposition
    assert 'portal_outbox_due_messages{channel="email"} 2.0' in exposition
    assert 'portal_outbox_due_messages{channel="sms"} 0.0' in exposition
    lag = re.search(r'portal_outbox_lag_seconds\{channel="email"\} ([0-9.e+]+)', exposition)
    assert lag and 600 <= float(lag.group(1)) < 660
    assert "portal_workers_alive 1.0" in exposition
    assert "portal_metrics_database_up 1.0" in exposition


@pytest.mark.django_db
def test_metrics_without_a_worker_or_a_queue(client: Client) -> None:
    exposition = client.get("/metrics").content.decode()
    assert "portal_worker_heartbeat_age_seconds +Inf" in exposition
    assert "portal_workers_alive 0.0" in exposition
    assert 'portal_task_queue_ready_tasks{queue="default"} 0.0' in exposition
    assert 'portal_outbox_lag_seconds{channel="in_app"} 0.0' in exposition


@pytest.mark.django_db
def test_metrics_survive_a_broken_database(client: Client) -> None:
    with mock.patch.object(
        type(connections["default"]), "cursor", side_effect=OperationalError("no route to db-host-7")
    ):
        response = client.get("/metrics")
    assert response.status_code == 200
    assert "portal_metrics_database_up 0.0" in response.content.decode()
    assert "db-host-7" not in response.content.decode()


def test_metrics_add_up_the_files_of_every_process(client: Client, tmp_path: Path, monkeypatch: Any) -> None:
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    script = (
        "from portal.core.observability import metrics\n"
        "metrics.observe_request('/from-another-process', 'GET', 200, 0.01)\n"
    )
    for _process in range(2):
        subprocess.run([sys.executable, "-c", script], env=environment, cwd=ROOT, check=True)  # noqa: S603
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with mock.patch("portal.core.observability.views.DatabaseStateCollector.collect", return_value=iter(())):
        exposition = client.get("/metrics").content.decode()
    assert (
        'portal_http_requests_total{method="GET",route="/from-another-process",status="2xx"} 2.0'
        in exposition
    )


# Who may read the metrics


@pytest.mark.django_db
def test_metrics_are_hidden_from_other_addresses(client: Client) -> None:
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    missing = client.get("/no-such-page", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == missing.status_code == 404
    assert b"portal_http_requests_total" not in response.content
    # A forged X-Forwarded-For counts for nothing without trusted proxies.
    assert (
        client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 404
    )
    assert client.post("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404


@pytest.mark.django_db
@override_settings(PORTAL_METRICS_TOKEN=METRICS_TOKEN)
def test_metrics_are_served_with_the_token(client: Client) -> None:
    outside: dict[str, Any] = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}", **outside).status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}x", **outside).status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {METRICS_TOKEN}", **outside).status_code == 404


@pytest.mark.django_db
@override_settings(PORTAL_METRICS_ALLOWED_IPS=["10.0.0.0/8"], TRUSTED_PROXY_COUNT=1)
def test_metrics_are_served_to_an_allowed_network_behind_the_proxy(client: Client) -> None:
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 200
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="::ffff:10.1.2.3").status_code == 200
    # Loopback is no longer listed: the proxy's own address does not let the world in.
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="198.51.100.4").status_code == 404


@pytest.mark.django_db
@override_settings(TRUSTED_PROXY_COUNT=2)
def test_a_request_that_skipped_a_proxy_is_not_taken_for_loopback(client: Client) -> None:
    # Two proxies, one hop in the header: the peer (loopback, the inner proxy) is not the client.
    assert (
        client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 404
    )
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404
    chain = "127.0.0.1, 10.0.0.2"
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=chain).status_code == 200


# Readiness


@pytest.mark.django_db
@override_settings(PORTAL_READYZ_REQUIRES_WORKER=True)
def test_ready_with_the_database_and_a_fresh_heartbeat(client: Client) -> None:
    heartbeat.beat("worker-1", timezone.now())
    with captured_queries() as queries:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "worker": "ok"}
    assert len(queries.captured_queries) == 2


@pytest.mark.django_db
@override_settings(PORTAL_READYZ_REQUIRES_WORKER=True)
def test_not_ready_with_a_stale_heartbeat(client: Client) -> None:
    now = timezone.now()
    stale = now - dt.timedelta(seconds=3 * settings.PORTAL_WORKER_HEARTBEAT_SECONDS + 1)
    heartbeat.beat("worker-1", stale, now=stale)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "worker": "stale"}
    heartbeat.beat("worker-2", now)
    assert client.get("/readyz").status_code == 200


@pytest.mark.django_db
@override_settings(PORTAL_READYZ_REQUIRES_WORKER=True)
def test_not_ready_before_any_worker_has_beaten(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "worker": "missing"}


@pytest.mark.django_db
@override_settings(PORTAL_READYZ_REQUIRES_WORKER=False)
def test_ready_without_a_worker_where_none_is_required(client: Client) -> None:
    with captured_queries() as queries:
        response = client.get("/readyz")
    assert response.json() == {"database": "ok", "worker": "not checked"}
    assert len(queries.captured_queries) == 1


@pytest.mark.django_db
@override_settings(PORTAL_READYZ_REQUIRES_WORKER=True)
def test_not_ready_with_a_broken_database(client: Client) -> None:
    heartbeat.beat("worker-1", timezone.now())
    with mock.patch.object(
        type(connections["default"]), "cursor", side_effect=OperationalError("could not connect to db-host-7")
    ):
        response = client.get("/readyz")
        liveness = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "unavailable", "worker": "unknown"}
    assert b"db-host-7" not in response.content
    assert liveness.status_code == 200


# The worker's heartbeat


@pytest.mark.django_db
@override_settings(TASKS=DB_TASKS)
def test_the_worker_writes_its_heartbeat(client: Client) -> None:
    started = timezone.now()
    # The worker's loop closes "old" connections, which would end the test's transaction.
    with mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
        call_command(
            "worker", "--batch", "--no-startup-delay", "--no-reload", "--worker-id", "w-test", verbosity=0
        )
    row = WorkerHeartbeat.objects.get(worker_id="w-test")
    assert row.beat_at >= started
    assert row.pid == os.getpid()
    assert not any(thread.name == "portal-heartbeat" for thread in threading.enumerate())
    with override_settings(PORTAL_READYZ_REQUIRES_WORKER=True):
        assert client.get("/readyz").json() == {"database": "ok", "worker": "ok"}


@pytest.mark.django_db
def test_a_worker_start_forgets_workers_gone_for_a_day() -> None:
    long_ago = timezone.now() - dt.timedelta(days=2)
    heartbeat.beat("gone", long_ago, now=long_ago)
    beating = heartbeat.Heartbeat("new", interval=3600)
    beating.start()
    beating.stop()
    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["new"]


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_keeps_beating_from_its_thread() -> None:
    beating = heartbeat.Heartbeat("threaded", interval=0.05)
    beating.start()
    try:
        long_ago = timezone.now() - dt.timedelta(hours=1)
        WorkerHeartbeat.objects.filter(worker_id="threaded").update(beat_at=long_ago)
        deadline = time.monotonic() + 5
        while WorkerHeartbeat.objects.get(worker_id="threaded").beat_at == long_ago:
            assert time.monotonic() < deadline, "the thread never beat again"
            time.sleep(0.02)
    finally:
        beating.stop()
    assert heartbeat.is_fresh(heartbeat.latest_beat(), timezone.now())
