"""Uploaded images: type from content, bombs and damaged files refused, photo rules, clean re-encoding.

Every test image is drawn in memory with Pillow.
"""
import io
import random
import struct
import warnings
import zlib

import pytest
from PIL import ExifTags, GifImagePlugin, Image, ImageDraw, ImageFile, PngImagePlugin

from app.services.images import ProcessedImage, UploadRejected, process

WHITE = (245, 245, 245)


def portrait(background=WHITE, size=(600, 840), noise=12, marker=None):
    """A head-and-shoulders picture; `marker` paints a red block at the bottom centre."""
    w, h = size
    im = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(im)
    draw.ellipse((w * 0.3, h * 0.15, w * 0.7, h * 0.55), fill=(200, 160, 130))
    draw.rectangle((w * 0.15, h * 0.65, w * 0.85, h), fill=(30, 30, 60))
    if marker:
        draw.rectangle((w * 0.4, h * 0.85, w * 0.6, h), fill=(230, 0, 0))
    if noise:
        grain = Image.frombytes("L", size, random.Random(0).randbytes(w * h))
        im = Image.blend(im, Image.merge("RGB", [grain] * 3), noise / 255)
    return im


def encode(im, fmt="JPEG", **params):
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def png_header(width, height):
    """A PNG whose header claims width x height, with almost no pixel data (cheap to build)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def reopen(result: ProcessedImage) -> Image.Image:
    """The output decoded again, after the checks every output must pass."""
    im = Image.open(io.BytesIO(result.data))
    im.load()
    assert (im.format, result.extension) in {("JPEG", "jpg"), ("PNG", "png")}
    assert result.content_type == f"image/{im.format.lower()}"
    assert im.size == (result.width, result.height)
    assert "exif" not in im.info and len(im.getexif()) == 0
    assert "icc_profile" not in im.info and "comment" not in im.info
    return im


def refused(kind, data) -> str:
    with pytest.raises(UploadRejected) as err:
        process(kind, data)
    return str(err.value.message)


# --- photo --------------------------------------------------------------------------------------
def test_light_jpeg_photo_becomes_a_300_dpi_1_inch_jpeg(ctx, app):
    result = process("photo", encode(portrait(), quality=95))
    im = reopen(result)
    assert (result.content_type, result.extension) == ("image/jpeg", "jpg")
    assert im.size == (result.width, result.height) == (295, 413) == app.config["PHOTO_SIZE_PX"]
    assert im.mode == "RGB"
    assert len(result.data) <= app.config["PHOTO_MAX_BYTES"]
    assert tuple(round(v) for v in im.info["dpi"]) == (300, 300)


def test_png_photo_is_accepted_and_its_text_chunks_dropped(ctx):
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "SecretAuthor")
    result = process("photo", encode(portrait(background=(200, 200, 200)).convert("RGBA"), "PNG", pnginfo=info))
    im = reopen(result)
    assert im.size == (295, 413) and im.format == "JPEG"
    assert b"SecretAuthor" not in result.data


def test_photo_orientation_applied_and_exif_gps_comment_icc_removed(ctx):
    upright = portrait(marker=True)
    stored = upright.rotate(90, expand=True)  # on its side, as a phone stores it
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # display = rotate 90 degrees clockwise
    exif[ExifTags.Base.Make] = "SecretCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (39.0, 54.0, 27.0)
    data = encode(stored, quality=95, exif=exif, comment=b"SecretComment", icc_profile=b"SecretProfile")
    source = Image.open(io.BytesIO(data))
    assert source.size == (840, 600) and source.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the input has them

    result = process("photo", data)
    im = reopen(result)
    for secret in (b"Exif", b"SecretCam", b"SecretComment", b"SecretProfile"):
        assert secret not in result.data
    # Upright: the red block is at the bottom centre, the top corners are background.
    r, g, b = im.getpixel((147, 405))
    assert r > 180 and g < 60 and b < 60
    assert min(im.getpixel((5, 5))) > 200


def test_tall_photo_is_cropped_keeping_the_top(ctx):
    # 600 x 1400: 560 rows must go; a red block at rows 0-160 (top) survives, one at 1300-1400 does not.
    im = Image.new("RGB", (600, 1400), WHITE)
    draw = ImageDraw.Draw(im)
    draw.rectangle((250, 0, 350, 160), fill=(230, 0, 0))
    draw.rectangle((0, 1300, 600, 1400), fill=(0, 0, 230))
    out = reopen(process("photo", encode(im, quality=95)))
    r, g, b = out.getpixel((147, 5))
    assert r > 180 and g < 60  # the top block survives: the crop starts at row 140 (1/4 of the excess)
    assert min(out.getpixel((147, 410))) > 200  # the blue band at the bottom was cut away


@pytest.mark.parametrize("background", [
    (67, 142, 219),  # the usual blue ID-photo background
    (200, 30, 40),  # red
    (110, 110, 110),  # dark grey
    (255, 230, 120),  # light but yellow
    (170, 210, 255),  # light but blue
])
def test_dark_or_coloured_background_refused(ctx, background):
    message = refused("photo", encode(portrait(background=background), quality=95))
    assert message == ("The photo background is too dark or coloured; please take the photo against a white or "
                       "light background.")


def test_light_grey_background_accepted(ctx):
    assert process("photo", encode(portrait(background=(200, 200, 200)))).width == 295


def test_small_photo_refused(ctx):
    message = refused("photo", encode(portrait(size=(150, 300))))
    assert message == "The photo is too small (150 × 300 pixels); it must be at least 200 × 280 pixels."
    # Wide enough but too low for the 25:35 crop.
    assert refused("photo", encode(portrait(size=(400, 250)))).startswith("The photo is too small (400 × 250")


def test_photo_quality_lowered_until_it_fits(ctx, app, monkeypatch):
    data = encode(portrait(noise=40), quality=95)
    assert len(process("photo", data).data) > 10_000  # too big at the first quality
    monkeypatch.setitem(app.config, "PHOTO_MAX_BYTES", 10_000)
    result = process("photo", data)
    assert len(result.data) <= 10_000
    assert reopen(result).size == (295, 413)


def test_photo_that_cannot_be_compressed_enough_refused(ctx, app, monkeypatch):
    monkeypatch.setitem(app.config, "PHOTO_MAX_BYTES", 1024)
    message = refused("photo", encode(portrait(noise=40), quality=95))
    assert message == ("The photo cannot be compressed under 1 KB; please use a plainer photo with a smooth "
                       "background.")


# --- refused files ------------------------------------------------------------------------------
def test_empty_file_refused(ctx):
    assert refused("photo", b"") == "The file is empty."


@pytest.mark.parametrize("data", [
    b"hello, this is a text file renamed to photo.jpg\n" * 20,
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
    encode(portrait(), "GIF"),
    encode(portrait(), "BMP"),
    encode(portrait(), "WEBP"),
    encode(portrait(), "TIFF"),
], ids=["text", "pdf", "gif", "bmp", "webp", "tiff"])
@pytest.mark.parametrize("kind", ["photo", "id_front", "signature"])
def test_not_jpeg_or_png_refused(ctx, kind, data):
    assert refused(kind, data) == "The file is not a JPEG or PNG image."


def test_other_formats_never_parsed(ctx, monkeypatch):
    def no_parse(self):
        raise AssertionError("the GIF parser ran")

    monkeypatch.setattr(GifImagePlugin.GifImageFile, "_open", no_parse)
    assert refused("other", encode(portrait(), "GIF")) == "The file is not a JPEG or PNG image."


@pytest.mark.parametrize("kind,data", [
    ("photo", encode(portrait(noise=40), quality=95)),
    ("id_front", encode(portrait(noise=40), quality=95)),
    ("signature", encode(portrait(noise=40), "PNG")),
    ("other", encode(portrait(noise=40), "PNG")),
], ids=["photo-jpeg", "scan-jpeg", "signature-png", "scan-png"])
def test_truncated_image_refused(ctx, kind, data):
    process(kind, data)  # whole, it is fine
    assert refused(kind, data[: len(data) // 2]) == "The image is damaged or incomplete; please save or scan it again."


def test_oversize_file_refused_before_decoding(ctx, app, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", 1024 * 1024)

    def no_open(*args, **kwargs):
        raise AssertionError("decoded an oversize file")

    monkeypatch.setattr(Image, "open", no_open)
    assert refused("id_back", b"\xff\xd8\xff" + b"\0" * (1024 * 1024)) == "The file is larger than 1 MB."


def test_default_size_limit(ctx, app):
    assert app.config["UPLOAD_MAX_BYTES"] == 8 * 1024 * 1024
    assert refused("other", b"\0" * (8 * 1024 * 1024 + 1)) == "The file is larger than 8 MB."


@pytest.mark.parametrize("width,height,limit", [
    (8000, 6000, 40_000_000),  # 48 MP: over UPLOAD_MAX_PIXELS, under Pillow's own limits
    (10000, 10000, 150_000_000),  # only Pillow's warning limit (89 MP) stops it: the warning becomes an error
    (20000, 20000, 40_000_000),  # over Pillow's error limit, raised inside Image.open
])
def test_decompression_bomb_refused_without_decoding(ctx, app, monkeypatch, width, height, limit):
    def no_load(self):
        raise AssertionError("decoded a decompression bomb")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_load)
    monkeypatch.setitem(app.config, "UPLOAD_MAX_PIXELS", limit)
    filters, max_pixels = list(warnings.filters), Image.MAX_IMAGE_PIXELS
    truncated = ImageFile.LOAD_TRUNCATED_IMAGES  # WeasyPrint sets it on import: whatever it is, we leave it
    assert refused("photo", png_header(width, height)) == (
        f"The image has too many pixels; at most {limit // 1_000_000} million are allowed.")
    assert warnings.filters == filters and Image.MAX_IMAGE_PIXELS == max_pixels  # global state untouched
    assert ImageFile.LOAD_TRUNCATED_IMAGES == truncated


def test_pixel_limit_read_from_config(ctx, app, monkeypatch):
    data = encode(portrait(size=(600, 840)))
    monkeypatch.setitem(app.config, "UPLOAD_MAX_PIXELS", 500_000)
    assert refused("id_front", data) == "The image has too many pixels; at most 0.5 million are allowed."
    monkeypatch.setitem(app.config, "UPLOAD_MAX_PIXELS", 504_000)
    assert process("id_front", data).width == 600


def test_unknown_kind_is_a_programming_error(ctx):
    with pytest.raises(ValueError):
        process("selfie", encode(portrait()))


# --- signature ----------------------------------------------------------------------------------
def test_transparent_signature_stays_a_transparent_png(ctx):
    im = Image.new("RGBA", (3000, 1000), (0, 0, 0, 0))
    ImageDraw.Draw(im).line((200, 800, 1500, 200, 2800, 700), fill=(0, 0, 0, 255), width=40)
    result = process("signature", encode(im, "PNG"))
    out = reopen(result)
    assert (result.content_type, result.extension) == ("image/png", "png")
    assert out.mode == "RGBA" and out.size == (2000, 667)
    assert out.getpixel((5, 5))[3] == 0  # background still transparent
    assert out.getpixel((567, 333)) == (0, 0, 0, 255)  # on the stroke


def test_signature_modes(ctx):
    grey = Image.new("L", (600, 200), 255)
    ImageDraw.Draw(grey).line((50, 150, 550, 50), fill=0, width=8)
    assert reopen(process("signature", encode(grey, "PNG"))).mode == "L"
    grey_alpha = reopen(process("signature", encode(grey.convert("LA"), "PNG")))
    assert grey_alpha.mode == "LA"
    photo = reopen(process("signature", encode(grey.convert("RGB"), quality=90)))  # a photographed signature
    assert photo.format == "PNG" and photo.mode == "RGB" and photo.size == (600, 200)


def test_tiny_signature_refused(ctx):
    message = refused("signature", encode(Image.new("L", (80, 30), 255), "PNG"))
    assert message == ("The signature image is too small (80 × 30 pixels); its longer side must be at least "
                       "100 pixels.")


# --- scans --------------------------------------------------------------------------------------
def test_large_scan_scaled_down_to_a_jpeg(ctx, app):
    im = Image.new("RGB", (4000, 3000), (240, 240, 230))
    ImageDraw.Draw(im).rectangle((400, 300, 3600, 2700), outline=(20, 20, 20), width=30)
    result = process("id_front", encode(im, quality=95))
    out = reopen(result)
    assert (result.content_type, result.extension) == ("image/jpeg", "jpg")
    assert out.size == (2000, 1500) and max(out.size) == app.config["SCAN_MAX_SIDE_PX"]
    assert out.mode == "RGB"


def test_small_scan_kept_at_its_size(ctx):
    out = reopen(process("education_proof", encode(portrait(size=(600, 840)), "PNG")))
    assert out.format == "JPEG" and out.size == (600, 840)


def test_sideways_scan_turned_upright(ctx):
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 8
    out = reopen(process("id_back", encode(Image.new("RGB", (3000, 2000), WHITE), exif=exif)))
    assert out.size == (1333, 2000)


def test_transparent_scan_laid_on_white(ctx):
    im = Image.new("RGBA", (800, 500), (0, 0, 0, 0))
    ImageDraw.Draw(im).rectangle((300, 200, 500, 300), fill=(0, 0, 200, 255))
    out = reopen(process("other", encode(im, "PNG")))
    assert out.mode == "RGB" and min(out.getpixel((10, 10))) > 245
    assert out.getpixel((400, 250))[2] > 150


def test_16_bit_grey_scan_not_washed_out(ctx):
    out = reopen(process("id_handheld", encode(Image.new("I;16", (400, 400), 40000), "PNG")))
    assert abs(out.getpixel((200, 200))[0] - 40000 // 256) <= 2


def test_cmyk_jpeg_scan_becomes_rgb(ctx):
    out = reopen(process("id_front", encode(Image.new("CMYK", (600, 400), (0, 0, 0, 0)), quality=90)))
    assert out.mode == "RGB" and min(out.getpixel((300, 200))) > 245


def test_small_scan_refused(ctx):
    message = refused("id_front", encode(Image.new("RGB", (250, 400), WHITE)))
    assert message == ("The image is too small to read (250 × 400 pixels); its shorter side must be at least 300 "
                       "pixels.")


def test_truncated_files_are_refused_even_after_weasyprint_allows_truncated_images(ctx, monkeypatch):
    """WeasyPrint sets Pillow's process-wide LOAD_TRUNCATED_IMAGES on import; our check does not rely on it."""
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    for fmt in ("JPEG", "PNG"):
        buf = io.BytesIO()
        Image.new("RGB", (800, 1000), "white").save(buf, fmt)
        whole = buf.getvalue()
        with pytest.raises(UploadRejected) as refused:
            process("id_front", whole[: len(whole) // 2])
        assert "damaged or incomplete" in str(refused.value)
