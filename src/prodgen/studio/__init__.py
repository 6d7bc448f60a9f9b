"""prodgen studio: the web service behind ``prodgen serve`` (see docs/studio-design.md).

Each module has one job: ``db`` (tables, migrations), ``storage`` (content-addressed files),
``ingest`` (upload checks), ``auth`` (tokens, roles, sessions, CSRF), ``queue`` (huey, bounds,
requeue), ``worker`` (running jobs), ``api`` (REST routers), ``app`` (the FastAPI app).
Nothing heavy is imported here: the CLI imports this package only when ``serve`` runs.
"""
