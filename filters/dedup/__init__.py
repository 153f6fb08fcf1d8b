"""Exact, URL and MinHash near-duplicate detection: pure functions (the Beam wiring is in pipelines)."""
