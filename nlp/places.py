"""Chinese administrative place names (jionlp's division data): used to generate institution names for training
and, at inference, to drop spans that are a bare place name (the guidelines: a place is not an organisation).
"""
from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def place_names() -> dict[str, list[str]]:
    """Province, city and county names (full and short forms) from jionlp's administrative divisions."""
    import io
    import contextlib

    with contextlib.redirect_stdout(io.StringIO()):  # jionlp prints a banner on import
        import jionlp

        locations = jionlp.china_location_loader()
    names: dict[str, list[str]] = {"province": [], "city": [], "county": [], "town": []}

    def add(level: str, key: str, node: dict) -> None:
        names[level].append(node.get("_full_name", key))
        alias = node.get("_alias") or []
        names[level] += [alias] if isinstance(alias, str) else list(alias)

    for prov_key, prov in locations.items():
        add("province", prov_key, prov)
        for city_key, city in prov.items():
            if city_key.startswith("_"):
                continue
            add("city", city_key, city)
            for county_key, county in city.items():
                if not county_key.startswith("_"):
                    add("county", county_key, county)
    towns = [n[:-1] + "镇" for n in names["county"] if len(n) > 2] + [n[:-1] + "乡" for n in names["county"] if len(n) > 2]
    names["town"] = towns
    return names


@functools.lru_cache(maxsize=1)
def _place_set() -> frozenset:
    names = place_names()
    return frozenset(names["province"] + names["city"] + names["county"])


def is_place_name(surface: str) -> bool:
    """Whether ``surface`` (simplified or traditional) is exactly a province, city or county name (full or short)."""
    from nlp.text import to_simplified

    return to_simplified(surface) in _place_set()


MAX_PLACE_CHARS = 12


def place_length_at(text: str, index: int) -> int:
    """Length of the longest province, city or county name (simplified or traditional) starting at ``text[index]``;
    0 when none does. Names shorter than two characters are not considered."""
    from nlp.text import to_simplified

    window = text[index:index + MAX_PLACE_CHARS]
    simplified = to_simplified(window)
    if len(simplified) != len(window):  # a phrase conversion changed the length: offsets would not line up
        return 0
    places = _place_set()
    for length in range(len(window), 1, -1):
        if simplified[:length] in places:
            return length
    return 0
