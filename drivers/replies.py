"""Strict reading of numbers in instruments' text replies, shared by the drivers.

The helpers live in the core (:mod:`hilt.replies`, so :mod:`hilt.parameters` can read with them
without importing a driver); this module re-exports them under the name the drivers import.
"""

from __future__ import annotations

from hilt.replies import index, integer, number, numbers

__all__ = ["index", "integer", "number", "numbers"]
