"""The admin-hosted dashboard: views, URLs, HTML builders, charts and value formatting."""
