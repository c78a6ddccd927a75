"""The scrape endpoints: auth, content negotiation, gzip, which families each one serves."""

import gzip

import pytest
from django.contrib.auth.models import Permission, User
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from rest_framework.authtoken.models import Token

from tests.prometheus_parse import parse, sample

API_URL = "/api/v1/scheduler/metrics/prometheus"


def user_who_may_view(username: str):
    user = User.objects.create_user(username, password="x" * 12)
    user.user_permissions.add(Permission.objects.get(codename="view_jobdefinition"))
    return user


@pytest.fixture
def token(db):
    return Token.objects.create(user=user_who_may_view("scraper")).key


def test_it_refuses_a_token_without_the_view_permission(client, job):
    """A valid token of a user who may not view jobs is a 403, as on the JSON API."""
    key = Token.objects.create(user=User.objects.create_user("nobody", password="x" * 12)).key
    response = client.get(API_URL, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 403
    assert "view job" in response.json()["message"]


@pytest.fixture
def job(make_job, record_run):
    job = make_job("nightly", name='Nightly "report" 报表')
    record_run(job, duration_ms=120)
    record_run(job, duration_ms=80, status="failure")
    return job


def test_it_refuses_a_request_without_credentials(client, job):
    """401 with a Bearer challenge and a message in the API envelope."""
    response = client.get(API_URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json() == {
        "code": 401,
        "message": "Authentication credentials were not provided.",
        "data": None,
    }


@pytest.mark.parametrize(
    "header, message",
    [
        ("Bearer not-a-token", "Invalid token."),
        ("Bearer", "Invalid Authorization header: expected 'Bearer <token>'."),
        ("Basic dXNlcjpwYXNz", "Unsupported authorization scheme; use 'Bearer <token>'."),
    ],
)
def test_it_refuses_a_bad_authorization_header(client, job, header, message):
    """Wrong token, missing token, or another scheme: 401 naming the problem."""
    response = client.get(API_URL, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["message"] == message


def test_it_refuses_the_token_of_an_inactive_user(client, job, token):
    """A deactivated user's token no longer reads metrics."""
    User.objects.filter(username="scraper").update(is_active=False)
    response = client.get(API_URL, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401


@pytest.mark.parametrize("keyword", ["Bearer", "Token", "bearer"])
def test_it_serves_only_scheduler_families_to_a_token(client, job, token, keyword):
    """A DRF token under Bearer or Token gets text 0.0.4 with only scheduler_* families."""
    response = client.get(API_URL, HTTP_AUTHORIZATION=f"{keyword} {token}")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = parse(response.content.decode())
    assert families and all(name.startswith("scheduler_") for name in families)
    assert sample(families, "scheduler_job_success_total", job_id="nightly") == 1
    assert sample(families, "scheduler_job_failure_total", job_id="nightly") == 1


def test_it_serves_a_staff_session_but_not_a_plain_user(client, job, admin_user):
    """Staff browsing the API may read it; a logged-in non-staff user may not."""
    plain = User.objects.create_user("plain", password="x" * 12)
    client.force_login(plain)
    assert client.get(API_URL).status_code == 403
    client.force_login(admin_user)
    response = client.get(API_URL)
    assert response.status_code == 200
    assert b"scheduler_job_success_total" in response.content


def test_it_negotiates_openmetrics_and_gzip(client, job, token):
    """Accept: OpenMetrics gives OpenMetrics (ending in # EOF); gzip when accepted."""
    response = client.get(
        API_URL,
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_ACCEPT="application/openmetrics-text; version=1.0.0; charset=utf-8",
        HTTP_ACCEPT_ENCODING="gzip, deflate",
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert response["Content-Encoding"] == "gzip"
    text = gzip.decompress(response.content).decode()
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in parse_openmetrics(text)}
    success = families["scheduler_job_success"]
    assert [s.value for s in success.samples if s.name.endswith("_total")] == [1]
    assert families["scheduler_job_duration_seconds"].type == "histogram"


def test_it_serves_plain_text_when_gzip_is_not_accepted(client, job, token):
    """Without Accept-Encoding: gzip the body is plain."""
    response = client.get(API_URL, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert not response.has_header("Content-Encoding")
    assert response.content.startswith(b"# HELP")


def test_it_refuses_other_methods(client, job, token):
    """Scrape endpoints are read-only."""
    assert client.post(API_URL, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 405
    assert client.post("/metrics").status_code == 405


def test_it_serves_process_and_scheduler_families_on_metrics(client, job):
    """/metrics has django-prometheus's families and ours, without a token by default."""
    client.get("/metrics")  # so django-prometheus has counted a request
    response = client.get("/metrics")
    assert response.status_code == 200
    families = parse(response.content.decode())
    assert "django_http_requests_before_middlewares" in families
    assert any(name.startswith("python_") or name.startswith("process_") for name in families)
    assert sample(families, "scheduler_job_success_total", job_id="nightly") == 1


def test_it_requires_a_token_on_metrics_when_configured(client, job, token, settings):
    """METRICS_REQUIRE_TOKEN=True protects /metrics like the API."""
    settings.SCHEDULER_MONITOR = {"METRICS_REQUIRE_TOKEN": True}
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert b"scheduler_job_success_total" in response.content
