"""Step logic: one module per pipeline step, from ingest to publish."""
