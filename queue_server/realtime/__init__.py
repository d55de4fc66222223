"""realtime layer of the queue server."""
