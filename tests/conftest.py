"""Suite-wide isolation: nothing a test does touches the user's ~/.tensornode.

Each area's fixtures live in its own package's conftest.py.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Set before any test module builds Settings or spawns a child process (children inherit it).
_SUITE_DATA_DIR = Path(tempfile.mkdtemp(prefix="tensornode-suite-"))
os.environ["TENSORNODE_DATA_DIR"] = str(_SUITE_DATA_DIR)
for _name in list(os.environ):
    if _name.startswith("TENSORNODE_") and _name != "TENSORNODE_DATA_DIR":
        del os.environ[_name]
# Never reach a model hub from tests.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
