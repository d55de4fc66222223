"""Tables out as CSV and XLSX, safe to open in Excel/WPS: nothing a citizen typed can become a formula."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import TYPE_STRING

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would read as a formula gets a leading apostrophe (OWASP's advice)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


def to_csv(columns: list[str], rows: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([csv_cell(c) for c in columns])
    for r in rows:
        w.writerow([csv_cell(v) for v in r])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # the BOM makes Excel read UTF-8 Chinese correctly


def to_xlsx(tables: list[dict[str, Any]]) -> bytes:
    """One sheet per table; every string is stored as a string cell, never as a formula."""
    wb = Workbook()
    if wb.active is not None:  # a new workbook comes with one empty sheet; the tables bring their own
        wb.remove(wb.active)
    for t in tables:
        ws = wb.create_sheet(title=_sheet_name(t.get("title") or t["id"]))
        for r_idx, row in enumerate([t["columns"], *t["rows"]], start=1):
            for c_idx, value in enumerate(row, start=1):
                cell = ws.cell(row=r_idx, column=c_idx)
                if isinstance(value, str):
                    cell.value = value
                    cell.data_type = TYPE_STRING  # openpyxl would otherwise turn "=..." into a formula
                else:
                    cell.value = value
        ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _sheet_name(title: str) -> str:
    bad = set("[]:*?/\\")
    return "".join(ch for ch in title if ch not in bad)[:31] or "sheet"
