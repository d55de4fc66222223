"""domain layer of the queue server."""
