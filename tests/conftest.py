"""Shared test configuration.

A run in which no test passed (nothing collected, or everything skipped or deselected) must
not look green: the session then exits with status 5 (pytest's "no tests" code).
"""
import pytest


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    passed = len(reporter.stats.get("passed", [])) if reporter is not None else 0
    if exitstatus == pytest.ExitCode.OK and passed == 0:
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
