"""What a public derivative may carry: pixels and geometry, nothing about who made the scan.

Volunteers scan where being identified is dangerous, and the files they send
carry more than the model: JPEG textures hold EXIF (GPS position, camera body
serial, owner name), XMP (creator, GPS again), IPTC and comments; PNGs hold
tEXt/iTXt chunks; ICC profiles name devices; glTF files hold ``asset.extras``,
``asset.copyright``, a generator string and node names that are often file
paths with a user name in them. The originals are sealed and kept byte for
byte; every web copy and thumbnail goes through this module on its way out:

* :func:`scrub_image` gives a new image with the same pixels (shared) and an empty
  ``info`` (so Pillow writes no EXIF, XMP, IPTC, ICC, comment or text chunk),
  converted to sRGB first when it carried another colour profile;
* :func:`scrub_glb_json` rewrites a glTF document's metadata: spadok's
  generator, no copyright, no ``extras`` anywhere, no XMP extension, and
  names reduced to plain names (no paths, no e-mail addresses).

The policy version (``policy.POLICY_VERSION``) was deliberately not bumped for
this: it names storage paths, and the scrub changes no pixel, tier or tool.
Derivatives made before it should be remade (``spadok reprocess``) all the same.
"""

from __future__ import annotations

import io
import logging
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

# glTF top-level arrays whose items may carry a "name".
NAMED = (
    "accessors",
    "animations",
    "buffers",
    "bufferViews",
    "cameras",
    "images",
    "materials",
    "meshes",
    "nodes",
    "samplers",
    "scenes",
    "skins",
    "textures",
)
# Items whose names say nothing a viewer needs and often repeat a file name.
DROP_NAMES = ("accessors", "buffers", "bufferViews", "images", "samplers", "textures")
DROP_EXTENSIONS = ("KHR_xmp_json_ld", "KHR_xmp")
MAX_NAME = 64
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+")
_PLAIN = re.compile(r"[^\w .,()+\-#]", re.UNICODE)


def scrub_name(name: Any) -> str:
    """A plain name from a source name: "" for e-mail addresses, a path's last part."""
    if not isinstance(name, str):
        return ""
    text = name.strip()
    if _EMAIL.search(text):
        return ""
    text = re.split(r"[\\/]", text)[-1]  # "C:\\Users\\olena\\scan.obj" -> "scan.obj"
    text = _PLAIN.sub("_", text).strip(" ._")
    return text[:MAX_NAME]


def scrub_text(text: Any) -> str:
    """Free text from a file (a generator string, say) without e-mail addresses or paths."""
    if not isinstance(text, str):
        return ""
    text = _EMAIL.sub("", text)
    words = [w for w in text.split() if not re.search(r"[\\/]", w)]  # paths go whole
    return " ".join(w for w in words if w.strip("()[]<>,;")).strip()[:200]


def scrub_image(image: Image.Image) -> Image.Image:
    """The same pixels in a new image with no metadata (EXIF, XMP, IPTC, ICC, comments, text).

    Palette images become RGB(A) first, so their transparency survives the
    loss of ``info``; an embedded colour profile other than sRGB is applied
    (converted to sRGB) and then dropped, since viewers assume sRGB.
    """
    img = image
    if img.mode not in ("RGB", "RGBA", "L", "LA"):
        has_alpha = img.mode in ("PA", "RGBa", "La") or "transparency" in img.info
        img = img.convert("RGBA" if has_alpha else "RGB")
    icc = img.info.get("icc_profile")
    if icc:
        img = _to_srgb(img, icc)
    # The same pixel store under a new, empty ``info``: a 4096² texture is not
    # copied twice (tobytes + frombytes cost 100 MB at ingest's memory peak).
    # The result shares pixels with ``img``: treat it as read-only.
    img.load()
    out = img._new(img.im)
    out.info = {}
    return out


def _to_srgb(img: Image.Image, icc: bytes) -> Image.Image:
    try:
        from PIL import ImageCms

        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in (ImageCms.getProfileDescription(src) or "").lower().replace(" ", ""):
            return img
        if img.mode not in ("RGB", "RGBA"):
            return img  # grey profiles: the values are kept as they are
        return ImageCms.profileToProfile(
            img, src, ImageCms.createProfile("sRGB"), outputMode=img.mode
        )  # type: ignore[return-value]
    except Exception as exc:  # a broken profile: keep the values, lose the profile
        log.info("colour profile ignored (%s)", exc)
        return img


def image_metadata(blob: bytes) -> dict[str, Any]:
    """What metadata an encoded image carries (for tests and audits): info keys, EXIF tags."""
    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(blob)) as im:
        info = {
            k: v
            for k, v in im.info.items()
            if k
            not in (
                "dpi",
                "jfif",
                "jfif_version",
                "jfif_unit",
                "jfif_density",
                "progressive",
                "progression",
                "adobe",
                "adobe_transform",
            )
        }
        exif = dict(im.getexif())
        applist = [marker for marker, _ in getattr(im, "applist", [])]
    return {"info": info, "exif": exif, "app": [m for m in applist if m not in ("APP0",)]}


def scrub_glb_json(gltf: dict[str, Any], generator: str) -> dict[str, Any]:
    """Rewrite a glTF document's metadata in place (see the module's docstring); returns it."""
    asset = gltf.get("asset") or {}
    clean_asset: dict[str, Any] = {"version": str(asset.get("version") or "2.0")}
    if asset.get("minVersion"):
        clean_asset["minVersion"] = str(asset["minVersion"])
    clean_asset["generator"] = generator
    _drop_extras(gltf)
    gltf["asset"] = clean_asset
    for key in NAMED:
        for item in gltf.get(key) or []:
            if not isinstance(item, dict) or "name" not in item:
                continue
            name = "" if key in DROP_NAMES else scrub_name(item["name"])
            if name:
                item["name"] = name
            else:
                del item["name"]
    for holder in (gltf, *(gltf.get(k) or [] for k in NAMED)):
        items = [holder] if isinstance(holder, dict) else holder
        for item in items:
            ext = item.get("extensions") if isinstance(item, dict) else None
            if isinstance(ext, dict):
                for name in DROP_EXTENSIONS:
                    ext.pop(name, None)
                if not ext:
                    del item["extensions"]
    for key in ("extensionsUsed", "extensionsRequired"):
        if key in gltf:
            gltf[key] = [e for e in gltf[key] if e not in DROP_EXTENSIONS]
            if not gltf[key]:
                del gltf[key]
    return gltf


def _drop_extras(node: Any) -> None:
    if isinstance(node, dict):
        node.pop("extras", None)
        for value in node.values():
            _drop_extras(value)
    elif isinstance(node, list):
        for value in node:
            _drop_extras(value)
