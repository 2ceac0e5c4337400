"""Publishing a built show to where listeners fetch it: a web folder, an SFTP server or S3-compatible storage.

Stages, one module each: `address` (the target string), `localshow` (the built show and its feed's URLs),
`headers` (each file's kind, upload phase, Content-Type and Cache-Control), `manifest` (what the target
holds, by narrate's account), `plan` (the pure decision: what to send and delete, and why), `targets`
(fsspec file systems), `run` (the phases, in the order that keeps the online feed consistent).
"""
from __future__ import annotations

from typing import Any

__all__ = ["PublishOptions", "PublishReport", "publish_show"]


def __getattr__(name: str) -> Any:
    # Lazy: narrate.config imports narrate.deploy.address, and run imports narrate.config.
    if name in __all__:
        from narrate.deploy import run

        return getattr(run, name)
    raise AttributeError(name)
