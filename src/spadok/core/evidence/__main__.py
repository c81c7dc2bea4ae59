"""``python -m spadok.core.evidence PATH [--key KEY] [--json]``: check a dossier offline."""

from __future__ import annotations

import argparse
import json
import sys

from spadok.core.evidence.verify import format_report, verify_dossier


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spadok.core.evidence")
    parser.add_argument("path", metavar="PATH")
    parser.add_argument(
        "--key", help="the archive's public key (PEM file) or its sha256: fingerprint"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = verify_dossier(args.path, key=args.key)
    print(json.dumps(report.as_dict(), ensure_ascii=False) if args.json else format_report(report))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
