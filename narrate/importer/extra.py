"""The optional libraries of `narrate import` (the `import` extra), loaded only for the format that needs them."""
from __future__ import annotations

import importlib
from types import ModuleType

from narrate.errors import UserError

INSTALL = "pip install 'narrate[import]'"


def need(module: str, what: str | None = None) -> ModuleType:
    """Import a format library, or stop with one line naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UserError(f"importing {what or module.split('.')[0]} files needs the 'import' extra "
                        f"({exc.name or module} is not installed): {INSTALL}") from None
