"""Training-data augmentation, each switchable from the config:

(a) OpenCC simplified <-> traditional copies;
(b) mention replacement: gold spans swapped for generated mentions of the same label (MONEY and RATIO in the
    surface forms Chinese newspapers use, INSTITUTION from real place names x institution patterns, PROGRAMME from
    programme patterns; word lists in ``nlp/resources/mention_patterns.yaml``);
(c) scrape noise: stray spaces, glosses that lost their opening bracket, ``?`` mojibake, injected outside
    the gold spans' edges.

All functions take a ``random.Random`` so that the same seed gives the same data.
"""
from __future__ import annotations

import functools
import random
from pathlib import Path

from nlp.dataset import Example
from nlp.places import place_names
from nlp.text import convert, is_hanzi, span_to_clean

PATTERNS_FILE = Path(__file__).parent / "resources" / "mention_patterns.yaml"
CN_DIGITS = "零一二三四五六七八九"


# --- (a) OpenCC ---------------------------------------------------------------------------------------------

def is_traditional(text: str) -> bool:
    """True when converting to simplified changes a noticeable share of the hanzi."""
    from nlp.text import to_simplified

    hanzi = [c for c in text if is_hanzi(c)]
    if not hanzi:
        return False
    changed = sum(a != b for a, b in zip(text, to_simplified(text)))
    return changed / len(hanzi) > 0.05


def opencc_copy(example: Example) -> Example:
    """The example in the other script (traditional -> simplified or simplified -> traditional), spans mapped."""
    config = "t2s" if is_traditional(example.text) else "s2t"
    converted, offsets = convert(example.text, config)
    spans = []
    for start, end, label in example.spans:
        mapped = span_to_clean(offsets, start, end)
        if mapped:
            spans.append((mapped[0], mapped[1], label))
    return Example(converted, spans, f"{example.source}+{config}")


# --- (b) mention replacement --------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def patterns() -> dict:
    import yaml

    return yaml.safe_load(PATTERNS_FILE.read_text(encoding="utf-8"))


def _weighted(rng: random.Random, weights: dict):
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def chinese_number(value: int, rng: random.Random) -> str:
    """An integer in Chinese numerals (cn2an), sometimes with 两 for a leading 二 before a unit."""
    import cn2an

    text = cn2an.an2cn(value)
    if text.startswith("一十"):
        text = text[1:]
    if text[:1] == "二" and len(text) > 1 and text[1] in "百千万亿" and rng.random() < 0.5:
        text = "两" + text[1:]
    return text


def arabic_number(value: float, rng: random.Random, decimals: int = 0) -> str:
    """Digits with optional thousands separators or full-width forms."""
    text = f"{value:,.{decimals}f}" if value >= 1000 and rng.random() < 0.3 else f"{value:.{decimals}f}"
    if rng.random() < 0.1:
        text = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() or c in ",." else c for c in text)
    return text


def generate_money(rng: random.Random) -> str:
    """A money amount as Chinese news write it: 1382.8元, 1300余万元, 二十多万, 两百块, 3万至5万元, 三五百块."""
    currency = _weighted(rng, patterns()["currencies"])
    form = rng.random()
    if form < 0.12:  # range
        low = rng.randint(1, 50)
        high = low + rng.randint(1, 50)
        if currency in ("元", "万元", "亿元") and rng.random() < 0.5:
            unit = currency[:-1] if len(currency) > 1 else ""
            sep = rng.choice(["至", "到", "-", "~"])
            return f"{low}{unit}{sep}{high}{currency}"
        return f"{low}-{high}{currency}"
    if form < 0.18:  # adjacent Chinese numerals: 三五百块
        first = rng.randint(1, 8)
        return f"{CN_DIGITS[first]}{CN_DIGITS[first + 1]}{rng.choice(['十', '百', '千', '万'])}{rng.choice(['块', '元'])}"
    approx = rng.choice(["", "", "", "余", "多"])
    if form < 0.45:  # Chinese numerals
        value = rng.choice([rng.randint(2, 99), rng.randint(1, 9) * 100, rng.randint(11, 99) * 100,
                            rng.randint(1, 20) * 1000])
        number = chinese_number(value, rng)
        if currency in ("万元", "亿元") or rng.random() < 0.2:
            return f"{number}{approx}{'万' if currency == '元' else ''}{currency}"
        return f"{number}{approx}{currency}"
    decimals = rng.choice([0, 0, 0, 1, 2])
    value = rng.choice([rng.uniform(1, 100), rng.uniform(100, 10000), rng.uniform(1, 10)])
    number = arabic_number(value, rng, decimals)
    if approx and decimals == 0:
        return f"{number}{approx}{rng.choice(['', '万', '亿']) if currency == '元' else ''}{currency}"
    return f"{number}{currency}"


