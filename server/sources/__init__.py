"""I/O adapters of connections and sources (API.md §3.5): where a source's bytes come from
and how they are parsed. No engine writes and no meta.db here — the service layer
(server/service/sources.py, imports.py, sinks.py) drives these.

    errors     the typed failures a source can meet, each with the table status it sets
    spec       a source's connection_table_params, validated (format, options, location)
    paths      path safety for the LOCAL sandbox: no '..', absolute paths, NUL or symlinks
    backends   LOCAL (uploaded file, sandbox directory) and S3/GCS (boto3) objects
    formats    CSV/TSV, JSON Lines and Parquet readers over gzip/zip, in bounded batches
    writers    CSV and Parquet writers of an analytics_report export
"""
