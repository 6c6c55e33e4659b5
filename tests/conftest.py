import logging

import pytest

# fvcore logs one warning per op it skips (sigmoid, mul, add, ...): expected, and noisy.
logging.getLogger("fvcore").setLevel(logging.ERROR)


@pytest.fixture(autouse=True)
def _few_threads():
    import os
    import sys

    # Under pytest-xdist (make test runs a worker per core) one thread each, so the
    # workers share the cores instead of oversubscribing them.
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)
