import logging
import os

import pytest

import cli_forkserver  # tests/: the fork server of archspace_command below

# Under pytest-xdist (make test runs a worker per core) every process a test starts (the
# CLI, DDP ranks, searches, Ray's nodes) gets one torch thread too, as the worker itself
# does (_few_threads below). Two OpenMP threads on a core that the other worker keeps busy
# spin-wait: a README training measured 60 s with two threads against 8 s with one.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"

# fvcore logs one warning per op it skips (sigmoid, mul, add, ...): expected, and noisy.
logging.getLogger("fvcore").setLevel(logging.ERROR)

# Tests that take a minute or more run first, so under xdist they do not start last and
# leave one worker busy while the other idles (xdist hands out groups with the most tests
# first, then single tests in collection order).
HEAVY_FIRST = ("test_readme.py::test_readme_blocks_run_in_order",
               "test_search.py::test_ctrl_c_then_kill_9_then_resume")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: not any(name in item.nodeid for name in HEAVY_FIRST))


@pytest.fixture(autouse=True)
def _few_threads():
    import sys

    # Under pytest-xdist (make test runs a worker per core) one thread each, so the
    # workers share the cores instead of oversubscribing them.
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)


def _fork_server(tmp_path_factory, preload: tuple[str, ...]):
    path = tmp_path_factory.mktemp("cli") / "server-ready"
    server = cli_forkserver.start(path, preload)
    yield path
    server.kill()
    server.wait()


@pytest.fixture(scope="session")
def search_server(tmp_path_factory):
    """A fork server (tests/cli_forkserver.py) that imported Ray Tune, Optuna and the search
    once: for the search and experiment drivers that tests run to the end (a process each,
    ~3.7 CPU-s of imports less). One per xdist worker, started on first use, stopped by its
    id at the end."""
    yield from _fork_server(tmp_path_factory, cli_forkserver.SEARCH)


@pytest.fixture(scope="session")
def training_server(tmp_path_factory):
    """The same with torch and the training code imported once (~3 CPU-s less for each
    command that imports torch, ~6 for one that trains: an optimizer imports torch._dynamo)."""
    yield from _fork_server(tmp_path_factory, cli_forkserver.TRAINING)


@pytest.fixture(scope="session")
def archspace_command(search_server):
    """The argv prefix of `archspace ...` run through the search fork server."""
    return cli_forkserver.command(search_server)


@pytest.fixture(scope="session")
def archspace_training_command(training_server):
    """The argv prefix of `archspace ...` run through the training fork server."""
    return cli_forkserver.command(training_server)


@pytest.fixture(scope="session")
def python_training_command(training_server):
    """The argv prefix of `python -c CODE` run through the training fork server."""
    return cli_forkserver.python_command(training_server)


@pytest.fixture(scope="session")
def ray_cluster():
    """A Ray cluster of two nodes (one CPU each), started once for every search and
    experiment under test that joins a cluster with --address (those tests are the
    "ray-cluster" xdist group, so one worker holds it), stopped at the end of the session.
    Session-wide: the worker that runs the group also runs other tests in between, and a
    module fixture would be torn down and started again for each stretch. The search that
    starts Ray itself, as a user's does, is the Ctrl-C / kill test's."""
    from ray.cluster_utils import Cluster

    # No autoscaler monitor and no log monitors: a fixed cluster, and drivers that join with
    # log_to_driver=False (each polls all session long on a machine the suite keeps busy).
    quiet = {"num_cpus": 1, "include_log_monitor": False}
    cluster = Cluster(initialize_head=True, head_node_args={**quiet, "include_dashboard": False, "no_monitor": True})
    try:
        cluster.add_node(**quiet)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()
