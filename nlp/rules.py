"""Span rules applied after BIO decoding, on the cleaned text of one window.

The model labels pieces; these rules hold what the annotation guidelines say every span must satisfy and a piece
tagger trained on a few hundred mentions often gets wrong:

- edges: trailing clause punctuation is never inside a span; MONEY/RATIO start and end on the amount's surface
  grammar (``元的`` -> ``元``), which makes value boundaries exact inside a piece;
- pieces of one mention split into touching spans are joined (``关于进一步提升`` + ``市级…实施方案``;
  ``10`` + ``73.15元``);
- an INSTITUTION does not cut a place name at its start (``即|墨区人民医院`` -> ``即墨区人民医院``) nor begin with a
  preposition, conjunction or verb before one (``在上海作协`` -> ``上海作协``; ``新湖南`` stays);
- a PROGRAMME inside quotes or 《》 covers everything between them (``「健康[中國]」`` -> ``健康中國``; the guidelines:
  the quoted name, never a quote mark);
- a generic class of institution (``乡镇卫生院``, ``三甲医院``, ``社区卫生服务中心``, bare ``医院``/``党委``) is not an
  INSTITUTION (the guidelines: a specific, identifiable organisation); ``县医院``-style short references stay;
- an INSTITUTION ends on its organisation word: a short tail after the last one (a product, a department, a job
  title, a verb) is cut (``信网手机版`` -> ``信网``, ``市中医医院帮扶`` -> ``市中医医院``, ``…医院急症ICU`` -> ``…医院``);
- a known national programme (``nlp/resources/programmes.yaml``: 健康扶贫, 脱贫攻坚, …) the model left untagged
  is a PROGRAMME (:func:`known_programmes`); a span that opens with one ends on it unless a programme word
  follows (``城乡居民医保集中缴费`` -> ``城乡居民医保``, ``健康扶贫工程`` stays); the guidelines' generic activities
  (``义诊``, ``医养结合``) and bare ``医保`` are not PROGRAMMEs;
- an INSTITUTION does not take in a job title's head or a hospital department (``…学会会长`` -> ``…学会``,
  ``…医院心内科`` -> ``…医院``), a media product (``新湖南客户端`` -> ``新湖南``) or an introducing ``关于``; it
  runs on over an organisation word it stops just before (``省心血管病`` + ``醫院``); a span that ends on an
  administrative unit with no organisation word is a place (``中峪乡龙头村``, ``全市``), not an INSTITUTION;
- a name (INSTITUTION, PROGRAMME) has at least two characters, not all digits, and a bare place name (``沁源縣``, ``北京``; jionlp's
  province, city and county names) is not an INSTITUTION;
- a value's label follows its unit: ``%``/``‰``/``百分之``/``分之``/``N成`` make a RATIO, a currency word a MONEY;
  a number with neither is only kept as MONEY when it carries 万/亿 and stands alone (``花费二十多万,``);
  a number left just before ``%`` takes it in (``92.5`` + ``%``); a value is trimmed to its grammar again after
  joining (``约`` + ``四分之一`` -> ``四分之一``) and takes in the first half of a range before it
  (``8万到`` + ``12万元`` -> ``8万到12万元``; ``增至`` is a change, not a range); a MONEY takes in a currency
  written before its number (``新台幣`` + ``380萬元``), which also gives its value the right currency.

Measured on the leave-one-document-out folds: see the model card (``models/default/README.md``).
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

from nlp.lang import (APPROXIMATOR_CHARS, GENERIC_CURRENCY, NUMERAL_CHARS, QUOTE_PAIRS, SIGN_CHARS,
                      currency_words, is_hanzi)
from nlp.places import is_place_name, place_length_at
from nlp.schema import NAME_LABELS, VALUE_LABELS
from nlp.spans import drop_overlaps, overlaps
from nlp.values import parse_value

Span = tuple[int, int, str, float]

PROGRAMMES_FILE = Path(__file__).parent / "resources" / "programmes.yaml"
KNOWN_PROGRAMME_SCORE = 0.5  # a dictionary match, not a model probability

MIN_NAME_CHARS = 2

NUMERAL = set(NUMERAL_CHARS)
_APPROX = set(APPROXIMATOR_CHARS)
# every currency word of nlp/lang.py (the parser's table) may end an amount; a symbol or word that can stand
# before the number may start one
_CURRENCY_WORDS = sorted(currency_words(), key=len, reverse=True)
_MONEY_END = NUMERAL | {w[-1] for w in _CURRENCY_WORDS} | set("角毛分") | _APPROX
_BEFORE_NUMBER = [w for w in _CURRENCY_WORDS if not w.isalpha() or w.isascii() or w[-1] in "币幣金"]
_MONEY_START = NUMERAL | {w[0] for w in _BEFORE_NUMBER} | set("数數")
_RATIO_END = NUMERAL | set("%％‰成半点點数數")
_RATIO_START = NUMERAL | set("半")  # 半数 (decision 19)
# one grammar for both value labels: the unit, not the model's label, decides MONEY vs RATIO (fix_value)
_VALUE_EDGES = (_MONEY_START | _RATIO_START, _MONEY_END | _RATIO_END)
_TRAILING_PUNCT = re.compile(r"[,，。、；;:：!！?？]+$")
_PERCENT = set("%％‰")
_RATIO_MARK = re.compile(r"[%％‰]|百分之|分之|百分点|百分點|[0-9零〇一二三四五六七八九十两兩几幾]成|^(一半|半数|半數)$"
                         r"|^[0-9]+/[0-9]+$")
# percentage points written after a number (guideline decision 18): part of the RATIO span
_POINTS_AFTER = re.compile(r"[个個]?百分[点點]")
_CURRENCY_MARK = re.compile("|".join(re.escape(w) for w in _CURRENCY_WORDS) + "|[＄]")
_MAGNITUDE = set("万萬亿億")
_VAGUE_COUNT = set("数數几幾上")
_VAGUE_UNITS = set("十百千万萬亿億")
# the first half of a range right before a value: a number, its magnitude and unit, then 到/至/~/-
_NUMBER_CHARS = re.escape("".join(sorted(NUMERAL))) + ".,"
_RANGE_HEAD = re.compile(rf"(?<![{_NUMBER_CHARS}])[{_NUMBER_CHARS}]+(?:元|块|塊|%|％|‰)?(?:到|至|~|～|-|－|—)$")
_MAX_RANGE_HEAD = 16
_CHANGE_FROM = set("从從由")
_CURRENCY_BEFORE = re.compile("(?:" + "|".join(re.escape(w) for w in _BEFORE_NUMBER if w not in GENERIC_CURRENCY)
                              + ")$")
_MAX_CURRENCY_CHARS = max(len(w) for w in _BEFORE_NUMBER)
# characters that introduce a name rather than begin one: prepositions, conjunctions, verbs of going and saying
_QUOTE_CHARS = set(QUOTE_PAIRS) | set(QUOTE_PAIRS.values())
_MAX_QUOTED_CHARS = 40
_QUOTE_STOP = set("。!！?？;；,，—\n")  # a quoted stretch with these is a sentence or title, not one name
# a generic institution: only class modifiers before a type word (simplified; 县/市/区 short references not included)
_GENERIC_INSTITUTION = re.compile(
    r"^(?:乡镇|镇里|社区|街道|村级|基层|区级|县级|市级|省级|公立|民营|私立|三甲|二甲|三级|二级|一级|定点|牵头|综合|专科"
    r"|小区|市区|城市|农村|乡村|各级|各|该|本|当地)*"
    r"(?:医院|卫生院|卫生室|卫生服务中心|卫生服务站|医疗机构|医疗卫生机构|养老机构|诊所|医共体|医联体"
    r"|政府|党委|党组|党支部|党总支|支部|团委|团支部|村委会|居委会)$")
# words that end an organisation's name (simplified); the longer alternatives first
_ORGANISATION_END = re.compile(
    r"医院|卫生院|卫生室|分院|总院|委员会|中心|集团|公司|银行|大学|学院|中学|小学|学校|幼儿园|协会|基金会|支部|总支|党委|党组"
    r"|联盟|共同体|药房|药店|股|组织|机构"
    r"|中央|政府|[局委站所院部处科办厅会校报社网台团队室馆厂店组]")
_MAX_TAIL_CHARS = 5
_NOT_A_NAME_END = {"会议", "部分", "院士", "局面", "处理", "所有", "厂商", "组成", "队员", "站点"}
_OUTLET_PRODUCT = re.compile(r"(?:客户端|客戶端|手机版|手機版|手机报|手機報|微信公众号|微信公眾號|公众号|公眾號|官方微博|官微"
                             r"|APP|App|app)$")
_LEADING_ABOUT = re.compile(r"关于|關於")
_PLACE_UNITS = set("村乡镇县市区省州")
_EXTENDING_CHARS = set("委局")
# words that make a programme name of their own after a known one (健康扶贫工程): the span is not cut there
_PROGRAMME_HEAD = re.compile(r"工程|计划|行动|战略|规划|项目|基金|办法|方案|意见|通知|条例|保险|制度|试点|示范")
# the guidelines' generic activities and bare insurance words: never a PROGRAMME on their own
_GENERIC_PROGRAMMES = {"医保", "医保基金", "义诊", "巡回医疗", "远程会诊", "送医上门", "一站式服务", "医联体建设",
                       "医共体建设", "医养结合", "对口支援"}
_HOSPITAL_WORDS = {"医院", "卫生院", "分院", "总院", "院"}
_TITLE_TAIL = set("长長")  # 院长, 会长, 局长, 校长, …: a job title that starts on an organisation character
_BEFORE_NAME = set("在据據记記于於由与與和同跟对對向从從经經将將把被给給为為及至到赴去是让讓请請")


def trim_to_grammar(text: str, start: int, end: int, label: str) -> tuple[int, int]:
    """Trim a decoded span: trailing clause punctuation for every label; for MONEY/RATIO, characters outside the
    surface grammar of amounts (``元的`` -> ``元``). Falls back to the untrimmed span if nothing would be left."""
    match = _TRAILING_PUNCT.search(text, start, end)
    if match and match.start() > start:
        end = match.start()
    if label in VALUE_LABELS:
        starts, ends = _VALUE_EDGES
        s, e = start, end
        while s < e and text[s] not in starts:
            s += 1
        while e > s and text[e - 1] not in ends:
            e -= 1
        if s < e:
            return s, e
    return start, end


def join_touching(spans: list[Span]) -> list[Span]:
    """Join spans that touch (one ends where the next starts) and are both names of one label or both values."""
    joined: list[list] = []
    for start, end, label, score in sorted(spans):
        if joined and joined[-1][1] == start and _joinable(joined[-1][2], label):
            last = joined[-1]
            size, extra = last[1] - last[0], end - start
            last[3] = (last[3] * size + score * extra) / (size + extra)
            last[1] = end
        else:
            joined.append([start, end, label, score])
    return [tuple(span) for span in joined]


def _joinable(a: str, b: str) -> bool:
    return a == b if a in NAME_LABELS else (a in VALUE_LABELS and b in VALUE_LABELS)


def value_label(text: str, start: int, end: int) -> str | None:
    """The label the value's own unit asks for: RATIO, MONEY, or None when the span has neither kind of unit."""
    surface = text[start:end]
    if _RATIO_MARK.search(surface):
        return "RATIO"
    if _CURRENCY_MARK.search(surface):
        return "MONEY"
    return None


