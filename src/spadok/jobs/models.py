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
