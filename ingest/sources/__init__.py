"""Where records come from: files, folders, standard input, FIFOs (import from ``ingest.sources.local``)."""
