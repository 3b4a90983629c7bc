"""Untrusted images: the one opener (formats, pixel limit, time budget, conversions) and the zip and
folder loaders built on it. Tables of hostile inputs; each row names what must be refused and why."""
from __future__ import annotations

import io
import itertools
import os
import re
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image, ImageFile

from genlab.config import ConfigError, DataConfig
from genlab.data import image_zip, images_from_folder, images_from_zip_bytes, limits, load_data, untrusted_image
from genlab.data.untrusted_image import (
    NOT_ALLOWED,
    TOO_LARGE,
    TOO_MANY_PIXELS,
    TOO_SLOW,
    UNREADABLE,
    DecodeBudget,
    DecodeBudgetExceeded,
    ImageRefused,
    open_untrusted_image,
    to_eight_bit,
)

REPO = Path(__file__).resolve().parent.parent
EPS = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n%%EndComments\n"
       b"0 0 moveto 8 8 lineto stroke\nshowpage\n%%EOF\n")


# --- helpers -------------------------------------------------------------------------------------

def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def rng_image(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def with_png_size(png: bytes, width: int, height: int) -> bytes:
    """`png` with its IHDR claiming another size (CRC fixed, so only the size is a lie)."""
    start = png.index(b"IHDR")
    body = struct.pack(">II", width, height) + png[start + 12 : start + 17]
    return png[:start + 4] + body + struct.pack(">I", zlib.crc32(b"IHDR" + body)) + png[start + 21 :]


def zip_bytes(entries: dict[str, bytes | zipfile.ZipInfo], symlinks: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if name in symlinks:
                info.external_attr = 0o120777 << 16  # a Unix symbolic link, its target as the content
            archive.writestr(info, data)
    return buffer.getvalue()


def record_of(archive: bytes, member: str, central: bool) -> int:
    """Offset of `member`'s central-directory record (or local header) in `archive`."""
    signature, name_at = (b"PK\x01\x02", 46) if central else (b"PK\x03\x04", 30)
    at = archive.index(signature)
    while archive[at + name_at : at + name_at + len(member)] != member.encode():
        at = archive.index(signature, at + 4)
    return at


def overwritten(data: bytes, at: int, value: bytes) -> bytes:
    return data[:at] + value + data[at + len(value) :]


BIG_PNG = encode(Image.new("L", (7000, 7000)))  # 49 megapixels in about 48 KB


@pytest.fixture
def ghostscript_calls(monkeypatch):
    """Records every attempt to start Ghostscript (it would run with no time limit)."""
    calls = []

    def spy(*args, **kwargs):
        calls.append(args)
        raise OSError("Ghostscript must never run on an upload")

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", spy)
    return calls


@pytest.fixture
def decodes(monkeypatch):
    """Counts images whose pixel data Pillow decodes."""
    calls = []
    original = ImageFile.ImageFile.load

    def counting(self):
        if self.tile:  # pixel data still to decode (later calls return the loaded image)
            calls.append(self.size)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting)
    return calls


# --- the opener: hostile images ----------------------------------------------------------------------

HOSTILE = {
    "eps_named_png": (lambda: EPS, NOT_ALLOWED, "EPS images are not accepted"),
    "tiff": (lambda: encode(Image.new("RGB", (8, 8)), "TIFF"), NOT_ALLOWED, "TIFF images are not accepted"),
    "ico": (lambda: encode(Image.new("RGB", (16, 16)), "ICO"), NOT_ALLOWED, "ICO images are not accepted"),
    "garbage": (lambda: b"definitely not an image", UNREADABLE, "not a readable image"),
    "empty": (lambda: b"", UNREADABLE, "not a readable image"),
    "png_signature_only": (lambda: b"\x89PNG\r\n\x1a\n", UNREADABLE, "not a readable image"),
    "truncated_png": (lambda: encode(Image.fromarray(rng_image((64, 64, 3))))[:400], UNREADABLE, "damaged PNG data"),
    "png_7000_squared": (lambda: BIG_PNG, TOO_MANY_PIXELS, "7000×7000 pixels"),
    "png_header_5000_squared": (lambda: with_png_size(encode(Image.new("L", (8, 8))), 5000, 5000), TOO_MANY_PIXELS,
                                "5000×5000 pixels"),
    "png_header_bomb": (lambda: with_png_size(encode(Image.new("L", (8, 8))), 60000, 60000), TOO_MANY_PIXELS,
                        "more pixels than the limit"),
    "wide_strip": (lambda: encode(Image.new("L", (65000, 300))), TOO_MANY_PIXELS, "65000×300 pixels"),
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_images_are_refused_before_decoding(kind, ghostscript_calls, decodes):
    make, reason, words = HOSTILE[kind]
    data = make()
    decodes.clear()  # making the sample may decode
    with pytest.raises(ImageRefused) as info:
        open_untrusted_image(data, name=f"{kind}.png")
    message = str(info.value)
    assert info.value.reason == reason and words in message and message.startswith(f"{kind}.png: ")
    assert "\n" not in message
    assert ghostscript_calls == []
    if reason != UNREADABLE:  # refused from the header: no pixel was decoded
        assert decodes == []


def test_an_eps_named_png_in_a_zip_never_starts_ghostscript(ghostscript_calls):
    good = encode(Image.fromarray(rng_image((16, 16, 3))))
    data = images_from_zip_bytes(zip_bytes({"a.png": good, "evil.png": EPS}), 32)
    assert ghostscript_calls == []
    assert len(data) == 1 and data.skipped == 1 and f"1 {NOT_ALLOWED}" in data.origin


def test_a_large_jpeg_decodes_at_reduced_size_when_it_will_be_shrunk(decodes):
    photo = encode(Image.new("RGB", (6000, 4000), (200, 30, 40)), "JPEG", quality=80)
    with pytest.raises(ImageRefused, match="6000×4000 pixels"):
        open_untrusted_image(photo, name="photo.jpg")
    small = open_untrusted_image(photo, name="photo.jpg", draft_size=64)
    assert max(small.size) <= 6000 // 8 and min(small.size) >= 64  # JPEG scales by 1/2, 1/4 or 1/8
    assert decodes == [small.size]
    assert np.abs(np.asarray(small, dtype=int) - (200, 30, 40)).max() <= 3


def test_a_file_over_the_byte_limit_is_refused_unopened(monkeypatch, decodes):
    monkeypatch.setattr(untrusted_image, "MAX_IMAGE_FILE_BYTES", 1000)
    data = encode(Image.fromarray(rng_image((40, 40, 3))))
    assert len(data) > 1000
    with pytest.raises(ImageRefused) as info:
        open_untrusted_image(data, name="big.png")
    assert info.value.reason == TOO_LARGE and decodes == []


def test_decoding_stops_once_the_time_budget_is_spent(monkeypatch):
    """A CPU clock that moves one second per look: the decoder is refused more input once the budget is
    gone, while the same image with a clock that stands still is read in full."""
    data = encode(Image.fromarray(rng_image((600, 600, 3))))  # many 64 KiB blocks of compressed data
    ticks = itertools.count()
    monkeypatch.setattr(untrusted_image, "thread_time", lambda: float(next(ticks)))
    with pytest.raises(ImageRefused) as info:
        open_untrusted_image(data, name="slow.png", seconds=10.0)
    assert info.value.reason == TOO_SLOW and "more than 10 s of CPU" in str(info.value)
    monkeypatch.setattr(untrusted_image, "thread_time", lambda: 0.0)
    assert open_untrusted_image(data, name="slow.png", seconds=10.0).size == (600, 600)


def test_a_decode_budget_caps_pixels_and_seconds_for_a_whole_set(monkeypatch):
    image = encode(Image.new("L", (100, 100)))
    budget = DecodeBudget(pixels=25_000, seconds=60)
    open_untrusted_image(image, name="1.png", budget=budget)
    open_untrusted_image(image, name="2.png", budget=budget)
    with pytest.raises(DecodeBudgetExceeded, match=r"more than 25,000 pixels in all \(stopped at 3.png\)"):
        open_untrusted_image(image, name="3.png", budget=budget)
    ticks = itertools.count()
    monkeypatch.setattr(untrusted_image, "thread_time", lambda: float(next(ticks)))
    budget = DecodeBudget(seconds=3)
    with pytest.raises(DecodeBudgetExceeded, match="took more than 3 s of CPU in all"):
        for i in range(10):
            open_untrusted_image(image, name=f"{i}.png", budget=budget, seconds=1e9)


# --- the opener: conversions ---------------------------------------------------------------------------

GRADIENT16 = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16).astype(np.uint16)  # 0..65520
RGBA = np.dstack([rng_image((16, 16, 3), 1), np.tile(np.linspace(0, 255, 16).astype(np.uint8), (16, 1))])
PALETTE = Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8) % 4, mode="P")
PALETTE.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 756)
PALETTE_RGB = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]], dtype=np.uint8)[np.asarray(PALETTE)]
CMYK = (0, 128, 255, 64)
BITS = rng_image((16, 16)) > 127


