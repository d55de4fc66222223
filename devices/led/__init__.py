"""Window-top LED screens: the project's own addressed RS-485 protocol (PROTOCOL.md), driver and simulator."""
