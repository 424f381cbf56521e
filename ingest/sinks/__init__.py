"""Where enriched documents go: the ``Sink`` contract (``base``), the Parquet lake, OpenSearch, and the
dead-letter store for rejected records."""
