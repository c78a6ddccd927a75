"""What a notification says: one incident change rendered as text, HTML and JSON, per language.

The texts live here (not in the gettext catalogue) because a message's language is the
channel's, not the request's, and the sender thread has no request.
"""

from django.urls import NoReverseMatch, reverse
from django.utils.html import escape

from scheduler_monitor import conf
from scheduler_monitor.models import Incident, IncidentEvent, IncidentEventKind

SCHEMA_VERSION = 1

TEXTS = {
    "en": {
        "opened": "firing",
        "resolved": "resolved",
        "manually_resolved": "resolved",
        "reminder": "still firing",
        "flapping": "flapping",
        "silence_ended": "still firing after a silence",
        "title": "[{status}] {rule} on {subject}",
        "scheduler": "the scheduler",
        "what": "What",
        "job": "Job",
        "since": "Since",
        "resolved_at": "Resolved",
        "numbers": "Numbers",
        "value": "value {value}, threshold {threshold}",
        "last_error": "Last error",
        "link": "Job page",
        "flapping_text": "{count} state changes in the last hour; further changes are not "
        "sent one by one until it settles.",
        "by": "by {who}",
    },
    "zh-hans": {
        "opened": "告警",
        "resolved": "已恢复",
        "manually_resolved": "已恢复",
        "reminder": "仍在告警",
        "flapping": "频繁波动",
        "silence_ended": "静默结束后仍在告警",
        "title": "[{status}] {rule}：{subject}",
        "scheduler": "调度器",
        "what": "告警内容",
        "job": "任务",
        "since": "开始时间",
        "resolved_at": "恢复时间",
        "numbers": "数值",
        "value": "当前值 {value}，阈值 {threshold}",
        "last_error": "最近错误",
        "link": "任务页面",
        "flapping_text": "最近一小时内状态变化 {count} 次；在稳定之前不再逐次通知。",
        "by": "操作人 {who}",
    },
}


def iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def first_line(text: str) -> str:
    """The last non-empty line of an error (a traceback's last line says what failed)."""
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else ""


def job_url(job_id: str | None) -> str | None:
    """The absolute URL of the job's dashboard page (None without BASE_URL or a job)."""
    base = conf.get("BASE_URL")
    if not base or not job_id:
        return None
    try:
        path = reverse("scheduler_monitor_job", args=[job_id])
    except NoReverseMatch:
        return None
    return base.rstrip("/") + path


def _number(value) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def event_payload(incident: Incident, event: IncidentEvent) -> dict:
    """The webhook body (schema version 1): the same for every language."""
    job = incident.job
    return {
        "version": SCHEMA_VERSION,
        "event": event.kind,
        "status": "resolved" if not incident.is_open else "firing",
        "at": iso(event.at),
        "incident": {
            "id": incident.pk,
            "key": incident.key,
            "rule": incident.rule,
            "kind": incident.kind,
            "severity": incident.severity,
            "state": incident.state,
            "message": incident.message,
            "opened_at": iso(incident.opened_at),
            "resolved_at": iso(incident.resolved_at),
            "acknowledged_at": iso(incident.acknowledged_at),
            "acknowledged_by": incident.acknowledged_by or None,
            "numbers": incident.numbers,
            "last_error": first_line(incident.last_error) or None,
            "flips_last_hour": event.details.get("flips"),
        },
        "job": (
            {
                "job_id": job.job_id,
                "job_name": job.name,
                "owner": job.owner,
                "category": job.category,
                "url": job_url(job.job_id),
            }
            if job is not None
            else None
        ),
    }


def event_lines(incident: Incident, event: IncidentEvent, language: str) -> tuple[str, list]:
    """The title and the (label, value) lines of a message in ``language``."""
    t = TEXTS.get(language, TEXTS["en"])
    job = incident.job
    subject = f"{job.name} ({job.job_id})" if job is not None else t["scheduler"]
    status = t[event.kind].upper() if language == "en" else t[event.kind]
    title = t["title"].format(status=status, rule=incident.rule, subject=subject)
    lines = [(t["what"], incident.message)]
    if job is not None:
        lines.append((t["job"], f"{job.name} ({job.job_id}), {job.owner or '-'} / {job.category}"))
    lines.append((t["since"], iso(incident.opened_at)))
    if incident.resolved_at is not None:
        resolved = iso(incident.resolved_at)
        if incident.resolved_by:
            resolved += " " + t["by"].format(who=incident.resolved_by)
        lines.append((t["resolved_at"], resolved))
    numbers = incident.numbers or {}
    if numbers.get("value") is not None:
        value = t["value"].format(
            value=_number(numbers.get("value")), threshold=_number(numbers.get("threshold"))
        )
        lines.append((t["numbers"], value))
    if event.kind == IncidentEventKind.FLAPPING:
        lines.append((t["flapping"], t["flapping_text"].format(count=event.details.get("flips"))))
    error = first_line(incident.last_error)
    if error:
        lines.append((t["last_error"], error))
    url = job_url(job.job_id if job else None)
    if url:
        lines.append((t["link"], url))
    return title, lines


