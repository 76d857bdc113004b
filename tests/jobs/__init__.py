"""Tests of the back office: the job engine, 我的任务, the schedule, and real Celery workers on Redis."""
