"""``schedtui demo``: a real scheduler with the companion and sample jobs, on an embedded
SQLite database. ``jobs`` holds the job functions (imported by the demo's scheduler)."""
