"""Durable storage: the fileio seam, the write-ahead log, snapshots and the checker."""
