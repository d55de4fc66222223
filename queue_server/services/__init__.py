"""services layer of the queue server."""
