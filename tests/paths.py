"""Where the checkout the tests run from keeps its files."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout: pyproject.toml, spec/, fixtures/, .ci/
