"""Uploaded files on disk: the safe name a file is kept under, where in the upload
folder it goes (never over a different kept file), how it is copied there (never
through a link), which kept files a rebuild adds back, and Gradio's temp copies removed
once an upload is handled. Names in messages are shown with ``shown_name``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from ..config import Settings
from ..errors import InputError

UPLOAD_SUFFIXES = (".txt", ".md", ".jsonl")
MAX_UPLOAD_FILES = 20  # files one upload may add; RAG_MAX_UPLOAD_FILES changes it
NAME_BYTES = 120  # an uploaded file's stored stem, at most, in UTF-8 bytes


def safe_filename(name: str) -> str | None:
    """A safe base name for an uploaded file, or None when its type is not accepted:
    directories dropped (``/`` and ``\\``), characters other than letters, digits, ``-``
    and ``.`` (control characters, spaces, NUL, ``<>:"|?*``) replaced by ``_``, no
    leading dot, the suffix in lower case, the stem cut to ``NAME_BYTES`` UTF-8 bytes
    (file systems allow 255 bytes, not characters), Windows device names (``CON``,
    ``NUL``, ``COM1``…) prefixed with ``_``.

    >>> safe_filename("../../etc/passwd.txt"), safe_filename("C:\\\\x\\\\新闻 稿.md")
    ('passwd.txt', '新闻_稿.md')
    >>> safe_filename("evil.sh") is None, safe_filename("..jsonl"), safe_filename("A.TXT")
    (True, 'upload.jsonl', 'A.txt')
    """
    base = re.split(r"[\\/]", name or "")[-1]
    stem, dot, suffix = base.rpartition(".")
    suffix = "." + suffix.lower()
    if not dot or suffix not in UPLOAD_SUFFIXES:
        return None
    stem = re.sub(r"[^\w\-.\u3400-\u9fff]+", "_", stem).strip("._ ")
    stem = stem.encode("utf-8")[:NAME_BYTES].decode("utf-8", "ignore").rstrip("._ ")
    if stem.split(".")[0].upper() in _WINDOWS_DEVICES:  # "CON.txt" is a device there
        stem = "_" + stem
    return (stem or "upload") + suffix


_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)
}


def default_upload_dir(settings: Settings) -> Path:
    """Where uploads are kept: ``RAG_UPLOAD_DIR``, else ``<index_dir>/uploads``."""
    return Path(os.environ.get("RAG_UPLOAD_DIR") or Path(settings.index_dir) / "uploads")


def max_upload_files(env: dict[str, str] | None = None) -> int:
    """Files one upload may add: ``RAG_MAX_UPLOAD_FILES``, else ``MAX_UPLOAD_FILES``.

    >>> max_upload_files({"RAG_MAX_UPLOAD_FILES": "3"}), max_upload_files({})
    (3, 20)
    """
    raw = (os.environ if env is None else env).get("RAG_MAX_UPLOAD_FILES", "").strip()
    if not raw:
        return MAX_UPLOAD_FILES
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise InputError(f"RAG_MAX_UPLOAD_FILES must be a whole number of at least 1, not {raw!r}")
    return n


def copy_into(source: str | Path, dest: Path) -> None:
    """Copy ``source`` to ``dest`` through a temporary file beside it and a rename: no
    half-written file is ever visible, and a link at ``dest`` is replaced, not followed."""
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def shown_name(name: str, limit: int = 120) -> str:
    """A file name as messages show it: characters that are not printable (control
    characters, NUL, halves of surrogate pairs) as escapes, cut to ``limit`` characters.

    >>> shown_name("a\\x00b\\x1b[31m.txt"), shown_name("新" * 200 + ".txt", 5)
    ('a\\\\x00b\\\\x1b[31m.txt', '新新新新新…')
    """
    out = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in name)
    return out if len(out) <= limit else out[:limit] + "…"


def problem_line(name: str, line: int | None, message: str) -> str:
    return f"{name}:{line}: {message}" if line else f"{name}: {message}"


def discard_staged(paths: Iterable[str], staging: str | Path) -> None:
    """Remove the copies Gradio made of uploaded files in its temp folder
    (``GRADIO_TEMP_DIR``, default ``<tmp>/gradio/<sha256>/<name>``) once the upload is
    handled: what is kept lives in the upload folder only. ``staging`` is that folder
    (the component's ``GRADIO_CACHE``); paths elsewhere are left."""
    staging = Path(staging).resolve()
    for p in paths:
        path = Path(p).resolve()
        if path.parent.parent != staging:
            continue
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # the <sha256> folder, when nothing else is in it
            path.parent.rmdir()


def kept_uploads(folder: str | Path) -> list[str]:
    """The kept uploads in ``folder``, newest first (so that when two hold the same JSONL
    id, a rebuild keeps the newer record, as the live index did); links, hidden files
    and other types are left out."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    files = [
        p
        for p in folder.iterdir()
        if p.is_file()
        and not p.is_symlink()
        and not p.name.startswith(".")
        and p.suffix.lower() in UPLOAD_SUFFIXES
    ]
    return [str(p) for p in sorted(files, key=lambda p: (-p.stat().st_mtime_ns, p.name))]


def place_upload(folder: Path, safe: str, source: str | Path, taken: set[str]) -> tuple[Path, bool]:
    """Where the upload ``safe`` goes in ``folder``, and whether an identical file is
    already there: the first of ``safe``, ``stem-2.suffix``, … whose name (ignoring case)
    is neither in ``taken`` (this upload's names, lower case) nor a kept file with other
    content."""
    import filecmp

    kept = {p.name.lower(): p for p in folder.iterdir()}
    stem, _, suffix = safe.rpartition(".")
    name, n = safe, 1
    while True:
        if name.lower() not in taken:
            old = kept.get(name.lower())
            if old is None:
                return folder / name, False
            if old.is_file() and not old.is_symlink() and filecmp.cmp(old, source, False):
                return old, True
        n += 1
        name = f"{stem}-{n}.{suffix}"
