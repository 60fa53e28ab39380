"""Smaller copies of an essay's photo, made with Pillow and kept between builds.

A photo 4,000 pixels wide is written again at each width a reader's screen
may want (never wider than the photo), as AVIF and WebP and in a format every
browser reads (JPEG; PNG for a PNG or an image with transparency). Rotation
written in the camera's EXIF is applied, and EXIF itself (place, time,
camera) is not copied; the colour profile is.

Encoding takes most of a second a photo, and every build writes a fresh
output folder (kizuna/build.py), so the copies live in the cache folder, one
folder per photo's bytes and recipe:

    cache/images/<key>/about.json     its size, and what kind of image it is
    cache/images/<key>/800.avif       …one file per width and format
    cache/images/sources/<name>.json  a file's size and mtime → its digest

`key` is a digest of the photo's bytes and of RECIPE (and Pillow's version),
so a changed photo or recipe gets new copies, and an unchanged one is never
encoded again: a build only stats each photo (its bytes are read again only
when its size or mtime changed) and checks that the files are there. Files
are written under a temporary name and renamed, so two builds at once (the
writing loop's first render and the whole-site build) never read half a file.
"""

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field

import PIL
from PIL import Image, ImageOps, UnidentifiedImageError, features

# How each copy is encoded: qualities at which the three stay about as close
# to the photo (on bench/images.py's photos at 800 pixels, PSNR 36.1 dB AVIF,
# 35.2 WebP, 36.8 JPEG) while AVIF weighs 61 % and WebP 72 % of the JPEG.
# Part of every copy's cache key: change one and the copies are made again.
RECIPE = {
    "avif": {"quality": 60, "speed": 6},
    "webp": {"quality": 78, "method": 5},
    "jpeg": {"quality": 82, "optimize": True, "progressive": True},
    "png": {"optimize": True},
}
# Newest first, as <source> elements are tried in order. AVIF only where this
# Pillow can write it (the pinned wheels can: libavif).
MODERN = [name for name in ("avif", "webp") if features.check(name)]
MIME = {"avif": "image/avif", "webp": "image/webp", "jpeg": "image/jpeg", "png": "image/png"}
EXTENSION = {"avif": "avif", "webp": "webp", "jpeg": "jpg", "png": "png"}

# Files made smaller here, by extension; others are left as they are.
# GIF (often animated) and SVG get only their size; ICO, HEIC, JPEG XL and
# the like are not touched at all.
PHOTO = {".jpg", ".jpeg", ".png", ".webp", ".avif", ".tif", ".tiff", ".bmp"}
AS_IS = {".gif", ".svg"}


class ImageProblem(Exception):
    """The file cannot be read as the image its name says it is."""


@dataclass
class Candidate:
    width: int
    height: int
    path: str  # the copy, in the cache


@dataclass
class Derived:
    """What the markup needs to know about one image."""
    width: int  # as shown (EXIF rotation applied)
    height: int
    digest: str = ""  # of the bytes and recipe: names the copies
    fallback: str = ""  # "jpeg" or "png": the format every browser reads
    # format → copies, narrowest first; empty when the image is served as it is
    candidates: dict[str, list[Candidate]] = field(default_factory=dict)


def widths_for(width: int, widths: list[int]) -> list[int]:
    """The widths made for a photo `width` pixels wide: each of `widths` it
    is wider than, and its own width if that is within them (never larger
    than the photo). A photo narrower than the smallest is served as it is."""
    widths = sorted(set(widths))
    if not widths or width < widths[0]:
        return []
    chosen = [w for w in widths if w < width]
    if width <= widths[-1]:
        chosen.append(width)
    return chosen


# Raise when _make changes how copies are made (resampling, colour), so old copies are not reused.
MAKING = 1


def _recipe_key() -> str:
    return json.dumps({"recipe": RECIPE, "modern": MODERN, "pillow": PIL.__version__, "making": MAKING},
                      sort_keys=True)


def _write_atomically(path: str, write) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".", suffix=".part", dir=os.path.dirname(path))
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _write_json(path: str, value: dict) -> None:
    _write_atomically(path, lambda file: file.write(json.dumps(value, sort_keys=True).encode()))


