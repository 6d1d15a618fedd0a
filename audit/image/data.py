"""Image inputs: a metadata CSV (one row per image) and the image files it names, read into one float array.

What an image audit reads is a folder of images and a table saying, per image, its id, its file, its label
and its group attributes. :func:`read_images` reads both into an :class:`ImageSet`: the images as a float32
array (N, C, H, W) in [0, 1] (8-bit values / 255), in the order of the CSV's rows, and the table itself
(every column kept, for labels and groups).

Why so strict: an audit must say exactly which inputs it measured. A file that is missing, that Pillow
cannot read, that is not 8-bit, or whose size differs from the others is refused with a ValueError of one
line naming the row's id and the file, never skipped or resized silently (a resized image is not the image
the model saw in production). Files are read relative to ``image_dir`` (default: the CSV's folder) and
must stay inside it. Pillow's own decompression-bomb guard stays on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["ImageSet", "read_images", "read_image_files", "CHANNEL_MODES"]

#: Channels requested -> the Pillow mode every image is converted to (palette, grey+alpha and RGB(A) images convert).
CHANNEL_MODES = {1: "L", 3: "RGB"}
# Pillow modes holding 8-bit samples (what /255 maps to [0, 1]); 16-bit, 32-bit integer and float images are refused.
_EIGHT_BIT = frozenset({"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"})


@dataclass
class ImageSet:
    """Images of a metadata CSV: ``images`` (N, C, H, W) float32 in [0, 1], ``metadata`` its rows in that order."""

    images: np.ndarray
    metadata: pd.DataFrame
    ids: list[str]
    source: Path

    def __len__(self) -> int:
        return len(self.ids)


def read_images(metadata_csv: str | Path, *, image_dir: str | Path | None = None, id_column: str = "id",
                file_column: str = "file", channels: int = 1, rows: pd.Series | np.ndarray | None = None) -> ImageSet:
    """Read the metadata CSV and every image it lists (or the rows where ``rows`` is true).

    ``channels`` is 1 (grayscale, Pillow mode L) or 3 (RGB); every image is converted to it. Raises ValueError
    (one line) for a missing CSV or column, an empty selection, a duplicate or empty id, a missing file, a file
    outside ``image_dir``, an unreadable or non-8-bit image, and an image whose size differs from the first one.
    """
    csv = Path(metadata_csv)
    if channels not in CHANNEL_MODES:
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), not {channels!r}")
    if not csv.is_file():
        raise ValueError(f"image metadata CSV not found: {csv}")
    table = pd.read_csv(csv, dtype={id_column: str, file_column: str}, keep_default_na=False)
    for column, role in ((id_column, "id"), (file_column, "file")):
        if column not in table.columns:
            raise ValueError(f"{csv}: no column '{column}' (the {role} of each image); columns: "
                             f"{', '.join(map(str, table.columns))}")
    if rows is not None:
        keep = np.asarray(rows, dtype=bool)
        if keep.shape != (len(table),):
            raise ValueError(f"rows selects {keep.shape[0] if keep.ndim else 0} rows of {csv}, which has {len(table)}")
        table = table[keep]
    table = table.reset_index(drop=True)
    if table.empty:
        raise ValueError(f"{csv}: no image rows to read")
    ids_column = table[id_column].astype(str).str.strip()
    if (ids_column == "").any():
        row = int(np.argmax((ids_column == "").to_numpy())) + 1
        raise ValueError(f"{csv}: an empty {id_column} at data row {row}")
    duplicated = ids_column[ids_column.duplicated()]
    if len(duplicated):
        raise ValueError(f"{csv}: {id_column} '{duplicated.iloc[0]}' appears more than once")
    ids = ids_column.tolist()
    root = Path(image_dir) if image_dir is not None else csv.parent
    files = table[file_column].astype(str).str.strip().tolist()
    images = read_image_files(files=files, ids=ids, root=root, channels=channels)
    return ImageSet(images=images, metadata=table, ids=ids, source=csv)


def read_image_files(*, files: list[str], ids: list[str], root: Path, channels: int = 1) -> np.ndarray:
    """The images ``files`` (relative to ``root``, inside it) as float32 (N, C, H, W) in [0, 1], in that order.

    ``ids`` name the rows in messages. The same refusals as :func:`read_images` (ValueError of one line).
    """
    if channels not in CHANNEL_MODES:
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), not {channels!r}")
    if not files:
        raise ValueError("no image files to read")
    base = root.resolve()
    mode = CHANNEL_MODES[channels]
    first = _read_one(_inside(base, root / files[0], image_id=ids[0], root=root), image_id=ids[0], mode=mode)
    height, width = first.shape[:2]
    images = np.empty((len(files), channels, height, width), dtype=np.float32)
    for i, (image_id, name) in enumerate(zip(ids, files, strict=True)):
        path = _inside(base, root / name, image_id=image_id, root=root)
        array = first if i == 0 else _read_one(path, image_id=image_id, mode=mode)
        if array.shape[:2] != (height, width):
            raise ValueError(f"image '{image_id}' ({path}) is {array.shape[1]}x{array.shape[0]} pixels, but "
                             f"'{ids[0]}' is {width}x{height}: all images must have one size (none is resized)")
        images[i] = np.moveaxis(array.reshape(height, width, -1), -1, 0) / np.float32(255.0)
    return images


def _inside(base: Path, path: Path, *, image_id: str, root: Path) -> Path:
    """The file of one row: it must exist and lie inside the image folder."""
    resolved = path.resolve()
    if not resolved.is_relative_to(base):
        raise ValueError(f"image '{image_id}': {path} is outside the image folder {root}")
    if not resolved.is_file():
        raise ValueError(f"image '{image_id}': file not found: {path}")
    return resolved


def _read_one(path: Path, *, image_id: str, mode: str) -> np.ndarray:
    """One image as uint8 (H, W) or (H, W, 3), converted to ``mode``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            if opened.mode not in _EIGHT_BIT:
                raise ValueError(f"image '{image_id}' ({path}) has Pillow mode {opened.mode}: only 8-bit images "
                                 "are read (convert it to 8-bit grayscale or RGB)")
            converted = opened.convert(mode)
            converted.load()
    except UnidentifiedImageError:
        raise ValueError(f"image '{image_id}': {path} is not an image Pillow can read") from None
    except OSError as exc:  # truncated or corrupt file
        raise ValueError(f"image '{image_id}': {path} could not be read ({exc})") from None
    return np.asarray(converted, dtype=np.uint8)
