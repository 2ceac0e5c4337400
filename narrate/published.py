"""The old name of `narrate.verify` (`narrate check --published`), kept so existing imports work."""
from __future__ import annotations

from narrate.verify import RULES, PublishedReport, check_published

__all__ = ["RULES", "PublishedReport", "check_published"]
