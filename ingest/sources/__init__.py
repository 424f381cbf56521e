"""Where records come from: local files, folders, standard input, FIFOs (``local``); S3 objects (``s3``)."""
