"""pytest plugin for benchmarks/mutation.py: each test starts with archspace's caches empty,
on one torch thread.

plan.py caches block records (functools.lru_cache) and cost.py memoises block costs. A
test served from a cache filled by an earlier test never calls the cached function, so
mutmut would neither link that test to the function (its stats run) nor run the mutant
code in it. Emptied before each test, every test computes what it checks, as it would
alone in a fresh process.

One thread, as under `make test`'s workers: the mutation run is one worker process, and
torch's second thread only contends for the cores that other processes use.
"""

import sys

import pytest


@pytest.hookimpl(trylast=True)  # after the fixtures (conftest's sets the thread count)
def pytest_runtest_setup(item):
    for name, module in list(sys.modules.items()):
        if not name.startswith("archspace.") or module is None:
            continue
        for value in list(vars(module).values()):
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()
    cost = sys.modules.get("archspace.cost")
    if cost is not None:
        cost._BLOCK_MEMO.clear()
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
