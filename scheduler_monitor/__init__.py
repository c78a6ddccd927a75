"""Record, aggregate and show every run of a Django project's scheduled jobs."""
