"""The window's 好差评 evaluator pad: line protocol (PROTOCOL.md), driver and simulator."""
