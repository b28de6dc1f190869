"""The installed version, read from package metadata so it has one source of truth."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("leadbridge")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