def generate_ratio(rng: random.Random) -> str:
    """A ratio: 5.48%, 92.5％, 百分之八十, 百分之九十二点五, 九成, 七成五, 三分之一, 5‰, 10%-15%."""
    import cn2an

    form = rng.random()
    if form < 0.45:
        decimals = rng.choice([0, 0, 1, 2])
        value = f"{rng.uniform(0.1, 100):.{decimals}f}"
        sign = "％" if rng.random() < 0.1 else "%"
        if rng.random() < 0.1:
            return f"{value}{sign}-{float(value) + rng.randint(1, 20):.{decimals}f}{sign}"
        return f"{value}{sign}"
    if form < 0.65:
        value = rng.randint(1, 99)
        text = cn2an.an2cn(value)
        if rng.random() < 0.2:
            text += "点" + CN_DIGITS[rng.randint(1, 9)]
        return f"百分之{text[1:] if text.startswith('一十') else text}"
    if form < 0.8:
        tenth = CN_DIGITS[rng.randint(1, 9)]
        return tenth + "成" + (rng.choice(["", "", "五", "半"]))
    if form < 0.93:
        denominator = rng.randint(2, 10)
        numerator = rng.randint(1, denominator - 1)
        return f"{cn2an.an2cn(denominator)}分之{cn2an.an2cn(numerator)}"
    return f"{rng.randint(1, 50)}‰"


def generate_institution(rng: random.Random) -> str:
    """A named organisation: a real place name x an institution pattern (县人民医院, 镇卫生院, 村卫生室, 大学)."""
    p, places = patterns(), place_names()
    form = rng.random()
    if form < 0.5:
        level = rng.choice(["city", "county", "county", "province"])
        return rng.choice(places[level]) + rng.choice(p["institution_suffixes"])
    if form < 0.65:
        return rng.choice(places["town"]) + rng.choice(p["town_suffixes"])
    if form < 0.75:
        return rng.choice(p["village_stems"]) + "村" + rng.choice(p["village_suffixes"])
    if form < 0.87:
        return rng.choice(p["short_institutions"])
    return rng.choice(places["province"] + places["city"]).rstrip("省市") + rng.choice(p["university_suffixes"])


def generate_programme(rng: random.Random) -> str:
    """A programme: a named national scheme, {place}{topic}{工程/计划/…}, 关于{topic}的{意见/方案}, or a slogan."""
    p = patterns()
    form = rng.random()
    if form < 0.3:
        return rng.choice(p["programme_names"])
    if form < 0.55:
        place = rng.choice(place_names()["city"] + place_names()["county"]) if rng.random() < 0.5 else ""
        return place + rng.choice(p["programme_topics"]) + rng.choice(p["programme_heads"])
    if form < 0.8:
        place = rng.choice(place_names()["city"] + place_names()["county"]) if rng.random() < 0.4 else ""
        return f"{place}关于{rng.choice(p['programme_topics'])}的{rng.choice(p['document_heads'])}"
    parts = p["slogan_parts"]
    return "".join(rng.choice(parts[k]) for k in ("numbers", "people", "verbs", "places"))


GENERATORS = {
    "MONEY": generate_money,
    "RATIO": generate_ratio,
    "INSTITUTION": generate_institution,
    "PROGRAMME": generate_programme,
}


SWAPPABLE = {"MONEY": "RATIO", "RATIO": "MONEY"}


def replace_mentions(example: Example, rng: random.Random, probability: float, swap_values: float = 0.0) -> Example:
    """Swap each gold mention, with ``probability``, for a generated mention of the same label.

    With ``swap_values``, a replaced MONEY becomes a generated RATIO and vice versa: the seeds hold few ratios,
    and the surface form (元 vs %) must decide between the two, not the context.
    """
    pieces, spans, cursor, length = [], [], 0, 0
    for start, end, label in sorted(example.spans):
        pieces.append(example.text[cursor:start])
        length += start - cursor
        mention = example.text[start:end]
        if rng.random() < probability:
            if label in SWAPPABLE and rng.random() < swap_values:
                label = SWAPPABLE[label]
            mention = GENERATORS[label](rng)
        pieces.append(mention)
        spans.append((length, length + len(mention), label))
        length += len(mention)
        cursor = end
    pieces.append(example.text[cursor:])
    return Example("".join(pieces), spans, f"{example.source}+mentions")


