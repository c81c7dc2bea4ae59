"""Errors a user can cause, each with a stable code and advice.

The codes are part of the public interface: scripts match on them, and the
site shows the advice to volunteers. Keep them as data here so that a code
never changes meaning and every message says what to do next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# code -> (what is wrong, what to do). "{detail}" is filled in per case.
CODES: dict[str, tuple[str, str]] = {
    "input.not_found": (
        "The file or folder {detail} does not exist.",
        "Check the path and try again.",
    ),
    "input.unreadable": (
        "The file {detail} cannot be read.",
        "Check that the file is not open elsewhere and that you may read it.",
    ),
    "input.empty": (
        "The file {detail} is empty.",
        "Export the scan again from your app; the export may have been interrupted.",
    ),
    "input.too_large": (
        "The file is too large: {detail}.",
        "Split the scan, or ask the archive's operator to raise the limit.",
    ),
    "input.no_model": (
        "No 3D model was found in {detail}.",
        "Upload a finished scan (GLB, glTF, OBJ, PLY, STL, LAS/LAZ, E57, ...), "
        "or a zip that contains one.",
    ),
    "format.unknown": (
        "The format of {detail} was not recognised.",
        "Export the scan as GLB, OBJ, PLY, STL, LAS/LAZ or E57 and upload that.",
    ),
    "format.unsupported": (
        "{detail}",
        "Export the scan in another format (GLB, OBJ, PLY) and upload that.",
    ),
    "format.corrupt": (
        "The file is damaged or incomplete: {detail}.",
        "Export the scan again from your app, or upload the original file "
        "if this one was converted.",
    ),
    "format.missing_file": (
        "The model refers to a file that is missing: {detail}.",
        "Upload the whole export folder, or zip the model together with its "
        "material (.mtl), .bin and texture files.",
    ),
    "format.compression_unsupported": (
        "The model uses a compression this archive cannot decode: {detail}.",
        "Export the scan without mesh compression and upload that.",
    ),
    "geometry.empty": (
        "The file contains no geometry: {detail}.",
        "Export the scan again; the export may have failed or held only an empty scene.",
    ),
    "geometry.invalid": (
        "The geometry is invalid: {detail}.",
        "Repair the model in the app that made it (or in MeshLab/Blender) and export it again.",
    ),
    "limit.vertices": (
        "The model has too many vertices or points: {detail}.",
        "Decimate the model before upload, or ask the archive's operator to raise the limit.",
    ),
    "zip.corrupt": (
        "The zip archive is damaged: {detail}.",
        "Create the zip again and upload it again.",
    ),
    "zip.encrypted": (
        "The zip archive is password-protected: {detail}.",
        "Upload an archive without a password.",
    ),
    "zip.unsafe_path": (
        "The zip archive contains a file that would be written outside its folder: {detail}.",
        "Create the zip again from the export folder itself.",
    ),
    "zip.too_many_entries": (
        "The zip archive has too many files: {detail}.",
        "Split it into several zips, one per scan.",
    ),
    "zip.bomb": (
        "The zip archive unpacks to far more data than it holds: {detail}.",
        "Upload the files themselves, or a zip made by an ordinary tool.",
    ),
    "zip.too_deep": (
        "The zip archive contains zips nested too deeply: {detail}.",
        "Unpack the inner archives and upload the files directly.",
    ),
    "storage.unavailable": (
        "The archive's storage cannot be reached: {detail}.",
        "Try again later; the archive's operator has been told in the logs.",
    ),
    "processing.failed": (
        "Processing failed unexpectedly: {detail}.",
        "The original is safe. Try again later, or report the capture id to the archive.",
    ),
    # Resumable uploads (tus 1.0 at /api/uploads/); the HTTP status is in uploads/errors.py.
    "upload.auth_required": (
        "You must be signed in to upload.",
        "Sign in and try again, or send a personal API token as 'Authorization: Bearer TOKEN'.",
    ),
    "upload.csrf_failed": (
        "The upload was refused because the page's security token is missing or old.",
        "Reload the upload page and try again; your upload resumes where it stopped.",
    ),
    "upload.too_large": (
        "The file is too large: {detail}.",
        "Split the scan, or ask the archive's operator to raise the limit.",
    ),
    "upload.quota": (
        "You have reached your daily upload allowance: {detail}.",
        "Try again tomorrow, or ask the archive's operator to raise your allowance.",
    ),
    "upload.not_found": (
        "There is no such upload: {detail}.",
        "Start the upload again from the beginning.",
    ),
    "upload.expired": (
        "The upload was not finished in time and its part was deleted: {detail}.",
        "Start the upload again from the beginning.",
    ),
    "upload.offset_mismatch": (
        "The upload's position does not match what the server has: {detail}.",
        "Ask the server for the current position (HEAD) and continue from there.",
    ),
    "upload.checksum_mismatch": (
        "A piece of the upload arrived damaged and was discarded: {detail}.",
        "Send that piece again; the upload continues from the same position.",
    ),
    "upload.content_type": (
        "The upload piece has the wrong content type: {detail}.",
        "Send upload pieces as 'Content-Type: application/offset+octet-stream'.",
    ),
    "upload.version": (
        "This server speaks tus 1.0.0 only; the request asked for {detail}.",
        "Use a tus 1.0 client, or send 'Tus-Resumable: 1.0.0'.",
    ),
    "upload.bad_request": (
        "The upload request is not valid: {detail}.",
        "Check the request against the tus 1.0 protocol, or use a tus client such as Uppy.",
    ),
    "upload.exceeds_length": (
        "The piece would go past the end of the file: {detail}.",
        "Send no more bytes than the Upload-Length given when the upload was created.",
    ),
    "upload.locked": (
        "Another connection is still writing this upload: {detail}.",
        "Wait a moment and try again; the earlier connection is dropped when it times out.",
    ),
    "upload.record_unavailable": (
        "You cannot add a capture to the record {detail}.",
        "Upload without a record to start a new one, or ask a curator to add you.",
    ),
    "upload.finished": (
        "The upload is already filed as a capture: {detail}.",
        "Nothing more to send. To withdraw a capture, ask the archive's curators.",
    ),
    "upload.digest_mismatch": (
        "The stored file differs from the file that arrived: {detail}.",
        "Upload the file again; the archive's operator has been told in the logs.",
    ),
}


@dataclass
class SpadokError(Exception):
    """An error a user can cause or act on, with a stable code."""

    code: str
    detail: str = ""
    context: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown error code {self.code!r}")
        super().__init__(self.message)

    @property
    def message(self) -> str:
        problem, advice = CODES[self.code]
        return f"{problem.format(detail=self.detail).strip()} {advice}"

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
