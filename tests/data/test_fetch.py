"""``fetch`` against a local HTTP server on 127.0.0.1 (never the network)."""
from __future__ import annotations

import gzip
import hashlib
import io
import logging
import socket
import tarfile

import pytest
from datahelpers import Server, hd_archive, write_spike_h5

from delayprop.data import RawHD, SpikingHD, fetch
from delayprop.data import _fetch
from delayprop.errors import ConfigError, DataError


@pytest.fixture
def server():
    srv = Server()
    yield srv
    srv.close()


def shd_gz(tmp_path, split: str, n: int) -> bytes:
    path = write_spike_h5(tmp_path / "src" / f"shd_{split}.h5", [[0.01 * k] for k in range(n)],
                          [[k] for k in range(n)], list(range(n)))
    return gzip.compress(path.read_bytes())


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/datasets/"


@pytest.mark.parametrize("nested", [True, False])
def test_fetch_rawhd_then_load_it(server, tmp_path, nested):
    server.publish("hd_audio.tar.gz", hd_archive(nested))
    root = tmp_path / "data"
    (got,) = fetch("rawhd", root, base_url=server.url, progress=False)
    assert got == root / "hd_audio" and (got / "train_filenames.txt").is_file()
    assert not (root / "hd_audio.tar.gz").exists()           # archive removed after unpacking
    assert [r[0] for r in server.requests] == ["md5sums.txt", "hd_audio.tar.gz"]
    assert len(RawHD(root, "test", cache_dir=tmp_path / "c")) == 20


def test_fetch_shd_unpacks_both_splits(server, tmp_path):
    server.publish("shd_train.h5.gz", shd_gz(tmp_path, "train", 5))
    server.publish("shd_test.h5.gz", shd_gz(tmp_path, "test", 3))
    root = tmp_path / "data"
    fetch("shd", root, base_url=server.url, keep_archives=True, progress=False)
    assert len(SpikingHD("shd", "train", root)) == 5
    assert len(SpikingHD("shd", "test", root)) == 3
    assert (root / "shd_test.h5.gz").is_file()


def test_interrupted_download_resumes_with_a_range_request(server, tmp_path):
    data = hd_archive()
    server.publish("hd_audio.tar.gz", data)
    root = tmp_path / "data"
    root.mkdir()
    half = len(data) // 2
    (root / "hd_audio.tar.gz.part").write_bytes(data[:half])
    fetch("rawhd", root, base_url=server.url, progress=False)
    assert ("hd_audio.tar.gz", f"bytes={half}-") in server.requests
    assert server.sent == len(server.files["md5sums.txt"]) + len(data) - half
    assert (root / "hd_audio" / "audio").is_dir()


def test_connection_lost_mid_download_keeps_the_part_for_resuming(server, tmp_path):
    data = hd_archive()
    server.publish("hd_audio.tar.gz", data)
    server.truncate_to = 5000
    root = tmp_path / "data"
    with pytest.raises(DataError, match=r"stopped after 5000 of \d+ bytes; run the same "
                                        "command again to resume"):
        fetch("rawhd", root, base_url=server.url, progress=False)
    assert (root / "hd_audio.tar.gz.part").stat().st_size == 5000
    server.truncate_to = None
    fetch("rawhd", root, base_url=server.url, progress=False)
    assert ("hd_audio.tar.gz", "bytes=5000-") in server.requests


def test_stalled_connection_keeps_the_part_for_resuming(server, tmp_path, monkeypatch):
    monkeypatch.setattr(_fetch, "_TIMEOUT", 0.3)
    server.publish("hd_audio.tar.gz", hd_archive())
    server.stall_after = 4096
    root = tmp_path / "data"
    with pytest.raises(DataError, match=r"download of .*hd_audio.tar.gz interrupted after "
                                        r"4096 bytes .*run the same command again to resume"):
        fetch("rawhd", root, base_url=server.url, progress=False)
    assert (root / "hd_audio.tar.gz.part").stat().st_size == 4096


