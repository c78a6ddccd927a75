"""Drop JobRun's index on job_id alone: the (job, started_at) index leads with the same column.

Dropped by name, found by introspection, instead of AlterField's table rebuild on SQLite
(a copy of every run). The foreign key constraint stays.
"""

import django.db.models.deletion
from django.db import migrations, models


def _single_job_indexes(schema_editor, model):
    constraints = schema_editor.connection.introspection.get_constraints(
        schema_editor.connection.cursor(), model._meta.db_table
    )
    return [
        name
        for name, info in constraints.items()
        if info["index"]
        and info["columns"] == ["job_id"]
        and not info["primary_key"]
        and not info["unique"]
        and not info["foreign_key"]
    ]


def drop_index(apps, schema_editor):
    model = apps.get_model("scheduler_monitor", "JobRun")
    for name in _single_job_indexes(schema_editor, model):
        schema_editor.execute(schema_editor._delete_index_sql(model, name))


def create_index(apps, schema_editor):
    model = apps.get_model("scheduler_monitor", "JobRun")
    if not _single_job_indexes(schema_editor, model):
        field = model._meta.get_field("job")
        schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))


class Migration(migrations.Migration):
    dependencies = [
        ("scheduler_monitor", "0009_scheduler_events"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="jobrun",
                    name="job",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="runs",
                        to="scheduler_monitor.jobdefinition",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_index, create_index)],
        ),
    ]
