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
    # The site registry: describing sites and importing published lists (spadok import-sites).
    "registry.invalid_site": (
        "The site description is not valid: {detail}.",
        "Correct the field named and save again.",
    ),
    "registry.unreadable": (
        "The list {detail} cannot be read as text.",
        "Save it as UTF-8 CSV or GeoJSON and try again.",
    ),
    "registry.unknown_format": (
        "The list {detail} is not a format the importer knows.",
        "Use a Wikidata query result (CSV), the UNESCO damaged-sites CSV (or the Science at "
        "Risk list in its template), a Linked4Resilience export, or a CSV or GeoJSON file "
        "with --format csv|geojson and --map field=column.",
    ),
    "registry.bad_mapping": (
        "The column mapping is not usable: {detail}.",
        "Give --map name=COLUMN (or name_uk/name_en) and either --map lat=COLUMN "
        "--map lon=COLUMN or a GeoJSON point geometry.",
    ),
    "registry.too_large": (
        "The list is too large: {detail}.",
        "Split the list into smaller files, or ask the archive's operator to raise the limit.",
    ),
    "registry.bad_regions": (
        "The regions file {detail} is not a geoBoundaries ADM1 GeoJSON of Ukraine.",
        "Use geoBoundaries-UKR-ADM1.geojson (features with shapeISO and shapeName).",
    ),
    # Damage events (the form on a site's or record's page, spadok import-sites).
    "damage.invalid_event": (
        "The damage event is not valid: {detail}.",
        "Correct the field named and save again.",
    ),
    "damage.retracted": (
        "The damage event {detail} was retracted and can no longer be changed.",
        "Record a new event with the corrected account instead.",
    ),
    # Evidence dossiers and the archive's signing key (spadok dossier, spadok verify).
    "evidence.not_found": (
        "There is no record or site {detail}.",
        "Give the id of a record (r-...) or a site (s-...), as shown on its page.",
    ),
    "evidence.dest_exists": (
        "The destination {detail} already exists.",
        "Name a folder that does not exist yet; the dossier is written there.",
    ),
    "evidence.damaged_file": (
        "A stored file does not match the digest recorded for it: {detail}.",
        "Run 'spadok audit --repair' to restore it from a good copy, then make the dossier again.",
    ),
    "evidence.key_unreadable": (
        "The archive's signing key cannot be read: {detail}.",
        "Check SPADOK_EVIDENCE_KEY (an Ed25519 private key in PEM), or unset it to use the "
        "key kept in SPADOK_HOME.",
    ),
    "evidence.key_unsafe": (
        "The archive's signing key is not kept safely: {detail}.",
        "Keep it outside every served or stored folder, readable by the archive's user only "
        "(chmod 600).",
    ),
    # The open APIs (REST at /api/, oEmbed); the HTTP status is in spadok/api/errors.py.
    "api.not_found": (
        "There is no public {detail} with this id.",
        "Check the id; /api/records and /api/sites list what is public.",
    ),
    "api.invalid_request": (
        "The request is not valid: {detail}.",
        "Correct the parameter named; /api/docs describes every parameter.",
    ),
    "api.format_unsupported": (
        "The format {detail} is not offered.",
        "Ask for format=json.",
    ),
    "api.server_error": (
        "The server failed to answer: {detail}.",
        "Try again later; the archive's operator has been told in the logs.",
    ),
    # The map's GeoJSON endpoints (/api/sites.geojson, /api/regions.geojson).
    "map.bad_bbox": (
        "The bounding box is not usable: {detail}.",
        "Give bbox=west,south,east,north in degrees (longitude -180..180, latitude -90..90, "
        "west < east, south < north).",
    ),
    "map.bad_filter": (
        "A filter is not usable: {detail}.",
        "Use type, damage and has_3d with one of the values the message lists, or leave them out.",
    ),
    "map.too_many_features": (
        "Too many sites in this view: {detail}.",
        "Zoom in, choose a smaller bounding box, or narrow the filters.",
    ),
    # Search (/search and /api/search); the HTTP status is 400.
    "search.bad_parameter": (
        "The search parameter {detail} is not valid.",
        "Correct it or leave it out; the search page's links show the values that work.",
    ),
    "search.query_too_long": (
        "The search text is too long: {detail}.",
        "Search for a few words: a name, a place or a type.",
    ),
    # Capture processing: photos, video and RGB-D captures into models (spadok reconstruct).
    "reconstruct.no_images": (
        "No photos, video or depth capture were found in {detail}.",
        "Give a folder or zip of photos (JPEG, HEIC, PNG), a video, or a LiDAR capture "
        "exported with all its data (3d Scanner App, Stray Scanner).",
    ),
    "reconstruct.failed": (
        "No 3D model could be made from this capture. {detail}",
        "Take the photos again as advised and upload them, or replace this capture "
        "with a finished scan.",
    ),
    "reconstruct.too_many_images": (
        "The capture has too many photos: {detail}.",
        "Split it into parts of the object, or ask the archive's operator to raise the limit.",
    ),
    "reconstruct.unreadable_video": (
        "The video {detail} cannot be decoded.",
        "Export it again as MP4 (H.264) or MOV, or upload photos instead.",
    ),
    # Campaigns: tasks, claims and their areas (spadok.campaigns).
    "campaign.not_found": (
        "There is no campaign or task {detail}.",
        "Open the list of campaigns and choose one from there.",
    ),
    "campaign.closed": (
        "The campaign {detail} is not handing out tasks.",
        "Choose a task of a campaign that is running now.",
    ),
    "campaign.not_member": (
        "You have not joined the campaign {detail}.",
        "Join the campaign first, then claim a task.",
    ),
    "campaign.task_taken": (
        "Another volunteer holds this task until {detail}.",
        "Choose another task near you; this one opens again if its claim runs out.",
    ),
    "campaign.task_done": (
        "This task is done: {detail}.",
        "Choose another task near you.",
    ),
    "campaign.not_claimed": (
        "You do not hold this task: {detail}.",
        "Claim it first, or choose another task.",
    ),
    "campaign.too_many_claims": (
        "You already hold {detail} tasks.",
        "Finish or release one of them before you claim another.",
    ),
    "campaign.forbidden": (
        "Only the campaign's coordinators and curators may {detail}.",
        "Ask a coordinator of the campaign.",
    ),
    "campaign.bad_area": (
        "The campaign's area is not usable: {detail}.",
        "Give a region, a box west,south,east,north in degrees, or a GeoJSON polygon.",
    ),
    "campaign.bad_input": (
        "A field is not usable: {detail}.",
        "Correct it and send the form again.",
    ),
    "campaign.bad_place": (
        "The place is not usable: {detail}.",
        "Let the browser use your location, click the map, or name a settlement.",
    ),
    "campaign.auth_required": (
        "Tasks are shown to signed-in volunteers only{detail}.",
        "Sign in, or send a personal API token as Authorization: Bearer TOKEN.",
    ),
    "campaign.too_many_sites": (
        "Too many sites: {detail}.",
        "Narrow the filters or the area and add the sites in parts.",
    ),
    # Before and after: comparing two captures of one thing (spadok compare, comparison pages).
    "compare.not_aligned": (
        "The two captures could not be aligned: {detail}.",
        "Check that both show the same thing. If they do, nudge the after capture roughly into "
        "place (move and turn it) and compare again.",
    ),
    "compare.bad_parameters": (
        "The comparison's parameters are not valid: {detail}.",
        "Correct the value named and try again.",
    ),
    "compare.unsupported": (
        "This capture cannot be compared: {detail} is kept, but its geometry is not read.",
        "Compare captures that are meshes or point clouds (GLB, OBJ, PLY, STL, LAS, E57, ...).",
    ),
    "compare.not_comparable": (
        "These captures cannot be compared: {detail}.",
        "Choose two different captures that are ready (processed), of the same record.",
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
