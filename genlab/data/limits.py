"""Every limit genlab puts on data that users hand in, in one place (quoted by the README's
"Security and limits" section).

Nothing a user sends is trusted: an uploaded zip, CSV or picture and a `data.path` in a config (typed,
or inside an imported run) are checked against these limits before anything large is allocated or
decoded, and each refusal is a one-line error that names the file and the limit.

Where data may be read from
    `data.path` must resolve (symlinks followed, `..` collapsed) inside one of the allowed data roots:
    DEFAULT_DATA_DIR (`data/` under the working directory; the app and the CLI run from the repository
    root), the SYSTEM_DATA_ROOTS, and the folders listed in the DATA_ROOTS_ENV environment variable
    (separated by the OS path separator, ':' on Linux). torchvision downloads only into DEFAULT_DATA_DIR
    or a folder of DATA_ROOTS_ENV, never into a system root. Uploads never become server paths: they
    are passed to the loaders as bytes.

Images (every image upload and every file of an image folder)
    Opened only as IMAGE_FORMATS, never by content sniffing alone (Pillow would otherwise start
    Ghostscript for an EPS named `.png`). Width x height, read from the header before decoding (after
    JPEG's reduced-size decoding is chosen), must be at most MAX_IMAGE_PIXELS; a file at most
    MAX_IMAGE_FILE_BYTES; decoding one file may take IMAGE_DECODE_SECONDS of CPU time (checked
    in-process between 64 KiB blocks of input; genlab.data.untrusted_image says what that bounds).

Folders and zips of images
    At most MAX_IMAGE_FILES images, and at most MAX_IMAGE_DATA_BYTES of kept uint8 pixels at the run's
    image size (64 px: 87,381 images; 32 px: all 100,000). A zip is at most MAX_ZIP_BYTES compressed and
    its image entries at most MAX_ZIP_BYTES uncompressed (from the zip's directory, before anything is
    extracted), with at most MAX_ZIP_ENTRIES entries. Decoding a whole set may spend at most
    MAX_DECODED_PIXELS pixels and MAX_DECODE_SECONDS seconds of CPU; past either the set is refused.

2D points (CSV upload or file, .npy file)
    MIN_POINTS to MAX_POINTS rows, at most MAX_CSV_BYTES per file and MAX_CSV_LINE_CHARS per line,
    finite coordinates below MAX_COORDINATE in magnitude. A CSV is parsed as a stream
    and refused at the first bad line; a .npy file is read without pickle, its header (shape, dtype)
    checked before the array is allocated.
"""
from __future__ import annotations

# --- where data may be read from ---------------------------------------------------------------
DEFAULT_DATA_DIR = "data"
SYSTEM_DATA_ROOTS = ("/usr/share/datasets",)  # Debian's dataset-* packages (read only)
DATA_ROOTS_ENV = "GENLAB_DATA_ROOTS"

# --- one image -----------------------------------------------------------------------------------
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP")  # Pillow's names; MPO (a camera JPEG) counts as JPEG
MAX_IMAGE_PIXELS = 4096 * 4096  # 16.8 megapixels, e.g. a 12 MP phone photo fits
MAX_IMAGE_FILE_BYTES = 32 * 2**20
IMAGE_DECODE_SECONDS = 3.0  # CPU seconds of the decoding thread

# --- a folder or zip of images ---------------------------------------------------------------------
MAX_IMAGE_FILES = 100_000
MAX_IMAGE_DATA_BYTES = 2**30  # kept images (uint8) on the training device; also caps the shapes set
MAX_ZIP_BYTES = 200 * 2**20  # Streamlit's default upload limit is 200 MB as well
MAX_ZIP_ENTRIES = 2 * MAX_IMAGE_FILES  # folders, macOS litter and other files besides the images
MAX_DECODED_PIXELS = 1_000_000_000  # e.g. 60 full-size 16 MP PNGs, or a million 32 px thumbnails
MAX_DECODE_SECONDS = 120.0  # CPU seconds, all images of a set together

# --- 2D points ------------------------------------------------------------------------------------
MIN_POINTS = 16
MAX_POINTS = 1_000_000
MAX_CSV_BYTES = 64 * 2**20  # 1,000,000 rows of two full-precision floats take about 50 MB
MAX_CSV_LINE_CHARS = 256
# why: a step squares and sums coordinates (D's weight gradients, R1); a ring scaled to 1e22 overflowed
# float32 at its first step, 1e19 trained
MAX_COORDINATE = 1e15


def max_images(image_size: int) -> int:
    """How many images of `image_size` px (3 channels, uint8) a folder or zip may hold."""
    return min(MAX_IMAGE_FILES, MAX_IMAGE_DATA_BYTES // (3 * image_size * image_size))
