"""The API's JSON parser: a body it cannot read is a 400 envelope, never a server error."""

from scheduler_monitor.models import TriggerRequest
from tests.api.helpers import error_of

P = "/api/v1/scheduler"


def test_it_refuses_deeply_nested_json_with_a_400_envelope(writer, make_job):
    """100,000 nested brackets would overflow the parser's recursion: a 400, not a 500."""
    make_job("a")
    deep = "[" * 100_000 + "]" * 100_000
    for url in (f"{P}/jobs/batch", f"{P}/jobs/a/trigger"):
        payload = error_of(writer.post(url, deep, content_type="application/json"), 400)
        assert "nested too deeply" in payload["message"]
    assert not TriggerRequest.objects.exists()
