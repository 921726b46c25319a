"""Shared fixtures: simulators served on loopback, torn down after each test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def served() -> Iterator[Callable[..., Any]]:
    """``served(SimClass, pty=False, **options)`` -> (sim, address); servers stop after the test."""
    from hilt.sims.server import serve
    from hilt.sims.world import World

    servers = []

    def start(sim_cls: type, *, pty: bool = False, world: World | None = None, **options: Any) -> tuple[Any, str]:
        sim = sim_cls(world or World(seed=0), **options)
        server = serve(sim, pty=pty)
        servers.append(server)
        return sim, server.address

    yield start
    for server in servers:
        server.stop()
