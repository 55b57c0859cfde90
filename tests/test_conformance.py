"""Every case of cases/*.evt, run by real guests under the real Xen under test."""

from __future__ import annotations

import pytest

from orchestrator.report import failure_message

from .conftest import CASE_FILES, XenRun, collect_cases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case_name" in metafunc.fixturenames:
        names = [c.name for c in collect_cases(metafunc.config, CASE_FILES)]
        metafunc.parametrize("case_name", names)


def test_case(case_name: str, xen_run: XenRun) -> None:
    res = xen_run.results[case_name]
    if not res.passed:
        pytest.fail(failure_message(res, xen_run.console.lines), pytrace=False)
