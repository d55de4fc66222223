"""Printer models: paper width, fonts and commands a model understands, as far as rendering a ticket is concerned."""

from __future__ import annotations

from dataclasses import dataclass

from devices.printer.errors import CodecError


@dataclass(frozen=True)
class PrinterProfile:
    """What a printer model can do, as far as rendering a ticket is concerned."""

    name: str
    paper_width_dots: int = 576  # 80 mm paper, 72 mm printable at 8 dots/mm (203 dpi)
    dots_per_mm: int = 8
    native_qr: bool = True  # understands GS ( k; otherwise QR codes are sent as raster images
    chinese: bool = True  # boots in Chinese mode with a GB18030 (GBK-range) double-byte font
    gb18030_four_byte: bool = False  # its font also covers four-byte GB18030 codes (few do)
    char_width_dots: int = 12  # font A single-byte cell; double-byte characters are twice as wide
    char_height_dots: int = 24
    line_spacing_dots: int = 34  # ESC 2 default: 1/6 inch

    @property
    def columns(self) -> int:
        """Single-byte characters per line at normal size."""
        return self.paper_width_dots // self.char_width_dots

    def cells(self, char: str) -> int | None:
        """Width of ``char`` in single-byte cells in the printer's own font, or None if the font lacks it."""
        if self.chinese:
            try:
                encoded = char.encode("gb18030")
            except UnicodeEncodeError:
                return None
            if len(encoded) == 1:
                return 1 if 0x20 <= encoded[0] < 0x7F else None
            if len(encoded) == 2 or self.gb18030_four_byte:
                return 2
            return None
        try:
            encoded = char.encode("cp437")
        except UnicodeEncodeError:
            return None
        return 1 if encoded[0] >= 0x20 and encoded[0] != 0x7F else None

    def encode_text(self, text: str) -> bytes:
        """The bytes the printer's font prints as ``text``; raises CodecError for a character it lacks."""
        for char in text:
            if self.cells(char) is None:
                raise CodecError(f"U+{ord(char):04X} is not in the font of printer profile {self.name!r}")
        return text.encode("gb18030" if self.chinese else "cp437")


PROFILES: dict[str, PrinterProfile] = {
    profile.name: profile
    for profile in (
        PrinterProfile("zh-80"),  # Xprinter, Rongta, GP, Epson TM-T88 (Chinese model): 80 mm
        PrinterProfile("zh-80-raster-qr", native_qr=False),  # cheaper Chinese printers without GS ( k
        PrinterProfile("intl-80", chinese=False),  # Epson TM-T88 with western firmware: CP437, no Chinese font
        PrinterProfile("zh-58", paper_width_dots=384),  # 58 mm paper, 48 mm printable
    )
}
DEFAULT_PROFILE = PROFILES["zh-80"]


def get_profile(profile: PrinterProfile | str | None) -> PrinterProfile:
    """A profile given by value or by name (None = the default 80 mm Chinese printer)."""
    if profile is None:
        return DEFAULT_PROFILE
    if isinstance(profile, PrinterProfile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise CodecError(f"unknown printer profile {profile!r}; known: {', '.join(PROFILES)}") from None