def _read_json(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as file:
            value = json.load(file)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def digest_of(path: str, cache: str) -> str:
    """The digest of a file's bytes, remembered by its size and mtime so an
    unchanged photo is not read again on the next build."""
    stat = os.stat(path)
    memo = os.path.join(cache, "sources", hashlib.sha1(os.path.abspath(path).encode()).hexdigest() + ".json")
    known = _read_json(memo)
    if known and known.get("size") == stat.st_size and known.get("mtime_ns") == stat.st_mtime_ns:
        return known["digest"]
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    digest = digest.hexdigest()
    _write_json(memo, {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "digest": digest})
    return digest


# The root <svg> element's width, height and viewBox, for its size.
SVG_TAG = re.compile(rb"<svg\b[^>]*>", re.I | re.S)
SVG_LENGTH = r"""\s%s\s*=\s*["']\s*([0-9.]+)\s*(?:px)?\s*["']"""
SVG_VIEWBOX = re.compile(r"""\sviewBox\s*=\s*["']\s*[-0-9.]+[\s,]+[-0-9.]+[\s,]+([0-9.]+)[\s,]+([0-9.]+)\s*["']""", re.I)


def svg_size(path: str) -> tuple[int, int] | None:
    """An SVG's size in CSS pixels where its root says it (width and height in
    px or unitless, else its viewBox), or None."""
    with open(path, "rb") as file:
        match = SVG_TAG.search(file.read(64 * 1024))
    if not match:
        return None
    tag = match.group(0).decode("utf-8", "replace")
    width, height = (re.search(SVG_LENGTH % name, tag, re.I) for name in ("width", "height"))
    if width and height:
        size = float(width.group(1)), float(height.group(1))
    elif box := SVG_VIEWBOX.search(tag):
        size = float(box.group(1)), float(box.group(2))
    else:
        return None
    return (round(size[0]), round(size[1])) if size[0] >= 1 and size[1] >= 1 else None


UNREADABLE = (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def _problem(error: Exception) -> ImageProblem:
    if isinstance(error, UnidentifiedImageError):
        return ImageProblem("cannot be read: its bytes are not an image (a broken download, or another kind of file)")
    return ImageProblem(f"cannot be read ({str(error) or type(error).__name__})")


def _open(path: str) -> Image.Image:
    """The image, decoded, or ImageProblem saying why not."""
    try:
        image = Image.open(path)
        image.load()
        return image
    except UNREADABLE as error:
        raise _problem(error) from None


def _shown_size(image: Image.Image) -> tuple[int, int]:
    """Width and height once the camera's rotation (EXIF orientation) is applied."""
    turned = image.getexif().get(0x0112) in (5, 6, 7, 8)
    return (image.height, image.width) if turned else (image.width, image.height)


def _about(path: str, folder: str) -> dict:
    """A photo's size and kind, from the cache or from the file itself."""
    about_file = os.path.join(folder, "about.json")
    about = _read_json(about_file)
    if about is None:
        image = _open(path)
        width, height = _shown_size(image)
        alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
        about = {"width": width, "height": height, "animated": bool(getattr(image, "is_animated", False)),
                 "fallback": "png" if alpha or image.format == "PNG" else "jpeg"}
        _write_json(about_file, about)
    return about


def _encode(image: Image.Image, name: str, icc: bytes | None):
    def write(file):
        options = dict(RECIPE[name])
        if icc:
            options["icc_profile"] = icc
        image.save(file, format=name.upper(), **options)
    return write


def _make(path: str, missing: list[tuple[int, int, str, str]]) -> None:
    """Encode each (width, height, format, target) from the photo at path."""
    widest = max(width for width, *_ in missing)
    try:
        image = Image.open(path)
        image.draft("RGB", (widest, widest))  # a JPEG decodes at a fraction of its size, if that is still enough
        image.load()
        image = ImageOps.exif_transpose(image)
        icc = image.info.get("icc_profile")
        has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
        image = image.convert("RGBA" if has_alpha else "RGB")
    except UNREADABLE as error:
        raise _problem(error) from None
    resized = {}
    for width, height, name, target in sorted(missing, reverse=True):
        if (width, height) not in resized:
            resized[(width, height)] = image.resize((width, height), Image.LANCZOS, reducing_gap=3.0)
        copy = resized[(width, height)]
        if name == "jpeg" and copy.mode != "RGB":
            copy = copy.convert("RGB")
        _write_atomically(target, _encode(copy, name, icc))


def derive(path: str, widths: list[int], cache: str) -> Derived:
    """The image at path, measured and (for a photo wide enough) copied at
    each of widths_for() in each format, from the cache when already made.
    Raises ImageProblem for a file Pillow cannot read."""
    extension = os.path.splitext(path)[1].lower()
    if extension == ".svg":
        size = svg_size(path)
        return Derived(*size) if size else Derived(0, 0)
    if extension not in PHOTO | AS_IS:
        return Derived(0, 0)
    digest = digest_of(path, cache)
    key = hashlib.sha256((digest + _recipe_key()).encode()).hexdigest()[:24]
    folder = os.path.join(cache, key)
    about = _about(path, folder)
    derived = Derived(about["width"], about["height"], digest=key, fallback=about["fallback"])
    widths = widths_for(about["width"], widths)
    if extension in AS_IS or about["animated"] or not widths:
        return derived  # an animation stays one; a GIF is seldom a photo; a small photo is small already
    missing = []
    for name in [*MODERN, about["fallback"]]:
        derived.candidates[name] = []
        for width in widths:
            height = max(1, round(width * about["height"] / about["width"]))
            target = os.path.join(folder, f"{width}.{EXTENSION[name]}")
            derived.candidates[name].append(Candidate(width, height, target))
            if not os.path.isfile(target):
                missing.append((width, height, name, target))
    if missing:
        _make(path, missing)
    return derived
