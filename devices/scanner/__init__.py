"""Barcode/QR scanners: serial line mode (codec, driver, simulator) and keyboard-wedge mode through evdev."""
