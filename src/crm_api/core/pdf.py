"""PDF documents that print Chinese: fpdf2 with WenQuanYi Micro Hei, a pip dependency, so no system font is needed.

The whole font holds some 30,000 glyphs, and fpdf2 reads and subsets all of them for every document: 0.3 s of CPU.
A document is therefore first set in the font's common characters (ASCII, Latin-1, punctuation, full-width forms and
the 6,763 hanzi of GB 2312, a quarter of the glyphs: 0.1 s), and set again in the whole font only when it printed a
character outside them (a rare surname). The common font is cut once per machine and kept in the temporary directory.
"""

import hashlib
import os
import tempfile
import threading
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from fontTools import subset, ttLib
from fpdf import FPDF
from fpdf.fonts import TTFFont

CJK = "cjk"
# Bump when the characters of the common font change: the cut font's file name carries it.
COMMON_VERSION = 2
_cutting = threading.Lock()


def _whole_font() -> Path:
    return Path(str(resources.files("paperang_p2_fonts_cjk") / "fonts" / "wqy-microhei.ttc"))


def _common_characters() -> set[int]:
    ranges = (
        range(0x20, 0x7F),  # ASCII
        range(0xA0, 0x100),  # Latin-1: ¥, ×, ·
        range(0x2000, 0x2070),  # general punctuation: — “ ” …
        range(0x2100, 0x2200),  # letter-like symbols and arrows: № ℃ →
        range(0x3000, 0x3040),  # CJK punctuation: 、。《》【】
        range(0xFF00, 0xFFF0),  # full-width forms: （），：￥
    )
    common = {code for block in ranges for code in block}
    for code in range(0x4E00, 0xA000):  # the unified ideographs that GB 2312 encodes
        try:
            chr(code).encode("gb2312")
        except UnicodeEncodeError:
            continue
        common.add(code)
    return common


def _cut_common_font(whole: Path, target: Path) -> None:
    font = ttLib.TTFont(whole, fontNumber=0)
    options = subset.Options()
    options.glyph_names = False  # a format 3 `post` table: no 30,000 glyph names to read per document
    options.notdef_outline = True
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.drop_tables += ["FFTM"]  # FontForge's timestamps: fontTools cannot subset them and says so in the log
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=_common_characters())
    subsetter.subset(font)
    # Written aside and renamed: processes cutting at once never read half a file.
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".part", delete=False) as part:
        font.save(part)
    os.replace(part.name, target)


@cache
def _common_font() -> Path:
    whole = _whole_font()
    stat = whole.stat()
    key = hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}:{COMMON_VERSION}".encode()).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / "crm-api-fonts" / f"wqy-microhei-common-{key}.ttf"
    with _cutting:
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            _cut_common_font(whole, target)
    return target


def _document(font: Path, orientation: Literal["portrait", "landscape"]) -> FPDF:
    """An A4 document on its first page, with the `cjk` font loaded."""
    pdf = FPDF(orientation=orientation, format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_font(CJK, fname=font)
    pdf.add_page()
    return pdf


def cjk_pdf(write: Callable[[FPDF], None], orientation: Literal["portrait", "landscape"] = "portrait") -> bytes:
    """The PDF that `write` sets on a fresh A4 document in the `cjk` font. CPU-bound: call it off the event loop."""
    pdf = _document(_common_font(), orientation)
    write(pdf)
    font = pdf.fonts[CJK]
    if isinstance(font, TTFFont) and font.missing_glyphs:
        pdf = _document(_whole_font(), orientation)
        write(pdf)
    return bytes(pdf.output())
