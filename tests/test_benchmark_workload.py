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
