"""A quote printed for the customer: company header, counterparty, lines, totals and validity, in Chinese."""

from decimal import Decimal

from fpdf import FPDF, FontFace

from crm_api.core.config import Settings
from crm_api.core.pdf import CJK, cjk_pdf
from crm_api.models.quote import Quote

HEADINGS = ("#", "产品", "型号", "数量", "单位", "单价", "折扣%", "税率%", "金额")


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"


def render(quote: Quote, settings: Settings) -> bytes:
    """The quote's PDF; reads only what the quote has loaded, so it runs in a worker thread."""

    def write(pdf: FPDF) -> None:
        pdf.set_font(CJK, size=16)
        pdf.cell(text=settings.company_name, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(CJK, size=9)
        for contact in (settings.company_address, settings.company_phone):
            if contact:
                pdf.cell(text=contact, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
        pdf.set_font(CJK, size=14)
        pdf.cell(text=f"报价单 {quote.number}（第 {quote.revision} 版）", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(CJK, size=10)
        for text in (
            f"客户：{quote.counterparty_name}",
            f"主题：{quote.title}",
            f"报价人：{quote.owner.full_name}",
            f"有效期至：{quote.valid_until.isoformat()}",
        ):
            pdf.cell(text=text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        align = ("RIGHT", "LEFT", "LEFT", "RIGHT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")
        with pdf.table(
            headings_style=FontFace(emphasis=None, fill_color=(230, 230, 230)),
            text_align=align,
            col_widths=(6, 30, 16, 12, 8, 16, 10, 10, 18),
            line_height=6,
        ) as table:
            table.row(HEADINGS)
            for line in quote.lines:
                table.row(
                    [
                        str(line.line_no),
                        line.product_name,
                        line.model or "",
                        _number(line.quantity),
                        line.unit or "",
                        _money(line.unit_price),
                        _number(line.discount_percent),
                        _number(line.tax_rate),
                        _money(line.total),
                    ]
                )
        pdf.ln(3)
        for label, value in (("小计", quote.subtotal), ("折扣", -quote.discount), ("税额", quote.tax), ("合计", quote.total)):
            pdf.cell(w=0, text=f"{label}：{_money(value)} {settings.currency}", align="R", new_x="LMARGIN", new_y="NEXT")
        if quote.notes:
            pdf.ln(2)
            pdf.multi_cell(w=0, text=f"备注：{quote.notes}")

    return cjk_pdf(write)
