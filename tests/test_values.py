"""Value normalisation of MONEY and RATIO span texts (nlp.values)."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlp.values import MoneyValue, RatioValue, _parse_money, _parse_ratio, parse_money, parse_ratio, parse_value

# (span text, value, currency, approximate).  Rows marked "seed" are every money amount in seeds/*.txt,
# written gloss-free (the pipeline strips inline pinyin glosses before parsing).
MONEY_CASES = [
    # --- seed 000 ---
    ("1382.8元", 1382.8, "CNY", False),
    ("二十多万", 200000, "CNY", True),
    ("80元", 80, "CNY", False),
    ("120元", 120, "CNY", False),
    ("220元", 220, "CNY", False),
    ("200元", 200, "CNY", False),
    ("1200元", 1200, "CNY", False),
    # --- seed 003 (traditional) ---
    ("1300餘萬元", 13000000, "CNY", True),
    ("27970.3元", 27970.3, "CNY", False),
    ("20490.83元", 20490.83, "CNY", False),
    ("1067.36元", 1067.36, "CNY", False),
    ("897.87元", 897.87, "CNY", False),
    ("4355.79元", 4355.79, "CNY", False),
    ("1073.15元", 1073.15, "CNY", False),
    ("6000塊錢", 6000, "CNY", False),
    ("81077.43元", 81077.43, "CNY", False),
    ("6063.84元", 6063.84, "CNY", False),
    ("3000元", 3000, "CNY", False),
    ("5000元", 5000, "CNY", False),
    ("20000元", 20000, "CNY", False),
    ("4000餘元", 4000, "CNY", True),
    ("200億元", 20000000000, "CNY", False),
    # --- seed 004 ---
    ("两百元", 200, "CNY", False),
    ("110元", 110, "CNY", False),
    ("11元", 11, "CNY", False),
    # --- guideline examples ---
    ("5万元", 50000, "CNY", False),
    ("3万至5万元", [30000, 50000], "CNY", False),
    ("三五百块", [300, 500], "CNY", False),
    ("几十万元", 100000, "CNY", True),
    # --- newspaper forms: decimals with multipliers, approximators ---
    ("3.5亿元", 350000000, "CNY", False),
    ("1.2万余元", 12000, "CNY", True),
    ("12万多元", 120000, "CNY", True),
    ("3.5萬餘元", 35000, "CNY", True),
    ("十几万元", 100000, "CNY", True),
    ("10来万元", 100000, "CNY", True),
    ("上百万元", 1000000, "CNY", True),
    ("数十亿元", 1000000000, "CNY", True),
    ("1亿元", 100000000, "CNY", False),
    ("1.5万亿元", 1500000000000, "CNY", False),
    ("3亿5000万元", 350000000, "CNY", False),
    # --- Chinese numerals ---
    ("一万二", 12000, "CNY", False),
    ("一千零五十元", 1050, "CNY", False),
    ("十万八千元", 108000, "CNY", False),
    ("三点五亿元", 350000000, "CNY", False),
    ("三十点五万元", 305000, "CNY", False),
    ("六百三十点五元", 630.5, "CNY", False),
    ("兩千萬元", 20000000, "CNY", False),
    ("五十元", 50, "CNY", False),
    ("壹万贰仟元", 12000, "CNY", False),
    ("一百圆", 100, "CNY", False),
    ("500块", 500, "CNY", False),
    # --- ranges ---
    ("3-5万元", [30000, 50000], "CNY", False),
    ("3万元至5万元", [30000, 50000], "CNY", False),
    ("300万～500万元", [3000000, 5000000], "CNY", False),
    ("一两万元", [10000, 20000], "CNY", False),
    ("七八十万元", [700000, 800000], "CNY", False),
    ("10亿到20亿美元", [1000000000, 2000000000], "USD", False),
    # --- separators, full width, spaces, junk around the number ---
    ("1,382.8元", 1382.8, "CNY", False),
    ("1，382元", 1382, "CNY", False),
    ("１２３元", 123, "CNY", False),
    ("５．５万元", 55000, "CNY", False),
    (" 80元 ", 80, "CNY", False),
    ("约5万元", 50000, "CNY", True),
    ("2000元左右", 2000, "CNY", True),
    ("超过200亿元", 20000000000, "CNY", False),
    ("达1.2亿元", 120000000, "CNY", False),
    ("人民币3000元", 3000, "CNY", False),
    ("￥3000", 3000, "CNY", False),
    ("3元5角", 3.5, "CNY", False),
    # --- other currencies ---
    ("100港元", 100, "HKD", False),
    ("3000萬港幣", 30000000, "HKD", False),
    ("5000港币", 5000, "HKD", False),
    ("HK$100", 100, "HKD", False),
    ("2.5亿美元", 250000000, "USD", False),
    ("100美金", 100, "USD", False),
    ("5,000,000美元", 5000000, "USD", False),
    ("5000新台币", 5000, "TWD", False),
    ("3萬新臺幣", 30000, "TWD", False),
    ("20万欧元", 200000, "EUR", False),
    ("1000日元", 1000, "JPY", False),
    ("200亿日圆", 20000000000, "JPY", False),
    ("100英镑", 100, "GBP", False),
    ("20萬歐元", 200000, "EUR", False),
    ("30万澳元", 300000, "AUD", False),
]

MONEY_NONE = ["", "元", "万元", "费用", "巨额费用", "abc", "   ", "美元", "多"]

# (span text, value, approximate)
RATIO_CASES = [
    # --- seeds 003, 004 ---
    ("92.5%", 0.925, False),
    ("5.48%", 0.0548, False),
    ("9.62%", 0.0962, False),
    ("4%", 0.04, False),
    ("90%", 0.9, False),
    ("7.1%", 0.071, False),
    # --- guideline examples ---
    ("九成", 0.9, False),
    ("百分之八十", 0.8, False),
    ("三分之一", 1 / 3, False),
    ("5‰", 0.005, False),
    # --- spelled-out percentages and fractions ---
    ("百分之九十二点五", 0.925, False),
    ("百分之十二點五", 0.125, False),
    ("百分之百", 1.0, False),
    ("百分之0.5", 0.005, False),
    ("三分之二", 2 / 3, False),
    ("五分之一", 0.2, False),
    ("千分之五", 0.005, False),
    ("万分之三", 0.0003, False),
    # --- 成 ---
    ("两成", 0.2, False),
    ("兩成", 0.2, False),
    ("6成", 0.6, False),
    ("七成五", 0.75, False),
    ("七成半", 0.75, False),
    ("十成", 1.0, False),
    # --- ranges ---
    ("5%-10%", [0.05, 0.1], False),
    ("5-10%", [0.05, 0.1], False),
    ("5%至10%", [0.05, 0.1], False),
    ("百分之五到百分之十", [0.05, 0.1], False),
    ("百分之五至十", [0.05, 0.1], False),
    ("三至五成", [0.3, 0.5], False),
    ("两三成", [0.2, 0.3], False),
    ("百分之二三十", [0.2, 0.3], False),
    # --- approximators, junk, full width, signs ---
    ("三成多", 0.3, True),
    ("百分之三十多", 0.3, True),
    ("30%左右", 0.3, True),
    ("近三成", 0.3, True),
    ("90%以上", 0.9, False),
    ("九成以上", 0.9, False),
    ("９２．５％", 0.925, False),
    ("12.5％", 0.125, False),
    ("100%", 1.0, False),
    ("2‰", 0.002, False),
    ("0.5个百分点", 0.005, False),
    ("2个百分点", 0.02, False),
    ("-3.2%", -0.032, False),
    ("一半", 0.5, False),
]

RATIO_NONE = ["", "%", "成", "成功", "比例", "abc", "分之", "百分之"]


def _same(got, want) -> bool:
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(map(_same, got, want))
    return isinstance(got, (int, float)) and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("text,value,currency,approx", MONEY_CASES)
def test_parse_money(text, value, currency, approx):
    got = parse_money(text)
    assert got is not None, text
    assert _same(got.value, value), (text, got)
    assert got.currency == currency, (text, got)
    assert got.approximate is approx, (text, got)


def test_money_int_when_integral():
    assert type(parse_money("200億元").value) is int
    assert type(parse_money("1.2万元").value) is int
    assert type(parse_money("1382.8元").value) is float
    assert all(type(v) is int for v in parse_money("3万至5万元").value)


@pytest.mark.parametrize("text", MONEY_NONE)
def test_parse_money_none(text):
    assert parse_money(text) is None


@pytest.mark.parametrize("text,value,approx", RATIO_CASES)
def test_parse_ratio(text, value, approx):
    got = parse_ratio(text)
    assert got is not None, text
    assert _same(got.value, value), (text, got)
    assert got.approximate is approx, (text, got)


def test_ratio_exact_floats():
    assert parse_ratio("5.48%").value == 0.0548
    assert parse_ratio("92.5%").value == 0.925
    assert parse_ratio("三分之一").value == 1 / 3
    assert type(parse_ratio("百分之百").value) is float


@pytest.mark.parametrize("text", RATIO_NONE)
def test_parse_ratio_none(text):
    assert parse_ratio(text) is None


def test_dataclasses_frozen():
    money = parse_money("80元")
    assert money == MoneyValue(80, "CNY", False)
    assert parse_ratio("九成") == RatioValue(0.9, False)
    with pytest.raises(AttributeError):
        money.value = 1  # type: ignore[misc]


def test_parse_value():
    assert parse_value("MONEY", "1300餘萬元") == {"value": 13000000, "unit": "CNY", "approximate": True}
    assert parse_value("MONEY", "3万至5万元") == {"value": [30000, 50000], "unit": "CNY", "approximate": False}
    assert parse_value("RATIO", "92.5%") == {"value": 0.925, "unit": "ratio", "approximate": False}
    empty = {"value": None, "unit": None, "approximate": None}
    assert parse_value("MONEY", "巨额费用") == empty
    assert parse_value("RATIO", "成功") == empty
    assert parse_value("INSTITUTION", "80元") == empty
    assert parse_value("MONEY", None) == empty  # type: ignore[arg-type]


def test_gloss_tolerated():
    # The pipeline strips glosses first, but a stray one must not break parsing.
    assert parse_money("1300餘(yú)萬(wàn)元") == MoneyValue(13000000, "CNY", True)


def test_non_str_input():
    for bad in (None, 123, b"80\xe5\x85\x83", ["80元"]):
        assert parse_money(bad) is None  # type: ignore[arg-type]
        assert parse_ratio(bad) is None  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(0, 10**15), st.decimals(0, 10**8, places=2)), st.sampled_from(["low", "up"]))
def test_chinese_numerals_against_cn2an(number, mode):
    """cn2an.an2cn writes the number in Chinese (小写 / 大写); parse_money must read it back."""
    cn2an = pytest.importorskip("cn2an")
    text = cn2an.an2cn(str(number), mode)
    got = parse_money(text + "元")
    assert got is not None and math.isclose(got.value, float(number), rel_tol=1e-12), (text, got)


_ALPHABET = st.sampled_from(
    list("0123456789.,，-~至到%％‰成分之百千万萬亿億十零〇一二两兩三四五六七八九点點余餘多几幾来数上下左右约近元块塊钱美港币幣角毛个 ")
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.text(_ALPHABET, max_size=30)))
def test_parsers_do_not_crash(text):
    # the unguarded parsers: parse_money/parse_ratio catch every exception, so fuzzing them could never fail
    money = _parse_money(text)
    ratio = _parse_ratio(text)
    assert money is None or isinstance(money, MoneyValue)
    assert ratio is None or isinstance(ratio, RatioValue)
    for label in ("MONEY", "RATIO"):
        assert set(parse_value(label, text)) == {"value", "unit", "approximate"}


# jionlp's own money-parser cases (its test/test_money_parser.py), with this package's documented semantics:
# approximators give the base value with approximate=True, ranges give [low, high]
JIONLP_CASES = [
    ("82，225.00元", 82225, "CNY"), ("25481港元", 25481, "HKD"), ("45564.44美元", 45564.44, "USD"),
    ("1.2万元", 12000, "CNY"), ("3千万亿日元", 3 * 10**15, "JPY"), ("新台币 177.1 亿元", 17710000000, "TWD"),
    ("六十四万零一百四十三元一角七分", 640143.17, "CNY"), ("壹万二千三百四十五元", 12345, "CNY"),
    ("三百万", 3000000, "CNY"), ("肆佰叁拾萬", 4300000, "CNY"), ("肆佰叁拾萬圆", 4300000, "CNY"),
    ("二十五万三千二百泰铢", 253200, "THB"), ("两个亿卢布", 200000000, "RUB"), ("十块三毛", 10.3, "CNY"),
    ("一百三十五块六角七分钱", 135.67, "CNY"), ("港币两千九百六十元", 2960, "HKD"), ("约4.287亿美元", 428700000, "USD"),
    ("近700万元", 7000000, "CNY"), ("不到1.9万台币", 19000, "TWD"), ("3000多欧元", 3000, "EUR"),
    ("几十万块", 100000, "CNY"), ("人民币数十亿元", 1000000000, "CNY"), ("数十亿元人民币", 1000000000, "CNY"),
    ("十几块钱", 10, "CNY"), ("大约十多欧元", 10, "EUR"), ("1万-5万元", [10000, 50000], "CNY"),
    ("1万元--5万元", [10000, 50000], "CNY"), ("2——3万港币", [20000, 30000], "HKD"),
    ("两到三万港元", [20000, 30000], "HKD"), ("十八至三十万日元", [180000, 300000], "JPY"),
    ("两到三仟澳元", [2000, 3000], "AUD"), ("一百二十到一百五十万元", [1200000, 1500000], "CNY"),
    ("一千到两千万元人民币", [10000000, 20000000], "CNY"), ("七千到九千亿元", [7 * 10**11, 9 * 10**11], "CNY"),
    ("八百到九百亿泰铢", [8 * 10**10, 9 * 10**10], "THB"), ("八九亿韩元", [800000000, 900000000], "KRW"),
    ("三五百块", [300, 500], "CNY"), ("四五千块钱", [4000, 5000], "CNY"),
]


def test_jionlp_money_cases():
    wrong = []
    for text, value, currency in JIONLP_CASES:
        money = parse_money(text)
        if money is None or money.currency != currency or money.value != value:
            wrong.append((text, money))
    assert len(JIONLP_CASES) - len(wrong) >= 36, wrong


@pytest.mark.parametrize("text, decoded, label, expected, value", [
    ("增速下降-1.5%。", "1.5%", "RATIO", "-1.5%", -0.015),
    ("增速为负3.2%。", "3.2%", "RATIO", "负3.2%", -0.032),
    ("增速为百分之负二。", "百分之负二", "RATIO", "百分之负二", -0.02),
    ("投入NT$300万。", "300万", "MONEY", "NT$300万", 3000000),
    ("投入€3.2亿。", "3.2亿", "MONEY", "€3.2亿", 320000000),
    ("投入£200万。", "200万", "MONEY", "£200万", 2000000),
    ("投入数亿元。", "亿元", "MONEY", "数亿元", 100000000),
    ("投入1.2e6元。", "1.2e6元", "MONEY", "1.2e6元", 1200000),
    ("比例为5‰至8‰。", "8‰", "RATIO", "5‰至8‰", [0.005, 0.008]),
    ("捐款5000泰铢。", "5000泰铢", "MONEY", "5000泰铢", 5000),
    ("捐款300法郎。", "300法郎", "MONEY", "300法郎", 300),
    ("占1/3。", "1/3", "RATIO", "1/3", 1 / 3),
    ("投入3个亿。", "3个亿", "MONEY", "3个亿", 300000000),
    ("花了十块三毛。", "十块三毛", "MONEY", "十块三毛", 10.3),
])
def test_span_rules_keep_what_the_parser_reads(text, decoded, label, expected, value):
    from nlp.rules import apply_rules
    from nlp.values import parse_value

    start = text.find(decoded)
    spans = apply_rules(text, [(start, start + len(decoded), label, 0.9)])
    assert [(text[s:e], lab) for s, e, lab, _ in spans] == [(expected, label)]
    assert parse_value(label, expected)["value"] == pytest.approx(value)


def test_every_currency_the_parser_knows_is_accepted_by_the_span_rules():
    from nlp.lang import currency_words
    from nlp.rules import apply_rules

    for word, code in currency_words().items():
        text = f"捐款5000{word}。" if word.isalpha() and not word.isascii() else f"捐款{word}5000。"
        surface = text[2:-1]
        spans = apply_rules(text, [(2, len(text) - 1, "MONEY", 0.9)])
        assert [(text[s:e], label) for s, e, label, _ in spans] == [(surface, "MONEY")], word
        assert parse_money(surface).currency == code, word


def test_traditional_currency_forms_match_opencc():
    import opencc

    from nlp.lang import CURRENCIES, currency_words

    s2t = opencc.OpenCC("s2t").convert
    words = currency_words()
    for names in CURRENCIES.values():
        for name in names:
            assert s2t(name) in words, name