def composite_on_black(rgba: np.ndarray) -> np.ndarray:
    return rgba[..., :-1].astype(np.float64) * rgba[..., -1:] / 255.0


CONVERSIONS = {
    # name: (encoded image, expected mode, expected pixels computed from the source, tolerance)
    "png_16_bit_grey": (lambda: encode(Image.fromarray(GRADIENT16)), "L", GRADIENT16 / 257.0, 0.5),
    "png_rgba": (lambda: encode(Image.fromarray(RGBA)), "RGB", composite_on_black(RGBA), 1),
    "png_la": (lambda: encode(Image.fromarray(RGBA[..., [0, 3]], mode="LA")), "L",
               composite_on_black(RGBA[..., [0, 3]])[..., 0], 1),
    "png_palette": (lambda: encode(PALETTE), "RGB", PALETTE_RGB, 0),
    "png_palette_transparent": (lambda: encode(PALETTE, transparency=1), "RGB",
                                np.where((np.asarray(PALETTE) == 1)[..., None], 0, PALETTE_RGB), 0),
    "png_1_bit": (lambda: encode(Image.fromarray(BITS)), "L", BITS * 255.0, 0),
    "gif_palette": (lambda: encode(PALETTE, "GIF"), "RGB", PALETTE_RGB, 0),
    "bmp_rgb": (lambda: encode(Image.fromarray(RGBA[..., :3]), "BMP"), "RGB", RGBA[..., :3], 0),
    "webp_lossless_rgb": (lambda: encode(Image.fromarray(RGBA[..., :3]), "WEBP", lossless=True), "RGB",
                          RGBA[..., :3], 0),
    "jpeg_cmyk": (lambda: encode(Image.new("CMYK", (16, 16), CMYK), "JPEG", quality=100), "RGB",
                  np.full((16, 16, 3), [(255 - c) * (255 - CMYK[3]) / 255 for c in CMYK[:3]]), 3),
    "jpeg_grey": (lambda: encode(Image.new("L", (16, 16), 77), "JPEG", quality=100), "L", np.full((16, 16), 77), 1),
}