def event_text(incident: Incident, event: IncidentEvent, language: str) -> tuple[str, str]:
    """Subject and plain-text body."""
    title, lines = event_lines(incident, event, language)
    body = "\n".join(f"{label}: {value}" for label, value in lines)
    return title, f"{title}\n\n{body}\n"


def event_html(incident: Incident, event: IncidentEvent, language: str) -> str:
    """The HTML body of an email (escaped; inline style, as mail clients drop style sheets)."""
    title, lines = event_lines(incident, event, language)
    rows = "".join(
        f'<tr><th style="text-align:left;padding-right:12px">{escape(label)}</th>'
        f"<td>{_html_value(label, value)}</td></tr>"
        for label, value in lines
    )
    return f"<h2>{escape(title)}</h2><table>{rows}</table>"


def _html_value(label: str, value) -> str:
    text = escape(str(value))
    if str(value).startswith(("http://", "https://")):
        return f'<a href="{text}">{text}</a>'
    return text


def slack_payload(incident: Incident, event: IncidentEvent, language: str) -> dict:
    """A Slack incoming-webhook body (also taken by Mattermost and Rocket.Chat): compact."""
    title, lines = event_lines(incident, event, language)
    colour = (
        "#2eb886"
        if not incident.is_open
        else ("#d00000" if incident.severity == "critical" else "#daa038")
    )
    return {
        "text": title,
        "attachments": [
            {
                "color": colour,
                "fallback": title,
                "fields": [
                    {"title": label, "value": str(value), "short": False} for label, value in lines
                ],
            }
        ],
    }


def pagerduty_payload(incident: Incident, event: IncidentEvent, language: str) -> dict:
    """A PagerDuty Events API v2 event, without its routing key (added when sent).

    One alert per incident (``dedup_key``): changes re-trigger it, resolving resolves it.
    """
    title, _lines = event_lines(incident, event, language)
    job = incident.job
    url = job_url(job.job_id if job else None)
    body = {
        "event_action": "trigger" if incident.is_open else "resolve",
        "dedup_key": f"scheduler-monitor-incident-{incident.pk}",
        "payload": {
            "summary": title[:1024],
            "source": job.job_id if job else "scheduler",
            "severity": incident.severity,
            "class": incident.rule,
            "group": job.category if job else "scheduler",
            "custom_details": {
                "message": incident.message,
                "numbers": incident.numbers,
                "last_error": first_line(incident.last_error) or None,
                "opened_at": iso(incident.opened_at),
                "event": event.kind,
            },
        },
    }
    if url:
        body["links"] = [{"href": url, "text": "Job page"}]
    return body


def render_message(incident: Incident, event: IncidentEvent, kind: str, language: str) -> dict:
    """Everything a sender needs, frozen into the outbox row at the time of the change."""
    subject, text = event_text(incident, event, language)
    if kind == "email":
        return {"subject": subject, "text": text, "html": event_html(incident, event, language)}
    if kind == "slack":
        return {"body": slack_payload(incident, event, language)}
    if kind == "pagerduty":
        return {"body": pagerduty_payload(incident, event, language)}
    return {"body": event_payload(incident, event)}


TEST_TEXTS = {
    "en": ("[TEST] scheduler monitor", "A test message from the scheduler monitor: it works."),
    "zh-hans": ("[测试] 调度监控", "来自调度监控的测试消息：此通知渠道工作正常。"),
}


def test_payload(channel) -> dict:
    """A message that only proves the channel delivers (the admin's "send test" action)."""
    subject, text = TEST_TEXTS.get(channel.language, TEST_TEXTS["en"])
    if channel.kind == "email":
        return {"subject": subject, "text": text + "\n", "html": f"<p>{escape(text)}</p>"}
    if channel.kind == "slack":
        return {"body": {"text": f"{subject}: {text}"}}
    if channel.kind == "pagerduty":
        return {
            "body": {
                "event_action": "trigger",
                "dedup_key": f"scheduler-monitor-test-{channel.pk}",
                "payload": {
                    "summary": f"{subject}: {text}",
                    "source": "scheduler",
                    "severity": "info",
                },
            }
        }
    return {"body": {"version": SCHEMA_VERSION, "event": "test", "status": "test", "text": text}}
