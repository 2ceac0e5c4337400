"""A Dask worker preload for the cluster tests (`dask worker --preload tests.cluster_preload`).

Test hooks, set in the worker's environment by tests/test_cluster.py, never used by narrate itself:
- NARRATE_TEST_WORKER_VERSION: this worker claims to run that narrate version (a mismatched worker);
- NARRATE_TEST_ENGINE_VERSION: this worker's fake engine reports that version (another engine build);
- NARRATE_TEST_RENDER_DELAY: seconds the fake engine sleeps per piece, so a build lasts long enough to
  kill a worker or the scheduler in the middle of it.
"""
from __future__ import annotations

import os
import time

import narrate
from tests import fake_engine

if os.environ.get("NARRATE_TEST_WORKER_VERSION"):
    narrate.__version__ = os.environ["NARRATE_TEST_WORKER_VERSION"]

if os.environ.get("NARRATE_TEST_ENGINE_VERSION"):
    fake_engine.FakeEngine.version = classmethod(lambda cls: os.environ["NARRATE_TEST_ENGINE_VERSION"])

_delay = float(os.environ.get("NARRATE_TEST_RENDER_DELAY") or 0)
if _delay:
    _render = fake_engine.FakeEngine.render

    def _slow_render(self, text, voice, out_path):  # noqa: ANN001, ANN202 - the engine's signature
        time.sleep(_delay)
        _render(self, text, voice, out_path)

    fake_engine.FakeEngine.render = _slow_render