@pytest.mark.parametrize("kind", CONVERSIONS)
def test_every_mode_converts_to_eight_bits_correctly(kind):
    make, mode, expected, tolerance = CONVERSIONS[kind]
    image = open_untrusted_image(make(), name=kind)
    assert image.mode == mode
    assert np.abs(np.asarray(image, dtype=np.float64) - expected).max() <= tolerance


@pytest.mark.parametrize("values", [GRADIENT16.astype(np.int32), np.array([[-5, 0, 65535, 70000]], dtype=np.int32)],
                         ids=["gradient", "out_of_range"])
def test_32_bit_integer_grey_is_read_as_sixteen_bit_range(values):
    image = to_eight_bit(Image.fromarray(values))
    assert image.mode == "L"
    assert np.array_equal(np.asarray(image), np.rint(np.clip(values, 0, 65535) / 257.0).astype(np.uint8))


def test_sixteen_bit_pngs_in_a_zip_keep_their_grey_levels():
    """Before: 16-bit PNGs were clipped at 255, so a gradient came out almost all white."""
    archive = zip_bytes({f"{i}.png": encode(Image.fromarray(np.roll(GRADIENT16, i, axis=1))) for i in range(3)})
    data = images_from_zip_bytes(archive, 64)
    assert data.x.shape == (3, 1, 64, 64)
    assert data.x[0, 0].float().mean().item() == pytest.approx(GRADIENT16.mean() / 257, abs=1.0)
    assert (data.x == 255).float().mean() < 0.02


