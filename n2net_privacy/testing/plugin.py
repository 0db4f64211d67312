"""The pytest plugin (registered through the ``pytest11`` entry point).

Fixtures are added here as the testing toolkit grows.
"""

from __future__ import annotations
