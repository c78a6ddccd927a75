from django.db import migrations, models
from django.db.models import Max

# The bounds the histogram starts from when the migration runs (the setting's default, or
# the project's value); later changes to the setting are handled by histogram.py.
DEFAULT_BOUNDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600)


def backfill(apps, schema_editor):
    """Fill last_success_at and the duration histogram from the runs still stored."""
    from django.conf import settings
    from prometheus_client.utils import floatToGoString

    JobDefinition = apps.get_model("scheduler_monitor", "JobDefinition")
    JobRun = apps.get_model("scheduler_monitor", "JobRun")
    bounds = getattr(settings, "SCHEDULER_MONITOR", {}).get("HISTOGRAM_BUCKETS", DEFAULT_BOUNDS)
    last_success = dict(
        JobRun.objects.filter(status="success")
        .order_by()
        .values_list("job_id")
        .annotate(at=Max("started_at"))
    )
    for job_pk in JobDefinition.objects.values_list("pk", flat=True):
        durations = JobRun.objects.filter(
            job_id=job_pk, status__in=("success", "failure"), duration_ms__isnull=False
        ).values_list("duration_ms", flat=True)
        counts = dict.fromkeys((floatToGoString(b) for b in bounds), 0)
        counts["+Inf"] = 0
        for duration_ms in durations.iterator(chunk_size=5000):
            for bound in bounds:
                if duration_ms / 1000.0 <= bound:
                    counts[floatToGoString(bound)] += 1
            counts["+Inf"] += 1
        JobDefinition.objects.filter(pk=job_pk).update(
            duration_buckets=counts if counts["+Inf"] else {},
            last_success_at=last_success.get(job_pk),
        )


class Migration(migrations.Migration):

    dependencies = [
        ('scheduler_monitor', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='jobdefinition',
            name='duration_buckets',
            field=models.JSONField(blank=True, default=dict, verbose_name='duration histogram'),
        ),
        migrations.AddField(
            model_name='jobdefinition',
            name='last_success_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='last success'),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
