"""pytest fixtures for drover's integration tests (the classes live in drover.py).

Fixtures:
  workdir  a fresh directory for the test (removed when the test passes, kept and
           printed when it fails)
  backend  factory: backend("A") -> a started drover-backend (drover.Backend)
  drover   factory: drover(server={...}, balancers={...}) -> a started drover
           (drover.Drover); skips the test when build/drover does not exist
Everything these fixtures start is stopped at teardown, pass or fail.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import drover as dr  # noqa: E402


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request):
    for when in ("setup", "call"):
        rep = getattr(request.node, "rep_" + when, None)
        if rep is not None and rep.failed:
            return True
    return False


def pytest_report_header(config):
    return "drover build dir: %s (drover %s, drover-backend %s)" % (
        dr.BUILD, "found" if dr.DROVER.exists() else "MISSING",
        "found" if dr.BACKEND.exists() else "MISSING")


@pytest.fixture
def workdir(request):
    d = dr.make_workdir()
    yield d
    if _failed(request):
        print("\n[harness] test failed; kept %s" % d)
    else:
        dr.remove_workdir(d)


@pytest.fixture
def backend(workdir):
    """backend(name, host="127.0.0.1", procs=1) -> started drover.Backend."""
    if not dr.BACKEND.exists():
        pytest.fail("%s is missing: run `make build/drover-backend`" % dr.BACKEND)
    started = []

    def make(name, host=dr.LOOPBACK, procs=1):
        b = dr.Backend(name, workdir / "backends", host=host, procs=procs)
        started.append(b)
        return b.start()

    yield make
    for b in started:
        b.stop()


@pytest.fixture
def drover(workdir, request):
    """drover(text=None, global_=None, server=None, balancers=None, start=True) ->
    drover.Drover (started unless start=False). Skips when build/drover is missing."""
    if not dr.DROVER.exists():
        pytest.skip("%s not built yet (the proxy lands with issue 2)" % dr.DROVER)
    made = []

    def make(start=True, **kw):
        d = dr.Drover(workdir / ("drover%d" % len(made)), **kw)
        made.append(d)
        return d.start() if start else d

    yield make
    failed = _failed(request)
    for d in made:
        d.stop()
        if failed:
            tail = d.error_log()[-4000:]
            print("\n[harness] %r error log tail:\n%s" % (d, tail))
            out = d.output()[-2000:]
            if out:
                print("[harness] drover stdout/stderr:\n%s" % out)
