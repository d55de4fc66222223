"""The wire contract between the device side and the queue server: the one place both sides agree on.

It lives inside ``devices/`` because the design card fixes the top-level folders (``kiosk/ queue_server/ display/
devices/ config/ tests/``) and devices may import nothing of ours but this contract; the server importing
``devices.contract`` (and only it) keeps the server free of drivers. Pure: the standard library and pydantic only.

* :mod:`.privacy`  — masking of names, ID numbers and phones; the GB 11643 check character
* :mod:`.ratings`  — the five 好差评 levels and the fixed 差评 reasons
* :mod:`.messages` — the payloads of ``agent_hello``, ``device_health``, ``device_input``, ``command_result``
  (agent → server) and ``device_command`` (server → agent)
"""