# --- zips ---------------------------------------------------------------------------------------------------

PNG = encode(Image.fromarray(rng_image((20, 20, 3), 2)))
JPEG = encode(Image.fromarray(rng_image((30, 40, 3), 3)), "JPEG")


def encrypted(archive: bytes, member: str) -> bytes:
    """`archive` with `member` marked encrypted (as if zipped with a password)."""
    for central, flags_at in ((True, 8), (False, 6)):
        at = record_of(archive, member, central) + flags_at
        archive = overwritten(archive, at, bytes([archive[at] | 1]))
    return archive


def lying_about_size(archive: bytes, member: str) -> bytes:
    """`archive` whose directory says `member` unpacks to 10 bytes, although it unpacks to more."""
    return overwritten(archive, record_of(archive, member, central=True) + 24, struct.pack("<I", 10))


ZIPS = {
    # name: (archive, images kept, {skip reason: count})
    "eps_tiff_and_garbage": (lambda: zip_bytes({"a.png": PNG, "b.jpg": JPEG, "c.png": EPS,
                                                "d.png": encode(Image.new("RGB", (8, 8)), "TIFF"), "e.png": b"junk"}),
                             2, {NOT_ALLOWED: 2, UNREADABLE: 1}),
    "huge_pixels": (lambda: zip_bytes({"a.png": PNG, "huge.png": BIG_PNG}), 1, {TOO_MANY_PIXELS: 1}),
    "symlink": (lambda: zip_bytes({"a.png": PNG, "link.png": b"/etc/passwd"}, symlinks=("link.png",)),
                1, {"symbolic link": 1}),
    "encrypted": (lambda: encrypted(zip_bytes({"a.png": PNG, "secret.png": PNG}), "secret.png"), 1, {UNREADABLE: 1}),
    "lies_about_size": (lambda: lying_about_size(zip_bytes({"a.png": PNG, "liar.png": BIG_PNG}), "liar.png"),
                        1, {UNREADABLE: 1}),
}


@pytest.mark.parametrize("kind", ZIPS)
def test_hostile_zip_entries_are_skipped_and_counted_by_reason(kind, ghostscript_calls):
    make, kept, reasons = ZIPS[kind]
    data = images_from_zip_bytes(make(), 32)
    assert len(data) == kept and data.skipped == sum(reasons.values())
    assert f"(skipped {data.skipped}: " in data.origin
    for reason, count in reasons.items():
        assert f"{count} {reason}" in data.origin
    assert ghostscript_calls == []


def test_a_zip_of_only_refused_images_says_why_each_was_skipped():
    archive = zip_bytes({"a.png": EPS, "b.png": BIG_PNG, "c.png": b"junk"})
    with pytest.raises(ConfigError) as info:
        images_from_zip_bytes(archive, 32)
    message = str(info.value)
    assert info.value.field == "data.path" and "3 files could not be read" in message
    for reason in (NOT_ALLOWED, TOO_MANY_PIXELS, UNREADABLE):
        assert f"1 {reason}" in message


REFUSED_ZIPS = {
    # name: (archive, patches {(module, constant): value}, words in the one-line error)
    "too_many_entries": (lambda: zip_bytes({f"notes/{i}.txt": b"" for i in range(12)}),
                         {(image_zip, "MAX_ZIP_ENTRIES"): 10}, "more than 10 entries"),
    "too_many_images": (lambda: zip_bytes({f"{i}.png": PNG for i in range(6)}),
                        {(limits, "MAX_IMAGE_FILES"): 5}, "holds 6 images; at 32 px at most 5"),
    "too_many_images_for_64_px": (lambda: zip_bytes({f"{i}.png": PNG for i in range(6)}),
                                  {(limits, "MAX_IMAGE_DATA_BYTES"): 5 * 3 * 64 * 64}, "at 64 px at most 5"),
    "pixel_budget": (lambda: zip_bytes({f"{i}.png": encode(Image.new("L", (100, 100))) for i in range(4)}),
                     {(untrusted_image, "MAX_DECODED_PIXELS"): 30_000}, "more than 30,000 pixels in all"),
}


