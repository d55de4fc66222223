"""Pieces every device kind shares: pty endpoints, transports by URL, the simulator control channel."""
