"""The demo project's ~32 monitored jobs: short sleeps, occasional real exceptions.

Each job does a little "work" (sleeping a realistic, varying time) and some fail now and
then, so the dashboard has something to show a few seconds after start.
"""

import random
import time

from scheduler_monitor.recording import record_measurement
from scheduler_monitor.registry import monitored_job

# (job_id, display name, owner, category, interval seconds, typical ms, failure probability)
# fmt: off
DEMO_JOBS = [
    ("calculate_project_health", "计算项目健康度", "Backend Platform", "Project Health", 20, 400, 0.03),
    ("refresh_health_scores", "Refresh health scores", "Backend Platform", "Project Health", 30, 250, 0.02),
    ("detect_stale_projects", "Detect stale projects", "Backend Platform", "Project Health", 45, 180, 0.05),
    ("recompute_risk_index", "Recompute risk index", "Data Science", "Project Health", 60, 900, 0.04),
    ("send_alert_notifications", "发送告警通知", "SRE", "Notifications", 15, 120, 0.08),
    ("send_daily_digest", "Send daily digest", "Growth", "Notifications", 60, 600, 0.03),
    ("push_mobile_notifications", "Push mobile notifications", "Mobile", "Notifications", 20, 150, 0.06),
    ("retry_failed_webhooks", "Retry failed webhooks", "Integrations", "Notifications", 30, 200, 0.12),
    ("sync_jira_issues", "同步 Jira 工单", "Integrations", "Integrations", 30, 700, 0.10),
    ("sync_github_repositories", "Sync GitHub repositories", "Integrations", "Integrations", 45, 800, 0.07),
    ("import_ldap_users", "Import LDAP users", "Identity", "Integrations", 60, 500, 0.04),
    ("poll_payment_gateway", "Poll payment gateway", "Billing", "Integrations", 20, 300, 0.05),
    ("generate_invoices", "生成账单", "Billing", "Billing", 60, 1200, 0.02),
    ("reconcile_payments", "Reconcile payments", "Billing", "Billing", 45, 900, 0.03),
    ("expire_trial_accounts", "Expire trial accounts", "Billing", "Billing", 60, 150, 0.01),
    ("charge_subscriptions", "Charge subscriptions", "Billing", "Billing", 30, 450, 0.04),
    ("aggregate_usage_metrics", "汇总使用指标", "Data Platform", "Analytics", 30, 1000, 0.03),
    ("build_daily_reports", "Build daily reports", "Data Platform", "Analytics", 60, 1500, 0.05),
    ("refresh_materialized_views", "Refresh materialized views", "Data Platform", "Analytics", 45, 700, 0.02),
    ("export_to_warehouse", "Export to warehouse", "Data Platform", "Analytics", 60, 1300, 0.06),
    ("cleanup_expired_sessions", "清理过期会话", "Backend Platform", "Maintenance", 30, 80, 0.01),
    ("vacuum_audit_logs", "Vacuum audit logs", "DBA", "Maintenance", 60, 600, 0.02),
    ("rotate_api_keys", "Rotate API keys", "Security", "Maintenance", 60, 200, 0.02),
    ("purge_temp_files", "Purge temp files", "SRE", "Maintenance", 20, 90, 0.01),
    ("scan_dependencies", "扫描依赖漏洞", "Security", "Security", 60, 1100, 0.05),
    ("check_certificate_expiry", "Check certificate expiry", "Security", "Security", 45, 150, 0.02),
    ("detect_suspicious_logins", "Detect suspicious logins", "Security", "Security", 20, 350, 0.04),
    ("audit_permissions", "Audit permissions", "Identity", "Security", 60, 500, 0.03),
    ("warm_search_index", "预热搜索索引", "Search", "Search", 30, 650, 0.03),
    ("reindex_documents", "Reindex documents", "Search", "Search", 60, 1400, 0.07),
    ("update_autocomplete", "Update autocomplete", "Search", "Search", 45, 300, 0.02),
    ("compact_search_shards", "Compact search shards", "Search", "Search", 60, 900, 0.04),
]
# fmt: on


class DemoJobError(RuntimeError):
    """A failure a demo job raises now and then, like a real dependency would."""


FAILURE_MESSAGES = [
    "upstream returned HTTP 503",
    "connection reset by peer",
    "timed out after 30s waiting for lock",
    "invalid response payload: missing field 'id'",
]


DURATION_SIGMA = 0.35  # spread of the log-normal durations


def simulated_duration_ms(typical_ms: float) -> float:
    """A log-normal duration around the typical one, like real job timings."""
    return typical_ms * random.lognormvariate(0, DURATION_SIGMA)


def make_demo_job(job_id: str, typical_ms: float, failure_probability: float):
    def demo_job():
        if job_id == "send_alert_notifications":
            gateway_ms = simulated_duration_ms(typical_ms * 0.6)
            time.sleep(gateway_ms / 1000)
            record_measurement("gateway_response_ms", gateway_ms)
            time.sleep(simulated_duration_ms(typical_ms * 0.4) / 1000)
        else:
            time.sleep(simulated_duration_ms(typical_ms) / 1000)
        if random.random() < failure_probability:
            raise DemoJobError(f"{job_id}: {random.choice(FAILURE_MESSAGES)}")

    demo_job.__name__ = demo_job.__qualname__ = job_id
    demo_job.__module__ = __name__
    # How it behaves live, so seed_demo_runs writes a history that looks the same.
    demo_job.demo_profile = {
        "typical_ms": typical_ms,
        "sigma": DURATION_SIGMA,
        "failure_rate": failure_probability,
    }
    return demo_job


for _job_id, _name, _owner, _category, _seconds, _typical, _failure in DEMO_JOBS:
    globals()[_job_id] = monitored_job(
        _job_id,
        name=_name,
        owner=_owner,
        category=_category,
        description=f"Demo job: about {_typical} ms of work every {_seconds}s.",
        seconds=_seconds,
    )(make_demo_job(_job_id, _typical, _failure))
