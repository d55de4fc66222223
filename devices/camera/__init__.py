"""Camera QR/barcode reading: frame decoding and debounce (codec), capture (driver), a virtual camera (simulator)."""
