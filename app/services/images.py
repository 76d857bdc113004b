"""Checks and re-encodes every image a person uploads (ID photo, ID card scans, signature, proofs).

The type is read from the content (JPEG or PNG only), decompression bombs and damaged files are
refused, the EXIF orientation is applied and the output is re-encoded from pixels only, so no
EXIF, GPS, ICC profile or comment survives. Pure function of the bytes and the app config.
"""
import io
import struct
import warnings
import zlib
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, ImageStat

from ground.errors import UserError

KINDS = frozenset({"photo", "id_front", "id_back", "id_handheld", "signature", "education_proof", "other"})
ACCEPTED_FORMATS = ("JPEG", "PNG")  # MPO (camera JPEG with extra frames) is a JPEG too
PHOTO_MIN_WIDTH_PX = 200  # the 25:35 crop must be at least 200 x 280 before scaling to PHOTO_SIZE_PX
SCAN_MIN_SIDE_PX = 300  # shorter side of an ID scan or proof
SIGNATURE_MIN_SIDE_PX = 100  # longer side of a signature
PHOTO_BAND = 0.08  # border band used to judge the photo background
PHOTO_MAX_BACKGROUND_SATURATION = 60  # 0-255, mean HSV saturation of that band
PHOTO_QUALITIES = (90, 85, 80, 75, 70, 65, 60, 55, 50, 45, 40)
SCAN_QUALITY = 85
_DAMAGED = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error, zlib.error)


class UploadRejected(UserError):
    """An upload refused, with the reason."""


@dataclass(frozen=True)
class ProcessedImage:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def process(kind: str, data: bytes) -> ProcessedImage:
    """Validate an uploaded image of attachment `kind` and return its cleaned re-encoding."""
    if kind not in KINDS:
        raise ValueError(f"unknown attachment kind {kind!r}")
    config = current_app.config
    side = max(config["PHOTO_SIZE_PX"]) * 2 if kind == "photo" else config["SCAN_MAX_SIDE_PX"]
    image = _decode(data, draft_side=side)
    if kind == "photo":
        return _photo(image)
    if kind == "signature":
        return _signature(image)
    return _scan(image)


# --- decoding -----------------------------------------------------------------------------------
def _decode(data: bytes, draft_side: int) -> Image.Image:
    """Open, check and fully decode `data`; the result is upright (metadata is dropped on encoding)."""
    config = current_app.config
    if not data:
        raise UploadRejected(_l("The file is empty."))
    if len(data) > config["UPLOAD_MAX_BYTES"]:
        raise UploadRejected(_l("The file is larger than %(size)s MB.", size=_megabytes(config["UPLOAD_MAX_BYTES"])))
    too_many_pixels = _l("The image has too many pixels; at most %(limit)s million are allowed.",
                         limit=f"{config['UPLOAD_MAX_PIXELS'] / 1_000_000:g}")
    damaged = _l("The image is damaged or incomplete; please save or scan it again.")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise UploadRejected(too_many_pixels) from None
        except Image.UnidentifiedImageError:
            raise UploadRejected(_l("The file is not a JPEG or PNG image.")) from None
        except _DAMAGED:
            raise UploadRejected(damaged) from None
        if image.format not in (*ACCEPTED_FORMATS, "MPO"):
            raise UploadRejected(_l("The file is not a JPEG or PNG image."))
        if not _complete(image.format, data):
            raise UploadRejected(damaged)
        width, height = image.size
        if width * height > config["UPLOAD_MAX_PIXELS"]:  # from the header, before decoding
            raise UploadRejected(too_many_pixels)
        # JPEG only: decode at 1/2, 1/4 or 1/8 scale while both sides stay >= draft_side.
        image.draft(image.mode, (draft_side, draft_side))
        try:
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise UploadRejected(too_many_pixels) from None
        except _DAMAGED:
            raise UploadRejected(damaged) from None
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # malformed EXIF: keep the pixels as stored
        pass
    return image


def _complete(fmt: str, data: bytes) -> bool:
    """The file has its end marker. Pillow's own check is a process-wide switch that WeasyPrint turns off
    (`ImageFile.LOAD_TRUNCATED_IMAGES = True` on import), so cut-off files are caught here as well.
    In JPEG data 0xFF is always followed by 0x00 or a marker, so EOI (FFD9) only appears as the marker."""
    if fmt == "PNG":
        return b"IEND" in data[-64:]
    return b"\xff\xd9" in data[-64 * 1024:]  # EOI; tolerate trailers some cameras append


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.3g}"


def _pixels_only(image: Image.Image) -> Image.Image:
    """A new image with the same pixels and an empty info dict (no EXIF, ICC, comment, text)."""
    return Image.frombytes(image.mode, image.size, image.tobytes())