def test_server_without_range_support_restarts(server, tmp_path):
    data = hd_archive()
    server.publish("hd_audio.tar.gz", data)
    server.ignore_range = True
    root = tmp_path / "data"
    root.mkdir()
    (root / "hd_audio.tar.gz.part").write_bytes(b"x" * 100)    # not even the right bytes
    fetch("rawhd", root, base_url=server.url, progress=False)
    assert (root / "hd_audio" / "train_filenames.txt").is_file()


def test_complete_part_gets_416_and_is_verified(server, tmp_path):
    data = hd_archive()
    server.publish("hd_audio.tar.gz", data)
    root = tmp_path / "data"
    root.mkdir()
    (root / "hd_audio.tar.gz.part").write_bytes(data)
    fetch("rawhd", root, base_url=server.url, progress=False)
    assert (root / "hd_audio" / "train_filenames.txt").is_file()


def test_checksum_mismatch_removes_the_download(server, tmp_path):
    server.publish("hd_audio.tar.gz", hd_archive(), md5="0" * 32)
    root = tmp_path / "data"
    with pytest.raises(DataError, match=r"checksum mismatch — MD5 [0-9a-f]{32}, expected "
                                        r"0{32}\. The download was removed"):
        fetch("rawhd", root, base_url=server.url, progress=False)
    assert list(root.iterdir()) == []


def test_no_network_says_what_to_do(tmp_path):
    url = closed_port_url()
    with pytest.raises(DataError, match=r"(?s)no MD5 sum known for hd_audio.tar.gz: looked "
                                        r"in .*unreachable.*No network\? Download .*"
                                        r"hd_audio.tar.gz on a machine that has access"):
        fetch("rawhd", tmp_path / "data", base_url=url, progress=False)
    with pytest.raises(DataError, match=r"cannot download .*shd_train.h5.gz: .*No network\? "
                                        r"Download"):
        fetch("shd", tmp_path / "data", base_url=url, progress=False)


def test_offline_with_copied_files_and_md5sums(server, tmp_path):
    data = hd_archive()
    root = tmp_path / "data"
    root.mkdir()
    (root / "hd_audio.tar.gz").write_bytes(data)
    (root / "md5sums.txt").write_text(f"{hashlib.md5(data).hexdigest()}  hd_audio.tar.gz\n")
    fetch("rawhd", root, base_url=closed_port_url(), progress=False)
    assert (root / "hd_audio" / "train_filenames.txt").is_file()


def test_offline_with_the_built_in_checksums(tmp_path, monkeypatch):
    payload = shd_gz(tmp_path, "train", 2)
    monkeypatch.setitem(_fetch.KNOWN_MD5, "shd_train.h5.gz", hashlib.md5(payload).hexdigest())
    monkeypatch.setitem(_fetch.KNOWN_MD5, "shd_test.h5.gz", hashlib.md5(payload).hexdigest())
    root = tmp_path / "data"
    root.mkdir()
    for name in ("shd_train.h5.gz", "shd_test.h5.gz"):
        (root / name).write_bytes(payload)
    fetch("shd", root, base_url=closed_port_url(), progress=False)
    assert len(SpikingHD("shd", "test", root)) == 2


def test_published_checksum_wins_over_the_built_in_one(server, tmp_path, caplog, monkeypatch):
    monkeypatch.setitem(_fetch.KNOWN_MD5, "shd_train.h5.gz", "f" * 32)
    server.publish("shd_train.h5.gz", shd_gz(tmp_path, "train", 2))
    server.publish("shd_test.h5.gz", shd_gz(tmp_path, "test", 2))
    with caplog.at_level(logging.WARNING, logger="delayprop.data"):
        fetch("shd", tmp_path / "data", base_url=server.url, progress=False)
    assert "using the published value" in caplog.text


def test_already_present_is_not_fetched_again(server, tmp_path):
    server.publish("hd_audio.tar.gz", hd_archive())
    root = tmp_path / "data"
    fetch("rawhd", root, base_url=server.url, progress=False)
    server.requests.clear()
    assert fetch("rawhd", root, base_url=server.url, progress=False) == [root / "hd_audio"]
    assert server.requests == []
    fetch("rawhd", root, base_url=server.url, force=True, progress=False)
    assert [r[0] for r in server.requests] == ["md5sums.txt", "hd_audio.tar.gz"]


