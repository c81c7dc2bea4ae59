"""A tus client in its own process (tuspy), for the resume test: prints each offset.

    python -m tests.uploads.tus_client URL FILE STORE --cookie C --csrf T [--chunk N] [--pause S]

``STORE`` is tuspy's URL store (keyed by the file's fingerprint): a second run
with the same store resumes the upload the first one started.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from tusclient import client
    from tusclient.storage import filestorage

    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("file", type=Path)
    p.add_argument("store", type=Path)
    p.add_argument("--cookie", default="")
    p.add_argument("--csrf", default="")
    p.add_argument("--token", default="")
    p.add_argument("--chunk", type=int, default=1024 * 1024)
    p.add_argument("--pause", type=float, default=0.0)
    args = p.parse_args(argv)
    headers = {}
    if args.cookie:
        headers["Cookie"] = args.cookie
    if args.csrf:
        headers["X-CSRFToken"] = args.csrf
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    tus = client.TusClient(args.url, headers=headers)
    uploader = tus.uploader(
        str(args.file),
        chunk_size=args.chunk,
        metadata={"filename": args.file.name},
        store_url=True,
        url_storage=filestorage.FileStorage(str(args.store)),
        upload_checksum=True,
    )
    print(f"start {uploader.url} {uploader.offset}", flush=True)
    size = uploader.get_file_size()
    while uploader.offset < size:
        uploader.upload_chunk()
        print(f"offset {uploader.offset}", flush=True)
        if args.pause:
            time.sleep(args.pause)
    print(f"done {uploader.url}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
