"""Helpers for the data tests: synthetic audio and HD-layout folders.

(A uniquely named module, not conftest.py, so that ``from datahelpers import ...`` cannot
pick up another folder's conftest.)
"""
from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import soundfile as sf

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "hd_audio_small"
SR = 22050


def tone(freq: float, seconds: float, sr: int = SR, amp: float = 0.5,
         onset: float = 0.0) -> np.ndarray:
    """A sine of ``freq`` Hz starting at ``onset`` s (silence before), total ``seconds`` s."""
    t = np.arange(int(round(seconds * sr))) / sr
    return np.where(t >= onset, amp * np.sin(2 * np.pi * freq * t), 0.0).astype(np.float32)


def write_flac(path: Path, data: np.ndarray, sr: int = SR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, sr, format="FLAC", subtype="PCM_16")
    return path


def make_hd_folder(root: Path, train: dict[str, np.ndarray | None],
                   test: dict[str, np.ndarray | None], sr: int = SR) -> Path:
    """An HD-layout folder; a ``None`` signal lists a name without writing its file."""
    root.mkdir(parents=True, exist_ok=True)
    for split, files in (("train", train), ("test", test)):
        for name, data in files.items():
            if data is not None:
                write_flac(root / "audio" / name, data, sr)
        (root / f"{split}_filenames.txt").write_text("\n".join(files) + "\n")
    return root


def hd_name(lang: str, digit: int, speaker: int = 0, trial: int = 0) -> str:
    return f"lang-{lang}_speaker-{speaker:02d}_trial-{trial}_digit-{digit}.flac"


def write_spike_h5(path: Path, times: list, units: list, labels, keys=None,
                   time_dtype=np.float64, drop: tuple[str, ...] = ()) -> Path:
    """An HDF5 file in the SHD/SSC schema (times in seconds); ``drop`` omits datasets."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        if "spikes/times" not in drop:
            ds = f.create_dataset("spikes/times", (len(times),),
                                  dtype=h5py.vlen_dtype(np.dtype(time_dtype)))
            for i, t in enumerate(times):
                ds[i] = np.asarray(t, dtype=time_dtype)
        if "spikes/units" not in drop:
            ds = f.create_dataset("spikes/units", (len(units),),
                                  dtype=h5py.vlen_dtype(np.dtype(np.uint16)))
            for i, u in enumerate(units):
                ds[i] = np.asarray(u, dtype=np.uint16)
        if "labels" not in drop:
            f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))
        if keys is not None:
            f.create_dataset("extra/keys", data=np.array([k.encode() for k in keys]))
    return path


def hd_archive(nested: bool = True, with_lists: bool = True) -> bytes:
    """The shipped excerpt as a ``hd_audio.tar.gz`` (files under ``hd_audio/`` or at top)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(FIXTURE.rglob("*")):
            rel = path.relative_to(FIXTURE).as_posix()
            if path.is_file() and (with_lists or not rel.endswith("filenames.txt")):
                tar.add(path, arcname=f"hd_audio/{rel}" if nested else rel)
    return buffer.getvalue()


class Server:
    """Serves ``files`` (name -> bytes); honours Range unless ``ignore_range``."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.sent = 0
        self.ignore_range = False
        self.truncate_to: int | None = None
        self.stall_after: int | None = None      # bytes sent before the server goes quiet
        self.stall_seconds = 1.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                rng = self.headers.get("Range")
                server.requests.append((name, rng))
                if name not in server.files:
                    self.send_error(404, "Not Found")
                    return
                data = server.files[name]
                start = 0
                if rng and not server.ignore_range:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_error(416, "Range Not Satisfiable")
                        return
                    self.send_response(206)
                    self.send_header("Content-Range",
                                     f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.truncate_to is not None:
                    body = body[:server.truncate_to]
                if server.stall_after is not None:
                    self.wfile.write(body[:server.stall_after])
                    self.wfile.flush()
                    time.sleep(server.stall_seconds)
                    return
                self.wfile.write(body)
                server.sent += len(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/datasets/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,),
                                       daemon=True)
        self.thread.start()

    def publish(self, name: str, data: bytes, md5: str | None = None) -> None:
        self.files[name] = data
        sums = {n: hashlib.md5(d).hexdigest() for n, d in self.files.items()
                if n != "md5sums.txt"}
        if md5 is not None:
            sums[name] = md5
        self.files["md5sums.txt"] = "".join(f"{v}  {k}\n" for k, v in sums.items()).encode()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
