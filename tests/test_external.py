"""require_binary: skip without the binary, fail instead when CI requires externals."""

import pytest

from tests.external import require_binary


def test_it_returns_the_path_of_an_installed_binary():
    """A binary on PATH is found."""
    assert require_binary("sh").endswith("/sh")


def test_it_skips_when_the_binary_is_missing(monkeypatch):
    """Missing and not required: the test is skipped, naming the binary."""
    monkeypatch.delenv("SCHEDULER_MONITOR_REQUIRE_EXTERNAL", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-such-binary-here"):
        require_binary("no-such-binary-here")


def test_it_fails_when_a_required_binary_is_missing(monkeypatch):
    """SCHEDULER_MONITOR_REQUIRE_EXTERNAL=1 turns the skip into a failure."""
    monkeypatch.setenv("SCHEDULER_MONITOR_REQUIRE_EXTERNAL", "1")
    with pytest.raises(pytest.fail.Exception, match="no-such-binary-here"):
        require_binary("no-such-binary-here")
