"""Every case of cases/*.evt, run by real guests under the real Xen under test."""

from __future__ import annotations

import pytest

from orchestrator.outcome import Outcome
from orchestrator.report import failure_message

from .conftest import CASE_FILES, XenRun, collect_cases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case_name" in metafunc.fixturenames:
        cases = collect_cases(metafunc.config, CASE_FILES)
        metafunc.parametrize(
            ("case_name", "case_file"), [(c.name, c.path.stem) for c in cases], ids=[c.name for c in cases]
        )


def test_case(case_name: str, case_file: str, xen_run: XenRun) -> None:
    res = xen_run.results[case_name]
    # Every outcome but PASS fails the test; the message names which (FAIL: Xen answered
    # otherwise; ERROR: the harness could not tell; CRASH: a guest or Xen crashed). Never a
    # skip: a case that did not run must not look like one that had nothing to check.
    if res.outcome is not Outcome.PASS:
        pytest.fail(f"{res.outcome.name}: {failure_message(res, xen_run.console_of(res))}", pytrace=False)
