"""The command line: ``symspec check|explain|compile|validate``."""

from .main import main

__all__ = ["main"]
