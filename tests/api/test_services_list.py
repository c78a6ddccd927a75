"""GET services/list: declared callables, the jobs using them, job-store presence."""

from tests.api.helpers import data_of


def test_it_groups_jobs_by_callable(reader, make_job, store_job):
    """One entry per callable with its jobs, owners, categories and store presence."""
    make_job("a", callable_path="pkg.jobs.sync", owner="SRE", category="Ops")
    make_job("b", callable_path="pkg.jobs.sync", owner="Data", category="Ops", paused=True)
    make_job("c", callable_path="pkg.jobs.report", owner="BI", category="Analytics")
    make_job("d", callable_path="pkg.jobs.gone", removed=True)
    store_job("a")
    store_job("c")
    data = data_of(reader.get("/api/v1/scheduler/services/list"))
    assert data == {
        "total": 2,
        "services": [
            {
                "callable": "pkg.jobs.report",
                "job_ids": ["c"],
                "owner": "BI",
                "category": "Analytics",
                "in_job_store": True,
                "jobs": [{"job_id": "c", "paused": False, "in_job_store": True}],
            },
            {
                "callable": "pkg.jobs.sync",
                "job_ids": ["a", "b"],
                "owner": "Data, SRE",
                "category": "Ops",
                "in_job_store": False,
                "jobs": [
                    {"job_id": "a", "paused": False, "in_job_store": True},
                    {"job_id": "b", "paused": True, "in_job_store": False},
                ],
            },
        ],
    }
