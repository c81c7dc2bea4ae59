"""Background jobs of accounts. Jobs take ids and are idempotent."""

from __future__ import annotations

from django_tasks import task


@task(queue_name="default")
def rewrite_contributor_metadata(user_id: int) -> int:
    """A credit changed: each of the person's captures gets its record.json again."""
    from spadok.catalogue.contributions import contributor_rewrite_metadata

    return contributor_rewrite_metadata(user_id=user_id)
