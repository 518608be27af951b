"""Messy 1,000-row files, one per entity, each with the rows it should refuse, and their corrected versions."""

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openpyxl import Workbook

ROWS = 1_000
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def row_number(index: int) -> int:
    """The file row of the index-th data row: the header is row 1."""
    return index + 2


@dataclass
class EntityFile:
    entity: str
    header: list[str]
    good: Callable[[int], list[Any]]
    # index -> (column, the cell written there instead of the good one)
    defects: dict[int, tuple[str, Any]]
    # The row errors expected: (row, column, value as the errors CSV writes it).
    expected: set[tuple[int, str, str]]
    filename: str
    encoding: str = "utf-8-sig"

    def rows(self, *, corrected: bool = False, change: dict[str, Any] | None = None) -> list[list[Any]]:
        header = self.header + list(change or {})
        rows = [header]
        for index in range(ROWS):
            cells = dict(zip(self.header, self.good(index), strict=True)) | (change or {})
            if not corrected and index in self.defects:
                column, cell = self.defects[index]
                cells[column] = cell
            rows.append([cells[name] for name in header])
        return rows

    def content(self, *, corrected: bool = False, change: dict[str, Any] | None = None) -> tuple[str, bytes, str]:
        rows = self.rows(corrected=corrected, change=change)
        if self.filename.endswith(".xlsx"):
            return self.filename, xlsx_bytes(rows), XLSX
        return self.filename, csv_bytes(rows, self.encoding), CSV


def csv_bytes(rows: list[list[Any]], encoding: str = "utf-8-sig") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(["" if cell is None else cell for cell in row] for row in rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("data")
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _duplicate_of(previous: int, prefix: str) -> tuple[str, str]:
    return f"{prefix}{previous}", f"{prefix}{previous}"


CUSTOMERS = EntityFile(
    entity="customers",
    # Chinese headers, saved by Excel on a Chinese Windows: GB18030.
    header=["外部编号", "客户名称", "地区", "客户等级", "电话", "地址", "满意度"],
    good=lambda i: [f"KH-EXT-{i}", f"客户{i}号有限公司", "上海", "大客户", f"021-6{i:07d}", "上海市", "4"],
    defects={
        10: ("地区", "火星"),
        200: ("客户名称", ""),
        300: ("满意度", "9"),
        400: ("电话", "=1+2"),
        500: ("外部编号", "KH-EXT-499"),
        600: ("客户名称", '=HYPERLINK("http://example.com")'),
    },
    expected={
        (12, "地区", "火星"),
        (202, "客户名称", ""),
        (302, "满意度", "9"),
        (402, "电话", "'=1+2"),  # written back as text a spreadsheet does not run
        (502, "外部编号", "KH-EXT-499"),
    },
    filename="客户.csv",
    encoding="gb18030",
)

CONTACTS = EntityFile(
    entity="contacts",
    header=["external_id", "customer_code", "name", "gender", "title", "office_phone", "mobile", "email"],
    good=lambda i: [
        f"CT-{i}",
        f"KH0000000{1 + i % 2}",
        f"联系人{i}",
        "男" if i % 2 else "female",
        "经理",
        f"010-6{i:07d}",
        f"139{i:08d}",
        f"c{i}@example.cn",
    ],
    defects={
        10: ("customer_code", "KH99999999"),
        200: ("gender", "unknown"),
        300: ("office_phone", ""),
        400: ("email", "not-an-email"),
        500: ("external_id", "CT-499"),
        600: ("name", "@SUM(A1)"),
    },
    expected={
        (12, "customer_code", "KH99999999"),
        (202, "gender", "unknown"),
        (302, "office_phone", ""),
        (402, "email", "not-an-email"),
        (502, "external_id", "CT-499"),
    },
    filename="contacts.csv",
)

LEADS = EntityFile(
    entity="leads",
    header=["外部编号", "公司名称", "联系人", "电话", "邮箱", "来源", "地区", "行业"],
    good=lambda i: [f"LD-{i}", f"线索公司{i}", f"张{i}", f"137{i:08d}", f"l{i}@example.cn", "官网", "浙江", "制造业"],
    defects={
        10: ("来源", "地推"),
        200: ("公司名称", ""),
        300: ("电话", "13700000299"),  # the phone of row 301: one open lead per phone
        400: ("邮箱", "bad@"),
        500: ("外部编号", "LD-499"),
        600: ("联系人", "-张600"),
    },
    expected={
        (12, "来源", "地推"),
        (202, "公司名称", ""),
        (302, "", ""),
        (402, "邮箱", "bad@"),
        (502, "外部编号", "LD-499"),
    },
    filename="线索.csv",
    encoding="utf-8",
)

OPPORTUNITIES = EntityFile(
    entity="opportunities",
    header=[
        "external_id",
        "customer_name",
        "success_probability",
        "summary",
        "description",
        "expected_amount",
        "expected_close_date",
        "stage",
        "source",
    ],
    good=lambda i: [f"OP-{i}", f"机会客户{i}", 50, f"概要{i}", "描述", 10000.5, datetime(2027, 1, 15), "需求确认", "展会"],
    defects={
        10: ("expected_close_date", "2027-02-30"),
        200: ("summary", None),
        300: ("success_probability", 120),
        400: ("stage", "签单"),
        500: ("external_id", "OP-499"),
        600: ("customer_name", "+86 客户"),
    },
    expected={
        (12, "expected_close_date", "2027-02-30"),
        (202, "summary", ""),
        (302, "success_probability", "120"),
        (402, "stage", "签单"),
        (502, "external_id", "OP-499"),
    },
    filename="opportunities.xlsx",
)

PRODUCTS = EntityFile(
    entity="products",
    header=["外部编号", "产品名称", "型号", "单位", "单价"],
    good=lambda i: [f"P-{i}", f"产品{i}", f"M-{i}", "台", 99.5],
    defects={
        10: ("单价", -5),
        200: ("产品名称", None),
        300: ("单价", "abc"),
        400: ("单位", "一个很长很长很长很长很长很长很长很长的单位"),
        500: ("外部编号", "P-499"),
        600: ("型号", "-M600"),
    },
    expected={
        (12, "单价", "'-5"),  # a leading minus is a formula to a spreadsheet
        (202, "产品名称", ""),
        (302, "单价", "abc"),
        (402, "单位", "一个很长很长很长很长很长很长很长很长的单位"),
        (502, "外部编号", "P-499"),
    },
    filename="产品.xlsx",
)

FILES = {file.entity: file for file in (CUSTOMERS, CONTACTS, LEADS, OPPORTUNITIES, PRODUCTS)}
