"""Every response, success or error, is {code, message, data} with the real status."""

from rest_framework.test import APIClient

from scheduler_monitor.models import TriggerRequest
from tests.api.helpers import error_of

P = "/api/v1/scheduler"


def test_it_wraps_unknown_paths_in_a_404_envelope(reader, db):
    """A path under the API prefix that is no endpoint is a JSON 404, authenticated or not."""
    payload = error_of(reader.get(f"{P}/nothing/here"), 404)
    assert payload["message"] == f"no API endpoint at {P}/nothing/here"
    error_of(APIClient().post(f"{P}/jobs/a/explode"), 404)
    error_of(reader.get(f"{P}/triggers/1%0A2"), 404)  # a newline in the path too


def test_it_wraps_wrong_methods_in_a_405_envelope(writer, make_job):
    """DELETE, PUT and PATCH on endpoints are 405 with the method named.

    (PATCH on jobs/{job_id} itself changes the schedule: it is tested on the run list.)
    """
    make_job("a")
    for method, path in (("delete", "jobs/a"), ("put", "jobs/a"), ("patch", "jobs/a/runs")):
        payload = error_of(getattr(writer, method)(f"{P}/{path}"), 405)
        assert method.upper() in payload["message"]
        assert payload["data"] is None


def test_it_wraps_unsupported_media_types(writer, make_job):
    """A form-encoded body is a 415: the API speaks JSON only."""
    make_job("a")
    response = writer.post(f"{P}/jobs/batch", "action=pause", content_type="text/plain")
    assert "Unsupported media type" in error_of(response, 415)["message"]


def test_it_names_the_field_and_lists_the_errors_on_a_400(reader, db):
    """A validation error's data has the field and DRF's per-field errors."""
    payload = error_of(reader.get(f"{P}/heatmap", {"hours": "x", "bucket": "week"}), 400)
    assert payload["message"] == "hours: A valid integer is required."
    assert payload["data"] == {
        "field": "hours",
        "errors": {
            "hours": ["A valid integer is required."],
            "bucket": ['"week" is not a valid choice.'],
        },
    }


def test_it_answers_json_utf8_without_escapes(reader, make_job):
    """Chinese names go out as UTF-8 text."""
    make_job("cn", name="计算项目健康度")
    response = reader.get(f"{P}/jobs")
    assert response["Content-Type"] == "application/json"
    assert "计算项目健康度".encode() in response.content


def test_it_refuses_a_body_over_the_upload_limit_with_a_413_envelope(writer, make_job, settings):
    """Over DATA_UPLOAD_MAX_MEMORY_SIZE (3 MB here) is the API's 413, not Django's HTML 400."""
    make_job("a")
    body = '{"action": "trigger", "job_ids": ["' + "a" * 3_000_000 + '"]}'
    response = writer.post(f"{P}/jobs/batch", body, content_type="application/json")
    payload = error_of(response, 413)
    assert payload["data"] == {"max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
    assert not TriggerRequest.objects.exists()
