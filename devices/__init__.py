"""Hall devices: per kind a codec (bytes <-> values), a driver (transport + codec) and a simulator.

Nothing here imports the server, kiosk or display packages; the agent talks to the server over the wire only.
"""
