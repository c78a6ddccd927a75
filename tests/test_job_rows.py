"""Job rows kept in step: only the jobs whose columns changed are built again."""

from datetime import timedelta

from django.utils import timezone
from django_apscheduler.models import DjangoJob

from scheduler_monitor import job_rows, jobs
from scheduler_monitor.models import JobDefinition

FIELDS = ("job_id", "name", "category", "last_status", "last_run_at", "paused")


def test_it_reads_the_jobs_in_display_order_with_their_current_values(make_job, db):
    make_job(job_id="b", category="x")
    make_job(job_id="a", category="y")
    make_job(job_id="c", category="x")
    jobs = job_rows.current_jobs(FIELDS)
    assert [(j.job_id, j.category) for j in jobs] == [("b", "x"), ("c", "x"), ("a", "y")]


def test_an_unchanged_job_is_not_built_again(make_job, django_assert_num_queries):
    first = [make_job(job_id=f"j{n}") for n in range(5)]
    built = job_rows.current_jobs(FIELDS)
    assert [j.pk for j in built] == [j.pk for j in first]
    with django_assert_num_queries(1):  # the text rows only
        again = job_rows.current_jobs(FIELDS)
    assert all(a is b for a, b in zip(again, built, strict=True))


def test_a_changed_job_is_built_again_with_its_new_values(make_job, django_assert_num_queries):
    jobs = [make_job(job_id=f"j{n}") for n in range(3)]
    before = job_rows.current_jobs(FIELDS)
    at = timezone.now() - timedelta(minutes=3)
    JobDefinition.objects.filter(pk=jobs[1].pk).update(last_status="failure", last_run_at=at)
    with django_assert_num_queries(2):  # the text rows, then the one changed job
        after = job_rows.current_jobs(FIELDS)
    assert after[0] is before[0] and after[2] is before[2]
    assert after[1] is not before[1]
    assert (after[1].last_status, after[1].last_run_at) == ("failure", at)


def test_removed_and_new_jobs_leave_and_join_the_list(make_job):
    kept, dropped = make_job(job_id="a"), make_job(job_id="b")
    job_rows.current_jobs(FIELDS)
    JobDefinition.objects.filter(pk=dropped.pk).update(removed=True)
    added = make_job(job_id="c")
    assert [j.pk for j in job_rows.current_jobs(FIELDS)] == [kept.pk, added.pk]


def test_each_field_set_is_kept_apart(make_job, django_assert_num_queries):
    make_job(owner="ops")
    job_rows.current_jobs(FIELDS)
    (job,) = job_rows.current_jobs(("job_id", "owner"))
    with django_assert_num_queries(0):
        assert job.owner == "ops"  # loaded, not deferred


def test_many_changed_jobs_are_built_in_one_query(make_job, django_assert_num_queries):
    jobs = [make_job() for _ in range(job_rows.READ_ALL_ABOVE + 20)]
    job_rows.current_jobs(FIELDS)
    JobDefinition.objects.update(last_status="success")
    with django_assert_num_queries(2):
        built = job_rows.current_jobs(FIELDS)
    assert len(built) == len(jobs)
    assert {j.last_status for j in built} == {"success"}


def _stored(job_id, at):
    return DjangoJob.objects.create(id=job_id, next_run_time=at, job_state=b"")


def test_next_run_times_equal_the_job_store_after_changes(db, django_assert_num_queries):
    at = timezone.now().replace(microsecond=123456)
    _stored("a", at)
    _stored("b", None)  # paused
    assert job_rows.current_next_run_times() == jobs.job_next_run_times()
    with django_assert_num_queries(1):  # nothing changed: the text only
        assert job_rows.current_next_run_times() == {"a": at, "b": None}
    DjangoJob.objects.filter(id="a").update(next_run_time=at + timedelta(minutes=1))
    DjangoJob.objects.filter(id="b").delete()
    _stored("c", at)
    with django_assert_num_queries(2):  # the text, then the two changed
        assert job_rows.current_next_run_times() == {"a": at + timedelta(minutes=1), "c": at}
    assert job_rows.current_next_run_times() == jobs.job_next_run_times()
