"""The audit trail: every manual action leaves an entry (who, when, from where, before/after).

Entries are only ever added (``audit_record``) and pruned by age with the runs
(``audit_entries_prune``); nothing edits or deletes one otherwise.

    from scheduler_monitor.audit import audit_record, request_actor

    audit_record(actor=request_actor(request), action="pause", job=job,
                 before={"paused": False}, after={"paused": True})
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from scheduler_monitor import conf
from scheduler_monitor.models import AuditAuth, AuditEntry, JobDefinition

ACTIONS = (
    "trigger",
    "pause",
    "resume",
    "schedule_change",
    "schedule_reset",
    "incident_acknowledge",
    "incident_resolve",
    "silence_create",
    "silence_change",
    "silence_delete",
    "window_create",
    "window_change",
    "window_delete",
)


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (None for the system), how they authenticated, from which address.

    ``name`` names an actor without a user row (a script, a test); a user's name wins.
    """

    user: object | None
    auth: str = AuditAuth.SESSION
    address: str = ""
    name: str = ""

    @property
    def username(self) -> str:
        return self.user.get_username() if self.user is not None else self.name


SYSTEM = Actor(user=None, auth=AuditAuth.SYSTEM)


def client_address(meta: dict) -> str:
    """The client's address: REMOTE_ADDR, or X-Forwarded-For behind trusted proxies only.

    With ``AUDIT_TRUSTED_PROXIES = N`` the address is the one the outermost of the N
    proxies appended (N-th from the right); entries left of it are the client's own claim
    and could be forged, so they are never taken.
    """
    hops = conf.get("AUDIT_TRUSTED_PROXIES")
    forwarded = [a.strip() for a in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if hops and forwarded:
        return forwarded[-min(hops, len(forwarded))][:64]
    return meta.get("REMOTE_ADDR", "")[:64]


def request_actor(request) -> Actor:
    """The actor of a Django or DRF request; a DRF token login counts as ``token``."""
    user = getattr(request, "user", None)
    if user is not None and not user.is_authenticated:
        user = None
    # DRF sets request.auth to the token for token logins and to None for sessions.
    auth = AuditAuth.TOKEN if getattr(request, "auth", None) is not None else AuditAuth.SESSION
    return Actor(user=user, auth=auth, address=client_address(request.META))


def audit_record(
    *,
    actor: Actor | object | None,
    action: str,
    address: str | None = None,
    job: JobDefinition | None = None,
    before: dict | None = None,
    after: dict | None = None,
    target: str = "",
) -> AuditEntry:
    """Add one entry; ``actor`` is an ``Actor``, a user, or None for the system."""
    if not isinstance(actor, Actor):
        actor = SYSTEM if actor is None else Actor(user=actor)
    return AuditEntry.objects.create(
        user=actor.user,
        username=actor.username[:150],
        auth=actor.auth,
        address=(actor.address if address is None else address)[:64],
        action=action[:64],
        job=job,
        target=target[:200],
        before=before or {},
        after=after or {},
    )


def audit_entries(
    *,
    job_id: str | None = None,
    username: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
) -> QuerySet[AuditEntry]:
    """Entries newest first, filtered by job id, username, action and time."""
    entries = AuditEntry.objects.select_related("job")
    if job_id:
        entries = entries.filter(job__job_id=job_id)
    if username:
        entries = entries.filter(username=username)
    if action:
        entries = entries.filter(action=action)
    if since is not None:
        entries = entries.filter(at__gte=since)
    return entries


def audit_entries_prune(*, days: int, now: datetime | None = None, dry_run: bool = False) -> int:
    """Delete entries older than ``days`` days; return how many (would) go."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = AuditEntry.objects.filter(at__lt=cutoff)
    if dry_run:
        return old.count()
    deleted, _ = old.delete()
    return deleted
