"""The ``waflens`` command line: ``main`` is in ``ingest.cli.main``; ``python -m ingest.cli`` runs it."""
