"""Worker heartbeats: how the reaper tells a dead worker from a slow job."""

from django.db import models


class WorkerHeartbeat(models.Model):
    worker_id = models.CharField(primary_key=True, max_length=64)
    host = models.CharField(max_length=255)
    pid = models.IntegerField()
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.worker_id} on {self.host}:{self.pid}"


class Schedule(models.Model):
    """When a periodic job is next due; one atomic update decides which worker queues it."""

    name = models.CharField(primary_key=True, max_length=64)
    next_run_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.next_run_at:%Y-%m-%d %H:%M}"