def extend_to_range(text: str, start: int) -> int:
    """The start of a value span moved back over the first half of a range written before it (``8万到`` +
    ``12万元``, ``30%至`` + ``50%``); the guidelines make a range one span. A change (``从1万元增至``, ``由30%到``)
    is not a range. Returns the new start."""
    match = _RANGE_HEAD.search(text, max(0, start - _MAX_RANGE_HEAD), start)
    if match is None or (match.start() > 0 and text[match.start() - 1] in _CHANGE_FROM):
        return start
    return match.start()


def extend_to_currency(text: str, start: int) -> int:
    """The start of a MONEY span moved back over a currency written before the number (``新台幣`` + ``380萬元``,
    ``人民币`` + ``5000元``, ``HK$`` + ``20``): the currency is part of the amount and decides its value's unit."""
    match = _CURRENCY_BEFORE.search(text, max(0, start - _MAX_CURRENCY_CHARS), start)
    return match.start() if match else start


def fix_value(text: str, span: Span) -> Span | None:
    """A MONEY/RATIO span trimmed to the amount grammar (again, after joining), with the label its unit asks for,
    extended over a following ``%``, back over the first half of a range and over a currency before the number;
    None to drop it."""
    start, end, label, score = span
    start, end = trim_to_grammar(text, start, end, label)
    if not any(ch in NUMERAL for ch in text[start:end]) and value_label(text, start, end) != "RATIO":
        return None  # 约, 至: joined words around an amount, no amount of their own
    if text[end - 1] in NUMERAL and end < len(text) and text[end] in _PERCENT:
        end += 1
    points = _POINTS_AFTER.match(text, end) if text[end - 1] in NUMERAL else None
    if points:
        end = points.end()
    if start > 0 and text[start - 1] in _VAGUE_COUNT and text[start] in _VAGUE_UNITS:
        start -= 1  # 数亿元, 几十万: the vague numeral is the number
    start = extend_to_range(text, start)
    if (start > 0 and text[start - 1] in SIGN_CHARS and (start < 2 or text[start - 2] not in NUMERAL)
            and text[start] in NUMERAL and value_label(text, start, end) == "RATIO"):
        start -= 1  # -1.5%, 负3.2%: a rate's sign is part of it (a dash between two numbers is a range); an
        # amount's 负 stays outside, as the annotators of the corpus wrote it
    with_currency = extend_to_currency(text, start)
    if value_label(text, with_currency, end) == "MONEY":
        start = with_currency
    by_unit = value_label(text, start, end)
    surface = text[start:end]
    if not by_unit:
        standalone = end == len(text) or not is_hanzi(text[end])
        if not (label == "MONEY" and standalone and set(surface) & _MAGNITUDE
                and all(ch in NUMERAL or ch in _APPROX or ch in ".个個数數" for ch in surface)):
            return None  # 花费二十多万, 3个亿: money in context (annotation guidelines); else no value at all
        by_unit = label
    if parse_value(by_unit, surface)["value"] is None:
        return None  # a value span always carries its value: what the parser cannot read is not returned
    return start, end, by_unit, score


