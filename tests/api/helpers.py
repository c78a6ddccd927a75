"""Assertions and names shared by the API tests."""

VIEW, TRIGGER, CHANGE = "view_jobdefinition", "trigger_job", "change_jobdefinition"


def data_of(response, code: int = 200, message: str | None = "success"):
    """Assert the envelope and the HTTP status, return ``data``."""
    payload = response.json()
    assert response.status_code == code, payload
    assert set(payload) == {"code", "message", "data"}
    assert payload["code"] == code
    if message is not None:
        assert payload["message"] == message
    return payload["data"]


def error_of(response, code: int) -> dict:
    """Assert an error envelope, return the whole payload."""
    payload = response.json()
    assert response.status_code == code, payload
    assert payload["code"] == code
    assert payload["message"] and payload["message"] != "success"
    return payload
