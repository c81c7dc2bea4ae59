"""Long-term preservation: an OCFL 1.1 store over any storage root, its fixity audit
and replica repair, and BagIt export for transfers to other archives."""

from spadok.core.preservation.audit import AuditReport, Issue, audit, sync_replicas
from spadok.core.preservation.bagit import export_bag
from spadok.core.preservation.ocfl import OcflError, OcflStore

__all__ = ["AuditReport", "Issue", "OcflError", "OcflStore", "audit", "export_bag", "sync_replicas"]
