import logging

import pytest

# fvcore logs one warning per op it skips (sigmoid, mul, add, ...): expected, and noisy.
logging.getLogger("fvcore").setLevel(logging.ERROR)


@pytest.fixture(autouse=True)
def _few_threads():
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(2)
