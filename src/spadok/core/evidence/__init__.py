"""Evidence: the custody log's hash chain, the archive's signatures, dossiers and their check.

Django-free: ``spadok verify`` (or ``python -m spadok.core.evidence``) checks a
dossier on any machine with nothing but the package and the public key.
"""

from spadok.core.evidence.chain import (
    GENESIS,
    Finding,
    canonical,
    check_chains,
    entry_hash,
    make_entry,
)
from spadok.core.evidence.dossier import DossierContent, PayloadFile, Written, write_dossier
from spadok.core.evidence.verify import CODES, Report, format_report, verify_dossier

__all__ = [
    "CODES",
    "GENESIS",
    "DossierContent",
    "Finding",
    "PayloadFile",
    "Report",
    "Written",
    "canonical",
    "check_chains",
    "entry_hash",
    "format_report",
    "make_entry",
    "verify_dossier",
    "write_dossier",
]
