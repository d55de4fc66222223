"""store layer of the queue server."""
