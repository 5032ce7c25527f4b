"""Local images to upload: the same names and weak labels as the CLI's
``--upload`` (client/datapool_client.cc, ListLocalImages)."""

import os
from dataclasses import dataclass

import grpc

from .errors import DatapoolError, invalid_argument

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def is_image_filename(name):
    """True for .jpg .jpeg .png .bmp .webp .tif .tiff, in any letter case."""
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


@dataclass(frozen=True)
class LocalImage:
    filename: str  # the sample's name on the server
    path: str      # where to read it here
    label: int


def _walk_error(error):
    raise error


def list_local_images(paths):
    """[LocalImage] for files and folders given.

    A file is sent under its base name (label 0); it must have an image
    extension. A folder is walked recursively (symlinks followed) and its
    image files are sent in sorted order as "<folder name>/<path inside>",
    labelled with the index of their first-level subfolder (sorted; 0 for
    files directly in the folder).
    """
    out = []
    for given in paths:
        given = os.fspath(given)
        if isinstance(given, bytes):
            given = os.fsdecode(given)
        root = os.path.normpath(given)
        if not os.path.exists(root):
            raise DatapoolError(grpc.StatusCode.NOT_FOUND,
                                "no such file or folder: %s" % given)
        if not os.path.isdir(root):
            name = os.path.basename(root)
            if not is_image_filename(name):
                raise invalid_argument(
                    "%s is not an image file (%s)"
                    % (given, " ".join(IMAGE_EXTENSIONS)))
            out.append(LocalImage(name, root, 0))
            continue
        # Named by the folder's own name; ".", ".." and "/" name none.
        if root == "." or os.path.basename(root) == "..":
            prefix = ""
        else:
            prefix = os.path.basename(os.path.abspath(root))
        files = []        # (inside, first-level folder or "")
        subfolders = {}   # first-level folder -> label
        try:
            for dirpath, dirnames, filenames in os.walk(
                    root, followlinks=True, onerror=_walk_error):
                rel = os.path.relpath(dirpath, root)
                if rel == ".":
                    for d in dirnames:
                        subfolders[d] = 0
                    rel = ""
                for name in filenames:
                    if not is_image_filename(name):
                        continue
                    inside = name if not rel else (
                        rel.replace(os.sep, "/") + "/" + name)
                    top = inside.split("/", 1)[0] if "/" in inside else ""
                    files.append((inside, top))
        except OSError as e:
            raise invalid_argument("cannot list %s: %s" % (given, e)) from None
        files.sort()
        for index, name in enumerate(sorted(subfolders)):
            subfolders[name] = index
        for inside, top in files:
            out.append(LocalImage(
                prefix + "/" + inside if prefix else inside,
                os.path.join(root, *inside.split("/")),
                subfolders.get(top, 0) if top else 0))
    return out


def read_image(image):
    """The file's bytes, or DatapoolError INVALID_ARGUMENT."""
    try:
        with open(image.path, "rb") as f:
            return f.read()
    except OSError as e:
        raise invalid_argument("cannot read %s: %s"
                               % (image.path, e.strerror or e)) from None