@pytest.mark.parametrize("kind", REFUSED_ZIPS)
def test_zips_over_a_limit_are_refused_as_a_whole(kind, monkeypatch, decodes):
    make, patches, words = REFUSED_ZIPS[kind]
    archive = make()
    for (module, name), value in patches.items():
        monkeypatch.setattr(module, name, value)
    size = 64 if "64" in kind else 32
    with pytest.raises(ConfigError) as info:
        images_from_zip_bytes(archive, size)
    assert info.value.field == "data.path" and words in str(info.value) and "\n" not in str(info.value)
    if kind != "pixel_budget":  # refused from the zip's directory: nothing was decoded
        assert decodes == []


def test_oversized_entries_are_skipped_before_they_are_unpacked(monkeypatch):
    big = encode(Image.fromarray(rng_image((60, 60, 3), 4)))
    archive = zip_bytes({"a.png": PNG, "big.png": big})
    monkeypatch.setattr(image_zip, "MAX_IMAGE_FILE_BYTES", len(PNG))
    unpacked = []
    original_open = zipfile.ZipFile.open

    def recording_open(self, member, *args, **kwargs):
        unpacked.append(member.filename)
        return original_open(self, member, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", recording_open)
    data = images_from_zip_bytes(archive, 32)
    assert len(data) == 1 and f"1 {TOO_LARGE}" in data.origin and unpacked == ["a.png"]


# --- folders -------------------------------------------------------------------------------------------------

def test_folder_files_go_through_the_untrusted_opener(tmp_path, monkeypatch, ghostscript_calls):
    monkeypatch.setenv("GENLAB_DATA_ROOTS", str(tmp_path / "allowed"))
    folder = tmp_path / "allowed" / "images"
    folder.mkdir(parents=True)
    (folder / "a.png").write_bytes(PNG)
    (folder / "b.png").write_bytes(EPS)
    (folder / "c.png").write_bytes(BIG_PNG)
    (folder / "d.png").write_bytes(encode(Image.fromarray(GRADIENT16)))
    secret = tmp_path / "outside" / "secret.png"
    secret.parent.mkdir()
    secret.write_bytes(PNG)
    (folder / "e.png").symlink_to(secret)  # a link out of the data roots is not followed
    (folder / "f.png").symlink_to(folder / "a.png")  # a link inside them is
    os.mkfifo(folder / "g.png")  # reading a FIFO would block forever
    data = images_from_folder(folder, 32)
    assert len(data) == 3 and data.skipped == 4 and ghostscript_calls == []
    for words in (f"1 {NOT_ALLOWED}", f"1 {TOO_MANY_PIXELS}", "1 link to outside the data folders", f"1 {UNREADABLE}"):
        assert words in data.origin
    assert data.x[1, 0].float().mean().item() == pytest.approx(GRADIENT16.mean() / 257, abs=1)


def test_folder_refuses_more_images_than_its_image_size_allows(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_DATA_ROOTS", str(tmp_path))
    monkeypatch.setattr(limits, "MAX_IMAGE_DATA_BYTES", 3 * 3 * 64 * 64)
    for i in range(4):
        (tmp_path / f"{i}.png").write_bytes(PNG)
    assert len(images_from_folder(tmp_path, 28)) == 4
    with pytest.raises(ConfigError, match="more than 3 images"):
        load_data(DataConfig(name="folder", path=str(tmp_path), image_size=64))


def test_only_the_untrusted_opener_decodes_images_in_genlab_data():
    """Every image path in genlab.data goes through open_untrusted_image; nothing else calls Image.open."""
    callers = sorted(p.name for p in (REPO / "genlab" / "data").glob("*.py")
                     if re.search(r"\bImage\.open\(|\bImageOps\.|from PIL import .*\bImageFile\b", p.read_text()))
    assert callers == ["untrusted_image.py"]