def _is_ascii_letter(char: str) -> bool:
    return char.isascii() and char.isalpha()


def whole_ascii_words(text: str, start: int, end: int) -> tuple[int, int]:
    """A name's edges moved out to whole Latin-letter words: a span never stops inside ``hello`` or ``WHO``."""
    while start > 0 and _is_ascii_letter(text[start - 1]) and _is_ascii_letter(text[start]):
        start -= 1
    while end < len(text) and _is_ascii_letter(text[end]) and _is_ascii_letter(text[end - 1]):
        end += 1
    return start, end


def is_plain_word(surface: str) -> bool:
    """Latin text with no capital letter (``abc``, ``hello world``) is not a name; ``WHO``, ``BioNTech``,
    ``cctv.com``-like domains (with a dot) are left to the model."""
    return surface.isascii() and "." not in surface and not any(ch.isupper() for ch in surface)


def _has_letter(surface: str) -> bool:
    return any(ch.isalpha() for ch in surface)  # hanzi count as letters; digits and punctuation do not


def snap_to_place(text: str, start: int, end: int) -> int:
    """The start of an INSTITUTION span moved to the place name that begins it: back over the head of a place name
    that the span cuts, or forward over a preposition, conjunction or verb before a place name. Returns the new
    start."""
    for back in (1, 2):
        begin = start - back
        if begin >= 0 and begin + place_length_at(text, begin) > start:
            return begin
    if text[start] in _BEFORE_NAME and not place_length_at(text, start) and start + 1 < end:
        length = place_length_at(text, start + 1)
        if length and start + 1 + length <= end:
            return start + 1
    return start


