"""Run a real Prometheus server on 127.0.0.1 and query its HTTP API."""

import contextlib
import json
import math
import subprocess
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from tests.external import require_binary
from tests.live_app import free_port, served, wait_until

DEPLOY = Path(__file__).resolve().parent.parent.parent / "deploy"


def scrape_config(*, target: str, token_file: Path, interval: str = "1s") -> dict:
    """deploy/prometheus.yml with our target, token file, rules and a short interval."""
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": interval, "evaluation_interval": interval}
    config["rule_files"] = [str(DEPLOY / "scheduler_monitor.rules.yml")]
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [target]}]
        job["authorization"]["credentials_file"] = str(token_file)
    return config


class Prometheus:
    def __init__(self, base: str):
        self.base = base

    def api(self, path: str, **params) -> dict:
        query = urllib.parse.urlencode(params)
        request = urllib.request.Request(f"{self.base}/api/v1/{path}?{query}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return json.load(response)
        except urllib.error.HTTPError as exc:
            return json.load(exc)

    def query(self, expr: str) -> dict:
        """Run an instant query; return the whole API answer (status, data or error)."""
        return self.api("query", query=expr)

    def values(self, expr: str) -> list[float]:
        answer = self.query(expr)
        assert answer["status"] == "success", (expr, answer)
        data = answer["data"]
        if data["resultType"] == "scalar":
            return [float(data["result"][1])]
        return [float(item["value"][1]) for item in data["result"]]

    def value(self, expr: str) -> float | None:
        values = self.values(expr)
        assert len(values) <= 1, (expr, values)
        return values[0] if values else None

    def wait_for_value(self, expr: str, predicate, *, timeout: float = 30) -> float:
        def check():
            value = self.value(expr)
            return value if value is not None and predicate(value) else None

        return wait_until(check, timeout=timeout, what=f"{expr} to satisfy the condition")

    def finite(self, value: float | None) -> bool:
        return value is not None and math.isfinite(value)


@contextlib.contextmanager
def prometheus_server(config: dict):
    """Start Prometheus with ``config`` in a temporary directory; yield a client."""
    binary = require_binary("prometheus")
    promtool = require_binary("promtool")
    with tempfile.TemporaryDirectory() as tmp:
        config_file = Path(tmp) / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config))
        check = subprocess.run(
            [promtool, "check", "config", str(config_file)], capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout + check.stderr
        port = free_port()
        with open(Path(tmp) / "prometheus.log", "wb") as log:
            process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config_file}",
                    f"--storage.tsdb.path={Path(tmp) / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmp,
            )
            base = f"http://127.0.0.1:{port}"
            with served(
                process,
                what="prometheus",
                ready_url=f"{base}/-/ready",
                read_log=(Path(tmp) / "prometheus.log").read_text,
                ready=(200,),
            ):
                yield Prometheus(base)