def value_copies(examples: list[Example], copies: int, rng: random.Random) -> list[Example]:
    """Extra copies of the windows holding a MONEY or RATIO mention, every value mention regenerated and half
    of them swapped to the other value label: the seeds hold few amounts and fewer ratios."""
    out = []
    for example in examples:
        values = [span for span in example.spans if span[2] in SWAPPABLE]
        if not values:
            continue
        for _ in range(copies):
            others = [span for span in example.spans if span[2] not in SWAPPABLE]
            only_values = Example(example.text, values, example.source)
            replaced = replace_mentions(only_values, rng, 1.0, swap_values=0.5)
            # re-insert the other spans, shifted by the length changes before them
            shift = _length_shifts(example.spans, replaced.spans, values)
            spans = replaced.spans + [(s + shift(s), e + shift(s), l) for s, e, l in others]
            out.append(Example(replaced.text, sorted(spans), f"{example.source}+values"))
    return out


def _length_shifts(all_spans, new_values, old_values):
    """Offset shift for a position outside the value spans after those spans changed length."""
    changes = [(old[1], (new[1] - new[0]) - (old[1] - old[0])) for old, new in zip(sorted(old_values), new_values)]

    def shift(position: int) -> int:
        return sum(delta for end, delta in changes if end <= position)

    return shift


# --- (c) scrape noise ---------------------------------------------------------------------------------------

def inject_noise(example: Example, rng: random.Random, gloss_rate: float, space_rate: float) -> Example:
    """Scrape noise that survives cleaning: stray spaces, glosses without "(" (``?shù)``), ``?`` mojibake.

    Noise goes between characters; it never lands at a span's edge, so spans grow over inner noise as in the
    gold data (a name interrupted by noise stays one span).
    """
    import io
    import contextlib

    with contextlib.redirect_stdout(io.StringIO()):  # jionlp prints a banner on import
        import jionlp

    edges = {s for s, _, _ in example.spans} | {e for _, e, _ in example.spans}
    out: list[str] = []
    new_index: list[int] = []
    length = 0
    for i, char in enumerate(example.text):
        new_index.append(length)
        noise = ""
        if (i + 1) not in edges:
            roll = rng.random()
            if is_hanzi(char) and roll < gloss_rate:
                pinyin = jionlp.pinyin(char, formater="standard")[0]
                if pinyin.isalpha():  # a full "(pinyin)" gloss is removed by clean(); inject the broken kinds
                    noise = rng.choice(["?", ""]) + pinyin + ")"
            elif roll < gloss_rate + space_rate:
                noise = " "
        out.append(char + noise)
        length += 1 + len(noise)
    text = "".join(out)
    spans = [(new_index[s], new_index[e - 1] + 1, label) for s, e, label in example.spans]
    return Example(text, spans, f"{example.source}+noise")


# --- all together -------------------------------------------------------------------------------------------

def augment_examples(examples: list[Example], config, rng: random.Random) -> list[Example]:
    """Fresh augmented copies of every example (call once per epoch): ``config.copies`` each.

    Each copy gets mention replacement and noise when switched on; with ``opencc`` on, every other copy (every
    copy when OpenCC is the only augmentation) is converted to the other script.
    """
    others = config.mention_replacement.enabled or config.noise.enabled
    if not (config.opencc or others):
        return []
    copies = []
    if config.mention_replacement.enabled and config.mention_replacement.value_copies:
        copies += value_copies(examples, config.mention_replacement.value_copies, rng)
    for example in examples:
        for n in range(config.copies):
            copy = example
            if config.mention_replacement.enabled:
                copy = replace_mentions(copy, rng, config.mention_replacement.probability,
                                        config.mention_replacement.swap_values)
            if config.noise.enabled:
                copy = inject_noise(copy, rng, config.noise.gloss_rate, config.noise.space_rate)
            if config.opencc and (n % 2 == 0 or not others):
                copy = opencc_copy(copy)
            copies.append(copy)
    return copies
