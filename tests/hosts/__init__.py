"""Tests across real processes: two web hosts, a worker, Redis and an S3 server (issue 16)."""
