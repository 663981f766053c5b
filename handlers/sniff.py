"""What an uploaded file really is, from its bytes, and a name safe to keep.

A file is trusted neither for its name nor for the type the browser claims:
an ``.jpg`` must start like an image, an ``.xlsx`` must be a zip holding a
workbook. The kind found here decides the content type it is stored and
served with, so HTML renamed to ``.jpg`` can never come back as ``text/html``.
"""
from __future__ import annotations

import re
import unicodedata
import zipfile
from pathlib import Path

from handlers.problems import Problem

# A zip (xlsx, docx, zip) may not promise to unpack to more than this, nor hold more members:
MAX_UNZIPPED = 64 * 1024 * 1024
MAX_MEMBER = 24 * 1024 * 1024  # one part (a sheet, the shared strings) that openpyxl holds or walks whole
MAX_ZIP_MEMBERS = 2000
MAX_RATIO = 200  # an xlsx compresses ~5–20×; a bomb compresses ~1000×
MAX_NAME_BYTES = 180  # well under the 255-byte limits of file systems and the files.filename column

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, .doc
IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"), (b"GIF87a", "gif"), (b"GIF89a", "gif"))
CONTENT_TYPES = {
    "png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xls": "application/vnd.ms-excel", "csv": "text/csv; charset=utf-8", "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "zip": "application/zip",
}
IMAGE_KINDS = {"png", "jpeg", "gif", "webp"}
# The kinds each extension may hold (what the name promises, what the bytes must be).
EXTENSION_KINDS = {
    ".jpg": IMAGE_KINDS, ".jpeg": IMAGE_KINDS, ".png": IMAGE_KINDS, ".gif": IMAGE_KINDS, ".webp": IMAGE_KINDS,
    ".xlsx": {"xlsx"}, ".xls": {"xls"}, ".csv": {"csv"}, ".pdf": {"pdf"}, ".doc": {"doc"},
    ".docx": {"docx"}, ".zip": {"zip", "xlsx", "docx"},
}
_RESERVED = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}


def safe_filename(raw: str, fallback: str = "file") -> str:
    """The last path component, without NUL, control, reserved or path characters,
    not a Windows device name, at most ``MAX_NAME_BYTES`` of UTF-8 (extension kept)."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[\\/]", name)[-1]
    name = _RESERVED.sub("_", name).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 10:
        stem, dot, ext = name, "", ""
    if stem.split(".")[0].upper() in _WINDOWS_DEVICES:
        stem = "_" + stem
    while len((stem + dot + ext).encode()) > MAX_NAME_BYTES:
        stem = stem[:-1]
    name = (stem + dot + ext).strip(" .")
    return name if stem.strip(" ._") else (fallback + dot + ext if ext else fallback)


def extension(name: str) -> str:
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


def sniff(path: str | Path) -> str | None:
    """The kind of file the bytes say (see ``CONTENT_TYPES``), or None when none fits."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    for magic, kind in IMAGE_MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(OLE2):
        return "ole2"  # an .xls or a .doc: the name decides which
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_kind(path)
    if _is_text(path, head):
        return "csv"
    return None


def kind_for(extension_: str, sniffed: str | None) -> str | None:
    """The kind to keep when the bytes fit what the name promises, else None."""
    if sniffed == "ole2":
        sniffed = {".xls": "xls", ".doc": "doc"}.get(extension_)
    allowed = EXTENSION_KINDS.get(extension_, set())
    return sniffed if sniffed in allowed else None


def zip_problem(path: str | Path) -> Problem | None:
    """Refuse a zip (and so an xlsx) before anything unpacks it, from its own directory:
    too many members, too much promised, or an implausible compression ratio.

    The declared sizes can be trusted as a bound: Python's zipfile (which openpyxl
    reads through) stops each member's output at its declared ``file_size``."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return Problem("unreadable")
    limit_mb = MAX_UNZIPPED // (1024 * 1024)
    if len(infos) > MAX_ZIP_MEMBERS:
        return Problem("zip_too_many", {"count": len(infos), "limit": MAX_ZIP_MEMBERS})
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    biggest = max((i.file_size for i in infos), default=0)
    if total > MAX_UNZIPPED or biggest > MAX_MEMBER or (total > 1024 * 1024 and total > MAX_RATIO * max(packed, 1)):
        return Problem("zip_bomb", {"limit_mb": limit_mb, "part_mb": MAX_MEMBER // (1024 * 1024)})
    return None


def _zip_kind(path: str | Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if "[Content_Types].xml" in names and "xl/workbook.xml" in names:
        return "xlsx"
    if "[Content_Types].xml" in names and "word/document.xml" in names:
        return "docx"
    return "zip"


def _is_text(path: str | Path, head: bytes) -> bool:
    """CSV is text: no NUL, decodable as UTF-8 or GB18030, and not an HTML page."""
    if not head or b"\x00" in head:
        return False
    lowered = head[:512].lstrip().lower()
    if lowered.startswith((b"<!doctype", b"<html", b"<?xml", b"<svg", b"<script")):
        return False
    sample = head[:4000]
    for enc in ("utf-8-sig", "gb18030"):
        try:
            sample.decode(enc)
            return True
        except UnicodeDecodeError as exc:
            if exc.start >= len(sample) - 4:  # a character cut by the sample's end
                return True
    return False
