"""Batch jobs: JSONL in, JSONL out, resumable, with progress and a summary (``inferopt batch run``)."""