def is_generic_institution(surface: str) -> bool:
    """Whether ``surface`` names a class of institution (``乡镇卫生院``, ``三甲医院``) rather than one body."""
    from nlp.text import to_simplified

    return bool(_GENERIC_INSTITUTION.match(to_simplified(surface)))


def cut_after_organisation(text: str, start: int, end: int) -> int:
    """The end of an INSTITUTION span cut after its last organisation word when a short tail (at most
    ``_MAX_TAIL_CHARS`` characters) follows it and the word does not open the span (``科大讯飞``, ``网易``).
    Returns the new end."""
    from nlp.text import to_simplified

    surface = text[start:end]
    simplified = to_simplified(surface)
    if len(simplified) != len(surface):
        return end
    # a one-character organisation word that opens an ordinary word (会议, 部分, 院士) ends no name
    matches = [m for m in _ORGANISATION_END.finditer(simplified) if simplified[m.start():m.start() + 2] not in
               _NOT_A_NAME_END]
    if matches and matches[-1].group() == "科" and len(matches) > 1 and matches[-2].group() in _HOSPITAL_WORDS:
        matches.pop()  # a department of a hospital (…医院心内科): the guidelines keep the hospital only
    if matches and start + matches[-1].end() < len(text) and text[start + matches[-1].end()] in _TITLE_TAIL:
        matches.pop()  # the head of a job title (…学会会长, …医院院长): not part of the name
    last = matches[-1] if matches else None
    if (last is None or last.start() == 0 or last.end() == len(simplified)
            or len(simplified) - last.end() > _MAX_TAIL_CHARS):
        return end
    return start + last.end()


