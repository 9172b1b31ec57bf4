"""Check a RIFF/WAVE file's data chunk against its header, which libsndfile does not.

libsndfile derives the frame count of a WAV file from the bytes actually present when the
data chunk is cut short, so ``SoundFile.frames`` and the decoded length agree and a
half-copied file decodes as a shorter recording. The header's declared data size is the
only witness; this reads it.
"""
from __future__ import annotations

import os
import struct

__all__ = ["wav_truncation"]

# Writers that stream (pipes, some recorders) leave the size unknown as 0 or 0xFFFFFFFF.
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)
_MAX_CHUNKS = 64


def wav_truncation(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` is a truncated WAV file, or ``None`` when it is complete or not a WAV.

    Walks the RIFF chunks up to ``data`` and compares its declared size with the bytes that
    follow it in the file. RF64 files and files whose writer left the size unknown are not
    judged (``None``).
    """
    try:
        with open(path, "rb") as handle:
            total = os.fstat(handle.fileno()).st_size
            head = handle.read(12)
            if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RIFX"):
                return None
            endian = "<" if head[:4] == b"RIFF" else ">"
            block_align = 0
            offset = 12
            for _ in range(_MAX_CHUNKS):
                handle.seek(offset)
                header = handle.read(8)
                if len(header) < 8:
                    return None
                chunk, size = header[:4], struct.unpack(endian + "I", header[4:])[0]
                if chunk == b"fmt ":
                    fmt = handle.read(16)
                    if len(fmt) >= 14:
                        block_align = struct.unpack(endian + "H", fmt[12:14])[0]
                elif chunk == b"data":
                    present = total - (offset + 8)
                    if size in _UNKNOWN_SIZES or present >= size:
                        return None
                    frames = ""
                    if block_align:
                        frames = (f" ({present // block_align} of "
                                  f"{size // block_align} frames)")
                    return (f"truncated: the WAV header declares {size} bytes of audio "
                            f"data, the file holds {present}{frames}")
                offset += 8 + size + (size & 1)          # chunks are padded to even sizes
    except OSError:
        return None        # unreadable files are reported by the decoder
    return None
