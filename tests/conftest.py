"""Shared test configuration.

A run in which no test passed (nothing collected, or everything skipped or deselected) must
not look green: the session then exits with status 5 (pytest's "no tests" code).
"""
import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_build_cache(tmp_path_factory):
    """Build into a cache private to this test session (never the user's cache)."""
    import os
    old = os.environ.get("DELAYPROP_CACHE")
    os.environ["DELAYPROP_CACHE"] = str(tmp_path_factory.mktemp("delayprop-cache"))
    yield
    if old is None:
        os.environ.pop("DELAYPROP_CACHE", None)
    else:
        os.environ["DELAYPROP_CACHE"] = old


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    passed = len(reporter.stats.get("passed", [])) if reporter is not None else 0
    if exitstatus == pytest.ExitCode.OK and passed == 0:
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