def extend_to_organisation(text: str, start: int, end: int) -> int:
    """The end of an INSTITUTION span that stops just before its organisation word moved over it
    (``省心血管病`` + ``醫院``, ``市卫健`` + ``委``); not over the head of a job title (``院长``). Returns the new end."""
    from nlp.text import to_simplified

    following = text[end:end + 4]
    simplified = to_simplified(following)
    if (len(simplified) != len(following) or _ORGANISATION_END.search(to_simplified(text[start:end]))
            or _before_title(text, end)):
        return end
    match = _ORGANISATION_END.match(simplified)
    if (match is None or _before_title(text, end + match.end() - 1)
            or (len(match.group()) == 1 and match.group() not in _EXTENDING_CHARS)):  # 社, 网, 会… open other words
        return end
    return end + match.end()


def _before_title(text: str, position: int) -> bool:
    return position + 1 < len(text) and text[position + 1] in _TITLE_TAIL


def trim_outlet_product(text: str, start: int, end: int) -> tuple[int, int]:
    """An INSTITUTION span without an introducing ``关于`` and without the product of a media outlet at its end
    (``新湖南客户端`` -> ``新湖南``, the guidelines: the outlet, not the product)."""
    surface = text[start:end]
    lead = _LEADING_ABOUT.match(surface)
    if lead and end - start - lead.end() >= MIN_NAME_CHARS:
        start += lead.end()
    tail = _OUTLET_PRODUCT.search(text, start, end)
    if tail and tail.start() - start >= MIN_NAME_CHARS:
        end = tail.start()
    return start, end


def is_place_like(surface: str) -> bool:
    """Whether ``surface`` ends on an administrative unit (村, 乡, 镇, 县, 市, 区, 省) and holds no organisation
    word: a place (``中峪乡龙头村``, ``全市``), which the guidelines never make an INSTITUTION."""
    from nlp.text import to_simplified

    simplified = to_simplified(surface)
    return simplified[-1:] in _PLACE_UNITS and not _ORGANISATION_END.search(simplified)


def extend_to_quotes(text: str, start: int, end: int) -> tuple[int, int]:
    """The whole quoted stretch around a span that lies inside one pair of quotes or 《》 and covers part of it;
    the span unchanged when it is not inside such a pair (or the pair is far or holds a comma, dash or clause end)."""
    open_at = start - 1
    while open_at >= max(0, end - _MAX_QUOTED_CHARS) and text[open_at] not in _QUOTE_CHARS | _QUOTE_STOP:
        open_at -= 1
    if open_at < 0 or text[open_at] not in QUOTE_PAIRS:
        return start, end
    close_at = end
    limit = min(len(text), open_at + _MAX_QUOTED_CHARS + 1)
    while close_at < limit and text[close_at] not in _QUOTE_CHARS | _QUOTE_STOP:
        close_at += 1
    if close_at >= limit or text[close_at] != QUOTE_PAIRS[text[open_at]]:
        return start, end
    if any(ch in _QUOTE_CHARS for ch in text[start:end]):
        return start, end
    return open_at + 1, close_at


_DOC_TITLE_TAIL = re.compile(r"[”’」』\"']*(?:[（(][^（()）《》\n]{1,12}[)）])?[”’」』\"']*")


