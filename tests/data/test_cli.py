"""``delayprop data fetch | prepare | show`` through the real command-line entry point."""
from __future__ import annotations

import pytest
from datahelpers import Server, hd_archive, write_spike_h5

from delayprop.cli import main
from delayprop.data import RawHD, plot_sample
from delayprop.errors import ConfigError

PNG = b"\x89PNG\r\n\x1a\n"


def test_show_rawhd_saves_the_spectrogram(hd_small, tmp_path, capsys):
    out = tmp_path / "plots" / "sample.png"
    rc = main(["data", "show", "rawhd", "--index", "3", "--split", "test", "--path",
               str(hd_small), "--cache-dir", str(tmp_path / "c"), "--out", str(out)])
    assert rc == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert out.read_bytes().startswith(PNG)


def test_show_shd_saves_a_raster(tmp_path, monkeypatch):
    write_spike_h5(tmp_path / "shd_test.h5", [[0.1, 0.2, 0.35]], [[1, 400, 699]], [13])
    monkeypatch.chdir(tmp_path)
    assert main(["data", "show", "shd", "--index", "0", "--split", "test", "--path",
                 str(tmp_path)]) == 0
    assert (tmp_path / "shd_test_0.png").read_bytes().startswith(PNG)


def test_show_rejects_an_index_outside_the_split(hd_small, tmp_path, capsys):
    rc = main(["data", "show", "rawhd", "--index", "20", "--split", "test", "--path",
               str(hd_small), "--cache-dir", str(tmp_path / "c"), "--out",
               str(tmp_path / "x.png")])
    assert rc == 1
    assert r"index must be a whole number in [0, 20), got 20" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="index must be a whole number"):
        plot_sample(RawHD(hd_small, "test", cache_dir=tmp_path / "c"), True, tmp_path / "y.png")


def test_prepare_builds_the_cache_and_reports(hd_small, tmp_path, capsys):
    rc = main(["--quiet", "data", "prepare", "rawhd", "--path", str(hd_small), "--cache-dir",
               str(tmp_path / "c"), "--workers", "1"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "train: 20 usable of 20 recordings" in out and "test: 20 usable of 20" in out
    assert "built in" in out and len(list((tmp_path / "c").glob("rawhd-*.npz"))) == 1


def test_fetch_from_a_local_server(tmp_path, capsys):
    server = Server()
    try:
        server.publish("hd_audio.tar.gz", hd_archive())
        rc = main(["--quiet", "data", "fetch", "rawhd", "--path", str(tmp_path / "d"),
                   "--base-url", server.url])
    finally:
        server.close()
    assert rc == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "d" / "hd_audio")


def test_missing_data_is_a_clean_error(tmp_path, capsys):
    rc = main(["data", "show", "rawhd", "--index", "0", "--path", str(tmp_path / "none")])
    assert rc == 1
    err = capsys.readouterr().err
    assert err.startswith("delayprop data: error: Heidelberg Digits audio not found")
    assert "Traceback" not in err


def test_prepare_rawhd_with_bad_names_exits_1_with_one_summary_line(tmp_path, capsys):
    from datahelpers import hd_name, make_hd_folder, tone
    good = {hd_name("english", d): tone(300 + 100 * d, 0.3) for d in range(2)}
    bad = {f"recording-{i}.flac": tone(500, 0.3) for i in range(30)}
    test = {hd_name("english", d, speaker=1): tone(300 + 100 * d, 0.3) for d in range(2)}
    root = make_hd_folder(tmp_path / "hd", {**good, **bad}, test)
    rc = main(["--quiet", "data", "prepare", "rawhd", "--path", str(root), "--cache-dir",
               str(tmp_path / "c"), "--workers", "1"])
    out, err = capsys.readouterr()
    assert rc == 1
    assert "train: 2 usable of 32 recordings" in out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "30 of 34 RawHD recordings cannot be used" in lines[0]
    assert "(30 x cannot parse a label from this file name)" in lines[0]
    assert lines[0].split("; first: ")[1].count("cannot parse a label") == 3     # 3 shown
    listing = lines[0].rsplit("full list: ", 1)[1]
    assert len(open(listing).read().splitlines()) == 30
