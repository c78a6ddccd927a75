"""The audit trail's domain: recording, filtering and pruning entries."""

from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from scheduler_monitor import audit
from scheduler_monitor.models import AuditEntry


def test_it_records_a_system_actor_and_a_plain_user(db, django_user_model, make_job):
    """None is the system; a user alone counts as a session; the username outlives the user."""
    user = django_user_model.objects.create_user("ann")
    job = make_job("a")
    audit.audit_record(actor=None, action="silence", target="incident 4", after={"minutes": 30})
    audit.audit_record(actor=user, address="192.0.2.1", action="ack", job=job)
    user.delete()
    system, ack = AuditEntry.objects.order_by("id")
    assert (system.username, system.auth, system.target) == ("", "system", "incident 4")
    assert (ack.username, ack.auth, ack.address, ack.user_id) == (
        "ann",
        "session",
        "192.0.2.1",
        None,
    )


def test_it_prunes_entries_older_than_the_retention(db, make_job):
    """prune_job_runs drops entries older than --keep-failures-days (else --days)."""
    now = timezone.now()
    for age in (1, 40, 100):
        entry = audit.audit_record(actor=None, action="pause")
        AuditEntry.objects.filter(pk=entry.pk).update(at=now - timedelta(days=age))
    assert audit.audit_entries_prune(days=30, dry_run=True) == 2
    call_command("prune_job_runs", "--days", "30", "--keep-failures-days", "90")
    assert AuditEntry.objects.count() == 2
    call_command("prune_job_runs", "--days", "30")
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["pause"]
