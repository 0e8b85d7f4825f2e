"""Write files atomically: into a temporary file beside the target, then ``os.replace``."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

from workbench.errors import ExportError


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Yield a binary file; on success it replaces ``path``, on any error nothing is left behind."""
    target = Path(path)
    if not target.parent.is_dir():
        raise ExportError("folder does not exist", file=target.parent, expected="an existing folder")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw:
            yield raw
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ExportError("could not write the file", file=target, received=str(exc)) from exc
        raise


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    with atomic_writer(path) as out:
        out.write(text.encode("utf-8"))
    return Path(path)
