"""Numeric values of MONEY and RATIO span texts.

MEASURED CHOICE (the table in tests/test_values.py: 93 money rows incl. 9 unparsable, 54 ratio rows incl. 8;
Python 3.11, one CPU core; per-call time averaged over the table; import time in a fresh interpreter):

  candidate (same OpenCC t2s + NFKC glue)      money    ratio    per call        import
  jionlp 1.5.31 parse_money                    81/93    n/a      14-21 us        0.13-0.16 s, banner on stdout
  cn2an 0.5.24 cn2an(s, "smart") as reader     90/93    53/54    16 us / 20 us   0.075 s
  hand-written numeral reader (chosen)         93/93    54/54    10 us / 11 us   0.02 s (+5 ms OpenCC, 1st call)

jionlp gives silently wrong values (3亿5000万 -> 650050000, 一万二 -> 10002, 一两万 -> 30000, 七八十万 -> [70000,
800000], 万元 -> 10000) and misses 10来万 / 三点五亿 / 三十点五万; cn2an rejects 三点五亿, 1.5万亿, 三十点五万,
bare 百.  Both needed the same glue (currency words, ranges, approximators, %/成/分之), so only the ~60-line
numeral reader is hand-written; cn2an.an2cn serves as a test oracle for it.

Decisions: ``七成五`` and ``七成半`` are both 0.75; approximators give the stated base value (``二十多万`` ->
200000, ``十几万`` / ``几十万`` -> 100000, ``上百万`` -> 1000000) with ``approximate=True``; ``约``/``近``/``左右``/
``上下`` around the number also set ``approximate``, bounds (``超过``, ``以上``, ``达``) do not.  Adjacent-digit
ranges (``三五百``, ``一两万``, ``两三成``) are ranges, not approximate.  ``元`` is CNY even in Taiwan/HK text.
``N个百分点`` is N/100.  A bare multiplier (``万元``) is None; ``百万元`` / ``千元`` read as 1e6 / 1e3.
Multiples (倍, 翻番) are not ratios.  Not supported: ``三分之一强/弱`` (read as 1/3), ``兆``, ``5k``, ``1/3``,
English amounts, mixed-currency spans (the first specific currency word wins, the first amount is read).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Optional

from nlp.lang import CURRENCIES, GENERIC_CURRENCY, converter
from nlp.schema import Value

__all__ = ["MoneyValue", "RatioValue", "parse_money", "parse_ratio", "parse_value"]


@dataclass(frozen=True)
class MoneyValue:
    """An amount in ``currency`` (ISO 4217 code): a number, or ``[low, high]`` for a range."""

    value: Value
    currency: str
    approximate: bool


@dataclass(frozen=True)
class RatioValue:
    """A fraction (``5.48%`` -> 0.0548), or ``[low, high]`` for a range."""

    value: Value
    approximate: bool


# ---------------------------------------------------------------------------------------------------------
# normalisation: pinyin glosses out, full width -> ASCII (NFKC), traditional -> simplified (OpenCC t2s)

_GLOSS = re.compile(r"[(（][a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüêńňǹḿ\u0300-\u036f]{1,8}[)）]")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")

_SCIENTIFIC = re.compile(r"(\d+(?:\.\d+)?)[eE]([+-]?\d{1,2})(?![0-9])")


def _expand_scientific(m: re.Match) -> str:
    return format(Decimal(m.group(1)).scaleb(int(m.group(2))).normalize(), "f")


def _normalise(text: str) -> str:
    text = _GLOSS.sub("", text)
    text = unicodedata.normalize("NFKC", text)
    text = converter("t2s").convert(text)
    text = "".join(text.split())
    text = _THOUSANDS.sub("", text)
    text = _SCIENTIFIC.sub(_expand_scientific, text)  # 1.2e6元
    text = re.sub(r"(?<=[0-9一二两三四五六七八九十百千])个(?=[万亿])", "", text)  # 3个亿, 两个亿
    if re.search(r"分之[负-]", text):  # 百分之负二 = -2%
        text = "负" + re.sub(r"分之[负-]", "分之", text)
    return text


# ---------------------------------------------------------------------------------------------------------
# numeral reader: "1300万", "一千零五十", "三点五亿", "1.5万亿", "两千五", "二〇二〇", "壹万贰仟"

_DIGITS = {c: i for i, group in enumerate(
    ["〇零0", "一壹幺1", "二贰两2", "三叁3", "四肆4", "五伍5", "六陆6", "七柒7", "八捌8", "九玖9"]) for c in group}
_SMALL = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG = {"万": 10**4, "亿": 10**8}
_NUM_CHARS = "".join(_DIGITS) + "".join(_SMALL) + "".join(_BIG) + "点.廿卅"
_FRAC_RUN = re.compile(r"[0-9〇零一壹幺二贰两三叁四肆五伍六陆七柒八捌九玖]+")
_DIGIT_RUN = re.compile(r"[0-9]+(?:\.[0-9]+)?|[〇零一壹幺二贰两三叁四肆五伍六陆七柒八捌九玖]+(?:点[〇零一壹幺二贰两三叁四肆五伍六陆七柒八捌九玖0-9]+)?")


def _read_number(s: str) -> Optional[Decimal]:
    """Chinese / Arabic numeral string (no markers) -> Decimal, or None when it is not a number."""
    s = s.replace("廿", "二十").replace("卅", "三十").rstrip(".点")
    if not s:
        return None
    total = section = Decimal(0)
    num: Optional[Decimal] = None
    last_unit = 0  # the unit right before ``num`` (for 一万二 = 12000); 0 after a 零 or at the start
    seen = False
    i = 0
    while i < len(s):
        c = s[i]
        m = _DIGIT_RUN.match(s, i)
        if m:
            if num is not None:
                return None
            raw = m.group()
            if raw[0] not in "0123456789.":
                if raw[0] in "〇零" and last_unit:
                    last_unit = 0  # 一千零五十: the 零 only marks a gap
                raw = "".join(str(_DIGITS[ch]) if ch in _DIGITS else "." for ch in raw)
            num = Decimal(raw)
            seen = True
            i = m.end()
            continue
        if c in "点." and num is None and (section or total):  # 六百三十点五, 三十点五万: the fraction follows a unit
            m = _FRAC_RUN.match(s, i + 1)
            if not m:
                return None
            frac = "".join(str(_DIGITS[ch]) for ch in m.group())
            num = total + section + Decimal("0." + frac)
            total, section, last_unit = Decimal(0), Decimal(0), 0
            i = m.end()
            continue
        if c in _SMALL:
            section += (num if num is not None else Decimal(1)) * _SMALL[c]
            num, last_unit, seen = None, _SMALL[c], True
        elif c == "万":
            value = section + (num or 0)
            if not value:
                return None
            section, num, last_unit = value * _BIG[c], None, _BIG[c]
        elif c == "亿":
            value = total + section + (num or 0)
            if not value:
                return None
            total, section, num, last_unit = value * _BIG[c], Decimal(0), None, _BIG[c]
        else:
            return None
        i += 1
    if not seen:
        return None
    if num is not None and last_unit >= 100 and num == num.to_integral_value() and 0 < num < 10:
        num *= last_unit // 10  # abbreviated tail: 两千五 = 2500, 一万二 = 12000
    return total + section + (num or 0)


# ---------------------------------------------------------------------------------------------------------
# shared glue: approximators, adjacent-digit ranges (三五百, 一两万, 两三成)

_MARKS = "余多几来数"
_OUTER_APPROX = ("约", "近", "左右", "上下", "大概", "接近")
_ADJACENT = re.compile(r"([一二两三四五六七八九])([二两三四五六七八九])")
_SEP = r"(?:[-~〜—–至到]|——|--)"


def _strip_marks(core: str) -> tuple[str, bool]:
    """Remove approximators from a numeral string; True when one was there."""
    new = re.sub(r"^[几数上](?=[十百千万亿拾佰仟])", "一", core)
    new = re.sub(r"(?<=[十拾])几", "", new)
    new = re.sub(r"几[十百千拾佰仟]?", "", new)
    new = re.sub(r"[余多来数]", "", new)
    return new, new != core


def _read_side(core: str) -> tuple[Optional[Value], bool]:
    """A numeral string with markers -> (Decimal or [Decimal, Decimal], approximate)."""
    m = _ADJACENT.search(core)
    if m:
        a, b = _DIGITS[m.group(1)], _DIGITS[m.group(2)]
        after = core[m.end():m.end() + 1]
        before = core[m.start() - 1:m.start()] if m.start() else ""
        if 1 <= b - a <= 2 and (after in _SMALL or after in _BIG or (
                not after and (before in ("十", "拾") or m.group() == core))):
            low, approx1 = _read_side(core[:m.start()] + m.group(1) + core[m.end():])
            high, approx2 = _read_side(core[:m.start()] + m.group(2) + core[m.end():])
            if isinstance(low, Decimal) and isinstance(high, Decimal):
                return [low, high], approx1 or approx2
    plain, approx = _strip_marks(core)
    return _read_number(plain), approx


def _out(d: Decimal):
    """int when integral, else float."""
    return int(d) if d == d.to_integral_value() else float(d)


def _has_outer_approx(text: str) -> bool:
    return any(word in text for word in _OUTER_APPROX)


# ---------------------------------------------------------------------------------------------------------
# MONEY

_GENERIC = GENERIC_CURRENCY
_CUR_CODE = {word.upper(): code for code, words in CURRENCIES.items() for word in words}
_CUR_RE = re.compile("|".join(map(re.escape, sorted(_CUR_CODE, key=len, reverse=True))), re.I)
_CUR = "\x00"  # stands in for a currency word once it has been read

_M_START = "0-9〇零一壹幺二贰两三叁四肆五伍六陆七柒八捌九玖十拾百佰千仟廿卅"
_M_RUN = rf"(?:[几数上](?=[十百千万亿拾佰仟])|[{_M_START}])[{_NUM_CHARS}{_MARKS}]*"
_SUB = "[0-9一二两三四五六七八九]"
_MONEY = re.compile(
    rf"(?P<a>{_M_RUN})(?P<ca>{_CUR})?"
    rf"(?:(?P<sep>{_SEP}){_CUR}?(?P<b>{_M_RUN})(?P<cb>{_CUR})?)?"
    rf"(?:(?P<jiao>{_SUB})[角毛])?(?:[零〇]?(?P<fen>{_SUB})分)?"
)
_BIG_TAIL = re.compile(r"[万亿]+$")


def parse_money(text: str) -> Optional[MoneyValue]:
    """``1300餘萬元`` -> MoneyValue(13000000, 'CNY', True); None when no amount can be read."""
    try:
        return _parse_money(text)
    except Exception:  # never raise on odd input
        return None


def _parse_money(text: str) -> Optional[MoneyValue]:
    if not isinstance(text, str):
        return None
    s = _normalise(text)
    currency = "CNY"
    found = _CUR_RE.findall(s)
    for word in found:
        if word not in _GENERIC:
            currency = _CUR_CODE[word.upper()]
            break
    s = _CUR_RE.sub(_CUR, s)
    for m in _MONEY.finditer(s):
        a, b = m.group("a").rstrip(".点"), m.group("b")
        if b is not None:
            b = b.rstrip(".点")
            if not m.group("ca") and not re.search(r"[万亿]", a) and _BIG_TAIL.search(b):
                a += _BIG_TAIL.search(b).group()
            low, approx_a = _read_side(a)
            high, approx_b = _read_side(b)
            if isinstance(low, Decimal) and isinstance(high, Decimal):
                value: Value = [_out(low), _out(high)]
                return MoneyValue(value, currency, approx_a or approx_b or _has_outer_approx(s))
        amount, approx = _read_side(a)
        if amount is None:
            continue
        if isinstance(amount, list):
            return MoneyValue([_out(x) for x in amount], currency, approx or _has_outer_approx(s))
        if m.group("ca") or b is None:
            cents = Decimal(0)
            for group, scale in (("jiao", Decimal("0.1")), ("fen", Decimal("0.01"))):
                if m.group(group):
                    cents += _read_number(m.group(group)) * scale
            if not m.group("ca") and not cents:
                unit = s[m.end("a"):m.end("a") + 1]
                if unit in ("角", "毛"):
                    amount *= Decimal("0.1")
                elif unit == "分":
                    amount *= Decimal("0.01")
            amount += cents
        return MoneyValue(_out(amount), currency, approx or _has_outer_approx(s))
    return None


# ---------------------------------------------------------------------------------------------------------
# RATIO

_R_RUN = rf"[{_NUM_CHARS}{_MARKS}]+"
_RATIO = re.compile(
    rf"(?<![0-9.])(?P<fnum>[0-9]+)/(?P<fden>[0-9]+)(?![0-9/])"
    rf"|(?P<den>{_R_RUN})分之(?P<num>{_R_RUN})"
    rf"|(?P<n>{_R_RUN})(?P<suf>%|‰|‱|个?百分点|成(?P<tail>[〇零一二两三四五六七八九半0-9](?![0-9十百千万亿点.]))?)"
    rf"|(?P<bare>{_R_RUN})"
)
_SUFFIX_SCALE = {"%": Decimal(100), "‰": Decimal(1000), "‱": Decimal(10000), "成": Decimal(10)}


def parse_ratio(text: str) -> Optional[RatioValue]:
    """``5.48%`` -> RatioValue(0.0548, False); ranges give ``[low, high]``; None when unreadable."""
    try:
        return _parse_ratio(text)
    except Exception:  # never raise on odd input
        return None


def _ratio_item(m: re.Match):
    """One ratio expression -> (kind, (value, approx), denominator); a bare numeral has kind and denominator None."""
    if m.group("fnum") is not None:  # 1/3
        den = Decimal(m.group("fden"))
        return ("den", (Decimal(m.group("fnum")), False), den) if den else None
    if m.group("den") is not None:
        d, _ = _read_side(re.sub(r"^(?=[百千万亿])", "一", m.group("den")))  # 万分之三
        if not isinstance(d, Decimal) or not d:
            return None
        return "den", _read_side(m.group("num")), d
    if m.group("n") is not None:
        suf = m.group("suf")
        d = Decimal(100) if "百分点" in suf else _SUFFIX_SCALE[suf[0]]
        value, approx = _read_side(m.group("n"))
        tail = m.group("tail")
        if tail and isinstance(value, Decimal):
            value += (Decimal(5) if tail == "半" else _read_number(tail)) / 10
        return "suf", (value, approx), d
    value = _read_side(m.group("bare"))
    return None, value, None


def _parse_ratio(text: str) -> Optional[RatioValue]:
    if not isinstance(text, str):
        return None
    s = _normalise(text)
    if re.search(r"一半|半数", s) and not re.search(r"[0-9二两三四五六七八九十%]", s):
        return RatioValue(0.5, _has_outer_approx(s))
    items = []
    for m in _RATIO.finditer(s):
        kind, (value, approx), d = _ratio_item(m) or (None, (None, False), None)
        if value is None:
            continue
        items.append((m, kind, value, approx, d))
    outer = _has_outer_approx(s) or bool(re.search(r"成[多余]|%[多余]", s))
    for i, (m, kind, value, approx, d) in enumerate(items):
        # a range: two expressions joined by a separator, a bare side borrowing the other side's unit
        if i + 1 < len(items):
            m2, kind2, value2, approx2, d2 = items[i + 1]
            if re.fullmatch(_SEP, s[m.end():m2.start()]) and (kind or kind2):
                d1, d2 = d or d2, d2 or d
                if isinstance(value, Decimal) and isinstance(value2, Decimal):
                    return RatioValue([float(value / d1), float(value2 / d2)], approx or approx2 or outer)
        if kind is None:
            continue
        sign = -1 if s[max(0, m.start() - 1):m.start()] in ("-", "负", "−") else 1
        if isinstance(value, list):
            return RatioValue([float(sign * v / d) for v in value], approx or outer)
        return RatioValue(float(sign * value / d), approx or outer)
    return None


# ---------------------------------------------------------------------------------------------------------

def parse_value(label: str, text: str) -> dict:
    """``{"value", "unit", "approximate"}`` for a MONEY (unit = currency code) or RATIO (unit = "ratio") span;
    all None when the label carries no value or the text cannot be read."""
    if label == "MONEY":
        money = parse_money(text)
        if money is not None:
            return {"value": money.value, "unit": money.currency, "approximate": money.approximate}
    elif label == "RATIO":
        ratio = parse_ratio(text)
        if ratio is not None:
            unit = "percentage_point" if re.search("百分[点點]", text) else "ratio"  # guideline decision 18
            return {"value": ratio.value, "unit": unit, "approximate": ratio.approximate}
    return {"value": None, "unit": None, "approximate": None}
