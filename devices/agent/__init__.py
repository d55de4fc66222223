"""The device agent: opens one station's devices through their drivers and bridges them to the queue server.

``onewindow agent --config config/devices.toml --station kiosk-1`` runs :class:`devices.agent.agent.Agent`:

* :mod:`.link` keeps a Socket.IO connection to the server (reconnect with exponential backoff and jitter, then
  ``agent_hello`` with ``since`` so no command sent meanwhile is missed);
* :mod:`.outbox` keeps every input (card read, code scanned, rating given) in a JSONL file until the server has
  acknowledged it, so nothing is lost across a server, network or agent restart;
* :mod:`.workers` runs one thread per device: open through the driver, poll or read, report health, reopen
  with backoff when the device drops, carry out commands;
* :mod:`.dispatch` turns server events into device work (``device_command``; a window's calls and state on
  its LED screen) and :mod:`.courier` sends inputs and command results in order.

Personal data (ID number, name) travels only to the server: logs carry masked forms (:mod:`.privacy`).
"""
