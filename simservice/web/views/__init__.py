"""The page's views, one module each: a module here with ``TITLE``, ``ICON``, ``ORDER`` and ``render()`` is a page.

Adding a page is adding a module; ``home.py`` lists them in ``ORDER``, under their titles.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def pages() -> list[ModuleType]:
    """Every view module in this package, in the order the page lists them."""
    modules = [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)]
    return sorted((m for m in modules if callable(getattr(m, "render", None))), key=lambda m: m.ORDER)
