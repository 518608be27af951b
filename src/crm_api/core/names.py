"""Company names reduced to a comparison key, so 上海华信科技有限公司 and 上海华信科技 (Co., Ltd.) meet."""

import re
import unicodedata
from functools import lru_cache

# Chinese legal forms, removed wherever they stand (longest first).
_CHINESE_LEGAL_FORM = re.compile("有限责任公司|股份有限公司|有限公司|集团|股份|公司")
# Latin legal forms, removed as whole words only ("Inc" goes, "Incredible" stays).
_LATIN_LEGAL_FORM = re.compile(r"\b(?:co|ltd|limited|inc|incorporated|corp|corporation|company|group|llc|plc|gmbh)\b")
_NOT_WORD = re.compile(r"[\W_]+")


# An import reads each name three times (its duplicate screen, the create's guard, the column): once is enough.
@lru_cache(maxsize=4096)
def normalize_company_name(name: str) -> str:
    """NFKC (full width to half width), case-folded, legal forms, punctuation and spaces removed."""
    key = _NOT_WORD.sub(" ", unicodedata.normalize("NFKC", name).casefold())
    key = _LATIN_LEGAL_FORM.sub(" ", _CHINESE_LEGAL_FORM.sub(" ", key))
    return key.replace(" ", "")
