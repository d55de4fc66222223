"""display pages."""
