"""Version of the generated package (the definition's version)."""

from ._spec import VERSION as __version__

__all__ = ["__version__"]
