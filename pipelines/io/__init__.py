"""Readers (WARC, JSONL, Parquet, text) that yield Documents, and the deterministic Parquet shard writer."""
