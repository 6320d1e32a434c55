"""connector-gateway: a multi-tenant server over the installed generated connector packages."""
