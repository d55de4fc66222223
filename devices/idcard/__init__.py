"""Second-generation resident ID-card reader (SAM protocol): codec, card text block, driver, simulator."""
