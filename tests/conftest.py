"""Shared test settings: nothing a test run leaves behind lands in the repository."""
import os
import sys
import tempfile
from pathlib import Path

from hypothesis import settings

# Hypothesis keeps its example database outside the working tree.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", tempfile.mkdtemp(prefix="pactnews-hypothesis-"))
settings.register_profile("pactnews", database=None, deadline=None)
settings.load_profile("pactnews")

# The benchmark and its synthetic corpus live outside the package, in the repository's bench/ (`import bench`).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
