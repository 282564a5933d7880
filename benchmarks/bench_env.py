"""What a benchmark report records about where it ran."""
from __future__ import annotations

import os
import subprocess
from importlib import metadata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def git_revision() -> str:
  """HEAD's short hash, noting uncommitted changes under jax2tf_impl/."""
  try:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True, check=True
                          ).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--",
                            "jax2tf_impl"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.strip()
    return head + (" (jax2tf_impl/ has uncommitted changes)" if dirty else "")
  except Exception:  # pylint: disable=broad-except
    return "unknown"


def package_version(dist: str) -> str:
  try:
    return metadata.version(dist)
  except metadata.PackageNotFoundError:
    return "not installed"
