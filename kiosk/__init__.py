"""kiosk pages."""
