"""ESC/POS ticket printer (80 mm): document model, codec, independent transcript reader, driver, simulator."""