def extend_to_title(text: str, start: int, end: int) -> tuple[int, int]:
    """A PROGRAMME inside a ``《》`` title that misses only quote marks at its edges or a bracketed tail
    (``《“十四五”…规划》``, ``《…法（征求意见稿）》``) covers the whole inside, as guideline decision 21 says."""
    open_at = text.rfind("《", max(0, start - 3), start)
    if open_at == -1 or any(ch not in _QUOTE_CHARS for ch in text[open_at + 1:start]):
        return start, end
    tail = _DOC_TITLE_TAIL.match(text, end)
    if tail is None or tail.end() >= len(text) or text[tail.end()] != "》":
        return start, end
    return open_at + 1, tail.end()


@functools.lru_cache(maxsize=1)
def _programme_pattern() -> re.Pattern:
    import yaml

    names = yaml.safe_load(PROGRAMMES_FILE.read_text(encoding="utf-8"))
    return re.compile("|".join(re.escape(name) for name in sorted(names, key=len, reverse=True)))


def cut_to_known_programme(text: str, start: int, end: int) -> int:
    """The end of a PROGRAMME span that opens with a known programme name (``nlp/resources/programmes.yaml``) and
    runs on into words that name no programme of their own (``城乡居民医保集中缴费`` -> ``城乡居民医保``;
    ``健康扶贫工程`` stays). Returns the new end."""
    from nlp.text import to_simplified

    simplified = to_simplified(text[start:end])
    match = _programme_pattern().match(simplified)
    if (match is None or len(simplified) != end - start or match.end() == len(simplified)
            or _PROGRAMME_HEAD.search(simplified, match.end())):
        return end
    return start + match.end()


def is_generic_programme(surface: str) -> bool:
    """Whether ``surface`` is a generic activity or bare insurance word that the guidelines do not annotate."""
    from nlp.text import to_simplified

    return to_simplified(surface) in _GENERIC_PROGRAMMES


def known_programmes(text: str) -> list[Span]:
    """PROGRAMME spans for the names in ``nlp/resources/programmes.yaml`` found in ``text`` (simplified or
    traditional), with score ``KNOWN_PROGRAMME_SCORE``."""
    from nlp.text import to_simplified

    simplified = to_simplified(text)
    if len(simplified) != len(text):  # a phrase conversion changed the length: offsets would not line up
        return []
    return [(m.start(), m.end(), "PROGRAMME", KNOWN_PROGRAMME_SCORE) for m in _programme_pattern().finditer(simplified)]


def apply_rules(text: str, spans: list[Span], programme_list: bool = True) -> list[Span]:
    """All rules of this module, in order, on decoded spans of ``text`` (offsets into ``text``); without
    ``programme_list`` the known names of ``nlp/resources/programmes.yaml`` neither add nor cut spans."""
    from nlp.pieces import trim_span

    trimmed = []
    for s, e, label, score in spans:
        s, e = trim_span(text, s, e)
        if s < e:
            trimmed.append((*trim_to_grammar(text, s, e, label), label, score))
    result = []
    for span in join_touching(trimmed):
        start, end, label, _ = span
        if label in NAME_LABELS:
            start, end = whole_ascii_words(text, start, end)
            span = (start, end, *span[2:])
            if end - start < MIN_NAME_CHARS or not _has_letter(text[start:end]) or is_plain_word(text[start:end]):
                continue
        if label == "INSTITUTION":
            snapped = snap_to_place(text, start, end)
            if not result or snapped >= result[-1][1]:  # never into the span before
                start = snapped
            start, end = trim_outlet_product(text, start, end)
            end = cut_after_organisation(text, start, end)
            end = extend_to_organisation(text, start, end)
            surface = text[start:end]
            if is_place_name(surface) or is_place_like(surface) or is_generic_institution(surface):
                continue
            span = (start, end, *span[2:])
        if label == "PROGRAMME":
            start, end = extend_to_title(text, *extend_to_quotes(text, start, end))
            if programme_list:
                end = cut_to_known_programme(text, start, end)
            if is_generic_programme(text[start:end]):
                continue
            span = (start, end, *span[2:])
        if label in VALUE_LABELS:
            span = fix_value(text, span)
            if span is None:
                continue
        result.append(span)
    known = known_programmes(text) if programme_list else []
    return drop_overlaps(result + [span for span in known if not overlaps(span[0], span[1], result)])

