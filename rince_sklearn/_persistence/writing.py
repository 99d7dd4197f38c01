"""Writing a saved file atomically, and cleaning up after killed saves."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Any

import torch

from .format import FORMAT, FORMAT_VERSION, Payload

__all__ = ["write_payload"]


def write_payload(payload: Payload, file: str | os.PathLike | IO[bytes]) -> None:
    """Write ``payload`` to ``file``; atomically when ``file`` is a path.

    Parameters
    ----------
    payload : Payload
        ``params`` and ``fitted`` hold already-encoded JSON data.
    file : path or binary file object
        Destination.

    Raises
    ------
    OSError
        The file could not be written; the message names the path, and the
        previous file at that path, if any, is unchanged.
    """
    raw = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": payload.library_version,
        "params": json.dumps(payload.params, allow_nan=True),
        "fitted": json.dumps(payload.fitted),
        "history": json.dumps(payload.history, default=_json_number),
        # contiguous: channels-last weights are stored in the standard layout
        # (loading copies them back into the module's own layout)
        "state_dict": {k: _own_storage(v) for k, v in payload.state_dict.items()},
        "augmentation_state": {
            k: _own_storage(v) for k, v in payload.augmentation_state.items()
        },
    }
    if not isinstance(file, (str, os.PathLike)):
        torch.save(raw, file)
        return
    path = Path(file)
    directory = path.parent
    prefix = _temporary_prefix(path)
    _remove_orphans(directory, prefix)
    mode = _mode_to_keep(path)
    try:
        fd, temporary = tempfile.mkstemp(
            prefix=f"{prefix}{os.getpid()}.", suffix=_TEMPORARY_SUFFIX, dir=directory
        )
    except OSError as exc:
        raise OSError(
            exc.errno, f"Cannot save the model to {path}: {exc.strerror}"
        ) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(raw, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)  # replaces a symlink itself, not its target
    except BaseException as exc:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if _interrupted(exc):  # Ctrl-C inside torch.save surfaces as its error
            raise KeyboardInterrupt from exc
        if isinstance(exc, (OSError, RuntimeError)):
            raise OSError(
                f"Cannot save the model to {path}: {exc}. The previous file at "
                "that path, if any, is unchanged."
            ) from exc
        raise
    _sync_directory(directory)


#: the suffix of ``save``'s temporary files (``.<hash>.<pid>.<random>.rince-tmp``)
_TEMPORARY_SUFFIX = ".rince-tmp"


def _own_storage(tensor: torch.Tensor) -> torch.Tensor:
    """Return a CPU copy of ``tensor`` in a storage of its own, in standard layout.

    Channels-last weights are stored in the standard layout (loading copies
    them back into the module's own layout); a view never carries the rest of
    its storage into the file, and no two tensors of a file share bytes, which
    :func:`read_payload` checks.
    """
    return tensor.detach().to("cpu").clone(memory_format=torch.contiguous_format)


def _temporary_prefix(path: Path) -> str:
    """Return the prefix of the temporary files of a save to ``path``.

    Short whatever the name's length (a name up to the file system's limit
    can be saved to), and the same for every save to one path, so that the
    next save finds what a killed one left.
    """
    digest = hashlib.sha256(os.fsencode(path.name)).hexdigest()[:16]
    return f".{digest}."


def _remove_orphans(directory: Path, prefix: str) -> None:
    """Remove the temporary files of earlier saves to this path that were killed.

    A temporary file names the process that writes it; one whose process no
    longer runs (on this machine) is debris of a kill. Files of running
    processes, a concurrent save among them, are left alone.
    """
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(_TEMPORARY_SUFFIX)):
            continue
        pid_text = name[len(prefix) :].partition(".")[0]
        if not pid_text.isdigit() or _process_is_running(int(pid_text)):
            continue
        try:
            os.unlink(directory / name)
        except OSError:
            pass


def _process_is_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # another user's process, or unknowable: keep its file
    return True


def _mode_to_keep(path: Path) -> int:
    """Return the permission bits of the file being replaced, else the umask's."""
    try:
        info = os.stat(path)
    except OSError:
        info = None
    if info is not None and stat.S_ISREG(info.st_mode):
        return stat.S_IMODE(info.st_mode)
    return 0o666 & ~_umask()


def _interrupted(exc: BaseException) -> bool:
    """Return whether ``exc`` is, or was raised while handling, a Ctrl-C."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__context__ or current.__cause__
    return False


def _json_number(value: Any) -> float:
    """Encode numpy and torch scalars in the history as floats."""
    return float(value)


def _umask() -> int:
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


def _sync_directory(directory: Path) -> None:
    """Make the rename durable (best effort: not every platform allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems
        pass
    finally:
        os.close(fd)

