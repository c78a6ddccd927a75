"""The dashboard and the API answer gzip-compressed to clients that accept it."""

import gzip
import json

import pytest


@pytest.fixture
def jobs(make_job, record_run):
    for _ in range(30):
        record_run(make_job())


@pytest.mark.parametrize(
    "url", ["/scheduler-monitoring", "/scheduler-monitoring/fragments", "/api/v1/scheduler/jobs"]
)
def test_it_compresses_for_a_client_that_accepts_gzip(admin_client, jobs, url):
    plain = admin_client.get(url)
    zipped = admin_client.get(url, headers={"Accept-Encoding": "gzip, deflate"})
    assert plain.status_code == zipped.status_code == 200
    assert "Content-Encoding" not in plain
    assert zipped["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped["Vary"]
    assert len(zipped.content) < len(plain.content) / 3
    body = gzip.decompress(zipped.content)
    if url.startswith("/api/"):
        assert json.loads(body) == plain.json()
    else:  # same page, but for the CSRF token and times rendered per request
        assert body.count(b'class="sm-row') == plain.content.count(b'class="sm-row')


def test_an_api_error_stays_in_the_envelope_when_compressed(admin_client):
    response = admin_client.get(
        "/api/v1/scheduler/jobs/no-such-job", headers={"Accept-Encoding": "gzip"}
    )
    assert response.status_code == 404
    body = response.content
    if response.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    assert json.loads(body)["code"] == 404
