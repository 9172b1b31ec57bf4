"""The vendored benchmark workload is the team's: same digest as shared/bench."""
import sys
from pathlib import Path

BENCH = Path(__file__).parents[1] / "benchmarks"


def test_workload_digest_is_the_shared_one():
    sys.path.insert(0, str(BENCH))
    try:
        import workload
        data = workload.make_workload()
        assert workload.digest(data) == "b0830fa7631e6321"
        assert data["X_train"].shape == (1024, 80, 40)
    finally:
        sys.path.remove(str(BENCH))


def test_rawhd_benchmark_says_when_its_data_are_synthetic(monkeypatch, tmp_path):
    """Without RawHD (no $DELAYPROP_DATA, no shared data beside the repository) the real-
    task benchmark runs on a graded stand-in of RawHD's shape and labels it so."""
    sys.path.insert(0, str(BENCH))
    try:
        import bench_rawhd
        monkeypatch.setenv("DELAYPROP_DATA", str(tmp_path))       # holds no hd_audio
        monkeypatch.setattr(bench_rawhd, "HERE", tmp_path / "a" / "b")
        assert bench_rawhd.data_root() is None
        source, x, y, xt, yt = bench_rawhd.load(64)
        assert source == "synthetic"
        assert x.shape == (64, 80, 40) and xt.shape == (2270, 80, 40)
        assert x.dtype.name == "float32" and (x > 0).all()        # an event at every step
        assert set(y) <= set(range(20)) and len(set(yt)) == 20
    finally:
        sys.path.remove(str(BENCH))
