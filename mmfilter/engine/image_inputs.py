"""The image files the tools read and write: decoded as RGB with their EXIF
orientation, folders expanded, one output file per input."""
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import cv2
import mmcv
import numpy as np


class ImageReadError(ValueError):
    """An input image that is missing or does not decode."""


def read_rgb(path: str) -> np.ndarray:
    """An image file as RGB ``uint8 [H, W, 3]``, turned by its EXIF orientation;
    raises :class:`ImageReadError` naming the file if it cannot be read."""
    if not osp.isfile(path):
        raise ImageReadError(f'image not found: {path}')
    if osp.getsize(path) == 0:
        raise ImageReadError(f'cannot read image {path}: the file is empty')
    try:
        image = mmcv.imread(path, flag='color')  # OpenCV applies the EXIF orientation
    except cv2.error:
        image = None
    if image is None:  # the bytes do not decode
        raise ImageReadError(f'cannot read image {path}: not a decodable image file')
    return mmcv.bgr2rgb(image)


#: the image files a folder given to a tool stands for (MMDetection's image demo's list)
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')


def expand_image_inputs(inputs: Sequence[str]) -> List[str]:
    """The inputs with every folder replaced by the image files directly in it
    (extensions of :data:`IMG_EXTENSIONS`, any case), sorted by name; raises
    :class:`ImageReadError` for a folder that holds none."""
    from mmengine.fileio import list_dir_or_file
    paths = []
    for path in inputs:
        if not osp.isdir(path):
            paths.append(path)
            continue
        names = sorted(name for name in list_dir_or_file(path, list_dir=False)
                       if name.lower().endswith(IMG_EXTENSIONS))
        if not names:
            raise ImageReadError(f'no images ({", ".join(IMG_EXTENSIONS)}) in folder {path}')
        paths += [osp.join(path, name) for name in names]
    return paths


def readable_images(paths: Sequence[str]) -> Tuple[List[str], Dict[str, str]]:
    """``(readable paths, {unreadable path: why})`` (each image is decoded once)."""
    readable, unreadable = [], {}
    for path in paths:
        try:
            read_rgb(path)
            readable.append(path)
        except ImageReadError as e:
            unreadable[path] = str(e)
    return readable, unreadable


def output_paths(inputs: Sequence[str], out_dir: str, suffix: str = '.png') -> Dict[str, str]:
    """One output file per input, mirroring the inputs' paths below their common
    folder, so ``a/x.png`` and ``b/x.png`` never write the same file."""
    folders = [osp.dirname(osp.abspath(p)) for p in inputs]
    root = osp.commonpath(folders) if folders else ''
    return {p: osp.join(out_dir, osp.splitext(osp.relpath(osp.abspath(p), root))[0] + suffix)
            for p in inputs}
