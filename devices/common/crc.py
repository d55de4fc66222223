"""CRC-16/MODBUS (poly 0x8005 reflected = 0xA001, init 0xFFFF, no final XOR): check value of b"123456789" is 0x4B37.

Hand-written rather than a dependency: it is eight lines of table code pinned by the standard check vector.
"""

from __future__ import annotations


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc16_modbus(data: bytes | bytearray | memoryview, crc: int = 0xFFFF) -> int:
    """CRC-16/MODBUS of ``data``; pass a previous result as ``crc`` to continue over more bytes."""
    for byte in bytes(data):
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc
