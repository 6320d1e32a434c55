"""connector-gateway: one multi-tenant server for every installed generated connector package."""

__version__ = "0.1.0"
