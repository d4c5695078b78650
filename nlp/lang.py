"""Language tables, defined once: currencies, numerals, quotes and brackets, the OpenCC converters.

Shared by the value parser (``nlp/values.py``), the span rules (``nlp/rules.py``), the pieces' edge trimming
(``nlp/pieces.py``), the gold-data checks (``nlp/annotations.py``) and text cleaning (``nlp/text.py``): a currency
the parser reads is also a currency the rules accept (``tests/test_values.py`` checks it).

Currency words are listed in simplified script; :func:`currency_words` adds their traditional forms.
"""
from __future__ import annotations

from functools import lru_cache

# ISO 4217 code -> the words and symbols that name it (simplified script); a word may stand before or after
# the number (人民币5000元, 5000元人民币, HK$20萬, 20萬港元)
CURRENCIES = {
    "CNY": ["元", "圆", "块", "块钱", "人民币", "¥", "￥", "RMB", "CNY"],
    "HKD": ["港元", "港币", "港圆", "HK$", "HKD"],
    "USD": ["美元", "美金", "US$", "$", "USD"],
    "TWD": ["新台币", "台币", "NT$", "TWD"],
    "EUR": ["欧元", "€", "EUR"],
    "JPY": ["日元", "日圆", "円", "JPY"],
    "GBP": ["英镑", "£", "GBP"],
    "AUD": ["澳元", "澳大利亚元", "AUD"],
    "MOP": ["澳门元", "澳门币", "MOP"],
    "CAD": ["加元", "加拿大元", "CAD"],
    "SGD": ["新加坡元", "新元", "SGD"],
    "KRW": ["韩元", "KRW"],
    "CHF": ["瑞士法郎", "法郎", "CHF"],  # 法郎 alone: the franc still in use
    "RUB": ["卢布", "RUB"],
    "THB": ["泰铢", "THB"],
    "INR": ["印度卢比", "卢比", "INR"],
    "NZD": ["新西兰元", "纽元", "NZD"],
    "VND": ["越南盾", "VND"],
    "MYR": ["马来西亚林吉特", "林吉特", "令吉", "MYR"],
}
GENERIC_CURRENCY = {"元", "圆", "块", "块钱"}  # CNY unless a specific currency is named in the same span

# traditional forms of the characters in the currency words (OpenCC s2t, fixed here so the tables need no
# converter at import time; tests check them against OpenCC)
_S2T = str.maketrans("币门韩欧镑块钱卢铢圆纽亚来马", "幣門韓歐鎊塊錢盧銖圓紐亞來馬")

NUMERAL_CHARS = "0123456789零〇一二三四五六七八九十百千万萬亿億两兩壹贰貳叁參肆伍陆陸柒捌玖拾佰仟几幾"
MAGNITUDE_CHARS = "万萬亿億"
APPROXIMATOR_CHARS = "多余餘来來"
SIGN_CHARS = "-−－负負"



def is_hanzi(char: str, compatibility: bool = True) -> bool:
    """True for a CJK ideograph: the basic block, extension A, the ideographic planes 2 and 3 (extensions B and
    later) and, unless ``compatibility`` is false, the compatibility ideographs (U+F900-FAFF, U+2F800-2FA1F).
    The base-model builder leaves the compatibility forms out (they are not new characters)."""
    code = ord(char)
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF:
        return True
    if 0xF900 <= code <= 0xFAFF or 0x2F800 <= code <= 0x2FA1F:
        return compatibility
    return 0x20000 <= code <= 0x3FFFF


# quotes and brackets
QUOTE_PAIRS = {"“": "”", "「": "」", "『": "』", "《": "》", "‘": "’", "〈": "〉"}
"""Opening -> closing mark of the quotes and titles that may hold a quoted name (span rules)."""
QUOTES = frozenset("“”‘’「」『』\"'")
"""Quotation marks (not titles or brackets)."""
ENCLOSING = frozenset("“”‘’「」『』《》〈〉()（）[]【】〔〕\"'")
"""Every quote, title mark and bracket: never the edge of a span."""


@lru_cache(maxsize=8)
def converter(config: str = "t2s"):
    """One cached OpenCC converter per configuration (``t2s``, ``s2t``, ``s2twp``, ...)."""
    import opencc

    return opencc.OpenCC(config)


@lru_cache(maxsize=1)
def currency_words() -> dict[str, str]:
    """Every currency word and symbol, simplified and traditional (OpenCC s2t, s2tw and s2hk forms, and the
    character-by-character one: 新台幣 and 新臺幣 both), -> its ISO code."""
    converters = [converter(config).convert for config in ("s2t", "s2tw", "s2hk")]
    words = {}
    for code, names in CURRENCIES.items():
        for name in names:
            for form in [name, name.translate(_S2T)] + [convert(name) for convert in converters]:
                words[form] = code
    return words

