"""A typical queue ticket of the Hezuo hall, for tests, benchmarks and trying a printer out."""

from __future__ import annotations

from devices.printer.document import Cut, Footer, Header, Number, QRCode, Separator, Text, TicketDocument

TIBETAN_GREETING = "བཀྲ་ཤིས་བདེ་ལེགས།"  # "tashi delek", printed as an image: printer fonts have no Tibetan


def typical_ticket(number: str = "A001", waiting: int = 3) -> TicketDocument:
    """What the kiosk prints: hall name, greeting, number, service, people ahead, tracker QR, footer, cut."""
    return TicketDocument.of(
        Header(text="合作市政务服务中心"),
        Text(text=TIBETAN_GREETING, align="center"),
        Number(text=number),
        Text(text="不动产登记（综合窗口）", align="center", bold=True),
        Text(text=f"前面还有 {waiting} 人等候，请留意叫号。"),
        Separator(),
        QRCode(payload=f"https://hz.example.cn/q/{number}?d=2025-01-02"),
        Footer(text="取号时间：2025-01-02 09:31\n当日有效，过号请重新取号"),
        Cut(),
    )