def test_base_url_from_the_environment(server, tmp_path, monkeypatch):
    server.publish("hd_audio.tar.gz", hd_archive())
    monkeypatch.setenv("DELAYPROP_DATA_URL", server.url.rstrip("/"))
    monkeypatch.setenv("DELAYPROP_DATA", str(tmp_path / "env-data"))
    assert fetch("rawhd", progress=False) == [tmp_path / "env-data" / "hd_audio"]


def test_http_error_is_reported(server, tmp_path):
    server.publish("shd_train.h5.gz", b"")
    server.files["md5sums.txt"] += b"d41d8cd98f00b204e9800998ecf8427e  shd_test.h5.gz\n"
    del server.files["shd_train.h5.gz"]
    with pytest.raises(DataError, match=r"shd_train.h5.gz: the server answered HTTP 404"):
        fetch("shd", tmp_path / "data", base_url=server.url, progress=False)


def test_archive_that_is_not_what_it_claims(server, tmp_path):
    server.publish("shd_train.h5.gz", b"plain bytes, not gzip")
    server.publish("shd_test.h5.gz", gzip.compress(b"gzip, but not HDF5"))
    with pytest.raises(DataError, match=r"shd_train.h5.gz: cannot unpack"):
        fetch("shd", tmp_path / "a", base_url=server.url, progress=False)
    server.publish("hd_audio.tar.gz", hd_archive(with_lists=False))
    with pytest.raises(DataError, match=r"no train_filenames.txt inside"):
        fetch("rawhd", tmp_path / "b", base_url=server.url, progress=False)
    assert not any(p.name.startswith(".hd_audio") for p in (tmp_path / "b").iterdir())


def test_corrupt_or_unsafe_tar_is_not_unpacked(server, tmp_path):
    server.publish("hd_audio.tar.gz", gzip.compress(b"not a tar archive"))
    with pytest.raises(DataError, match=r"hd_audio.tar.gz: cannot unpack"):
        fetch("rawhd", tmp_path / "a", base_url=server.url, progress=False)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    server.publish("hd_audio.tar.gz", buffer.getvalue())
    with pytest.raises(DataError, match=r"hd_audio.tar.gz: cannot unpack"):
        fetch("rawhd", tmp_path / "b", base_url=server.url, progress=False)
    assert not (tmp_path / "escaped.txt").exists()


def test_python_without_safe_extraction_is_refused(server, tmp_path, monkeypatch):
    monkeypatch.delattr(tarfile, "data_filter")
    server.publish("hd_audio.tar.gz", hd_archive())
    with pytest.raises(DataError, match=r"cannot unpack archives safely .* unpack it yourself"):
        fetch("rawhd", tmp_path / "a", base_url=server.url, progress=False)


def test_gzip_of_something_else_is_not_unpacked(server, tmp_path):
    server.publish("shd_train.h5.gz", gzip.compress(b"gzip, but not HDF5"))
    with pytest.raises(DataError, match=r"shd_train.h5.gz: cannot unpack"):
        fetch("shd", tmp_path / "a", base_url=server.url, progress=False)
    assert not (tmp_path / "a" / "shd_train.h5").exists()


def test_h5_without_the_spike_datasets_is_rejected(server, tmp_path):
    path = write_spike_h5(tmp_path / "x.h5", [[0.1]], [[1]], [0], drop=("spikes/units",))
    server.publish("shd_train.h5.gz", gzip.compress(path.read_bytes()))
    with pytest.raises(DataError, match=r"unpacked file lacks spikes/units"):
        fetch("shd", tmp_path / "a", base_url=server.url, progress=False)


def test_unknown_data_set():
    with pytest.raises(ConfigError, match=r"data set must be one of \('rawhd', 'shd', 'ssc'\)"):
        fetch("mnist")


def test_md5sum_of_a_file(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert _fetch.md5sum(path) == "900150983cd24fb0d6963f7d28e17f72"    # RFC 1321 test suite
