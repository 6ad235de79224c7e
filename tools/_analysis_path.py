"""Makes the dgpg_analysis package importable by the tools: installed with
pip (tools/install-deps.sh does), or beside them, ../python in the source
tree and in an install (BIN/../share/dgpg/python)."""
import os
import sys

try:
    import dgpg_analysis  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
