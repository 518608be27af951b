"""PDF documents that print Chinese: fpdf2 with WenQuanYi Micro Hei, a pip dependency, so no system font is needed."""

from importlib import resources
from typing import Literal

from fpdf import FPDF

CJK = "cjk"


def _cjk_font_path() -> str:
    return str(resources.files("paperang_p2_fonts_cjk") / "fonts" / "wqy-microhei.ttc")


def cjk_document(orientation: Literal["portrait", "landscape"] = "portrait") -> FPDF:
    """An A4 document on its first page, with the `cjk` font loaded."""
    pdf = FPDF(orientation=orientation, format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_font(CJK, fname=_cjk_font_path(), collection_font_number=0)
    pdf.add_page()
    return pdf
