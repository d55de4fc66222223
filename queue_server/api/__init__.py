"""api layer of the queue server."""