def _eight_bit(image: Image.Image) -> Image.Image:
    """16/32-bit grey images scaled to 0-255 (Pillow's own conversion would clip them to white)."""
    if image.mode.startswith("I;16") or image.mode == "I":
        return image.convert("I").point(lambda v: v / 256).convert("L")
    if image.mode == "F":
        return image.convert("L")
    return image


def _is_grey(image: Image.Image) -> bool:
    return image.mode in ("1", "L", "LA", "La", "I", "F") or image.mode.startswith("I;16")


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency laid on white."""
    has_alpha = image.has_transparency_data
    image = _eight_bit(image)
    if not has_alpha:
        return image.convert("RGB")
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, image.convert("RGBA")).convert("RGB")


# --- kinds --------------------------------------------------------------------------------------
def _photo(image: Image.Image) -> ProcessedImage:
    config = current_app.config
    target_w, target_h = config["PHOTO_SIZE_PX"]
    min_h = round(PHOTO_MIN_WIDTH_PX * target_h / target_w)
    if image.width < PHOTO_MIN_WIDTH_PX or image.height < min_h:
        raise UploadRejected(_l(
            "The photo is too small (%(width)s × %(height)s pixels); it must be at least "
            "%(min_width)s × %(min_height)s pixels.",
            width=image.width, height=image.height, min_width=PHOTO_MIN_WIDTH_PX, min_height=min_h))
    # Crop to 25:35: centred horizontally; a too-tall image loses 1/4 of the excess at the top, 3/4 at
    # the bottom, so the head stays in.
    photo = ImageOps.fit(_flatten(image), (target_w, target_h), Image.Resampling.LANCZOS, centering=(0.5, 0.25))
    _check_background(photo)
    photo = _pixels_only(photo)
    for quality in PHOTO_QUALITIES:
        buf = io.BytesIO()
        photo.save(buf, "JPEG", quality=quality, dpi=(300, 300), optimize=True)
        if buf.tell() <= config["PHOTO_MAX_BYTES"]:
            return ProcessedImage(buf.getvalue(), "image/jpeg", "jpg", target_w, target_h)
    raise UploadRejected(_l(
        "The photo cannot be compressed under %(size)s KB; please use a plainer photo with a smooth background.",
        size=f"{config['PHOTO_MAX_BYTES'] / 1024:.3g}"))


def _check_background(photo: Image.Image) -> None:
    """The top band and the side bands of the upper two thirds must be light and nearly colourless."""
    w, h = photo.size
    band_w, band_h = max(1, round(w * PHOTO_BAND)), max(1, round(h * PHOTO_BAND))
    lower = h * 2 // 3
    boxes = [(0, 0, w, band_h), (0, band_h, band_w, lower), (w - band_w, band_h, w, lower)]
    grey, hsv = photo.convert("L"), photo.convert("HSV")
    lightness = saturation = 0.0
    area = 0
    for box in boxes:
        size = (box[2] - box[0]) * (box[3] - box[1])
        lightness += ImageStat.Stat(grey.crop(box)).mean[0] * size
        saturation += ImageStat.Stat(hsv.crop(box)).mean[1] * size
        area += size
    if (lightness / area < current_app.config["PHOTO_MIN_BACKGROUND_LIGHTNESS"]
            or saturation / area > PHOTO_MAX_BACKGROUND_SATURATION):
        raise UploadRejected(_l(
            "The photo background is too dark or coloured; please take the photo against a white or light "
            "background."))


def _scaled_down(image: Image.Image) -> Image.Image:
    side = current_app.config["SCAN_MAX_SIDE_PX"]
    if max(image.size) > side:
        image = image.copy()
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return image


def _signature(image: Image.Image) -> ProcessedImage:
    if max(image.size) < SIGNATURE_MIN_SIDE_PX:
        raise UploadRejected(_l(
            "The signature image is too small (%(width)s × %(height)s pixels); its longer side must be at least "
            "%(min)s pixels.", width=image.width, height=image.height, min=SIGNATURE_MIN_SIDE_PX))
    grey, alpha = _is_grey(image), image.has_transparency_data
    image = _eight_bit(image)
    mode = {(True, True): "LA", (True, False): "L", (False, True): "RGBA", (False, False): "RGB"}[(grey, alpha)]
    image = _pixels_only(_scaled_down(image.convert(mode)))
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=True)
    return ProcessedImage(buf.getvalue(), "image/png", "png", image.width, image.height)


def _scan(image: Image.Image) -> ProcessedImage:
    if min(image.size) < SCAN_MIN_SIDE_PX:
        raise UploadRejected(_l(
            "The image is too small to read (%(width)s × %(height)s pixels); its shorter side must be at least "
            "%(min)s pixels.", width=image.width, height=image.height, min=SCAN_MIN_SIDE_PX))
    image = _pixels_only(_scaled_down(_flatten(image)))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=SCAN_QUALITY, optimize=True)
    return ProcessedImage(buf.getvalue(), "image/jpeg", "jpg", image.width, image.height)
