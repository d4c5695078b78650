import importlib.util
import subprocess
import sys

import pytest

from nlp.annotations import Document
from nlp.boundaries import MAX_SHIFT, edge_alignment, format_alignment, piece_interiors, snap_spans, word_edges
from nlp.errors import NlpError
from nlp.pieces import PieceEncoding

needs_jieba = pytest.mark.skipif(importlib.util.find_spec("jieba") is None,
                                 reason="jieba not installed (pip install 'nlp[segment]' or pip install jieba)")


def test_piece_interiors_are_positions_strictly_inside_a_piece():
    enc = PieceEncoding([0, 5, 6, 7, 2], [None, (0, 3), (3, 4), (4, 6), None])
    assert piece_interiors(enc) == {1, 2, 5}


def test_snap_widens_to_the_strictly_nearer_word_edge():
    text = "和歌山縣政府周六"
    edges = {0, 3, 6, 8}  # 和歌山 | 縣政府 | 周六
    assert snap_spans(text, [(1, 6, "INSTITUTION", 0.9)], edges) == [(0, 6, "INSTITUTION", 0.9)]
    # an end one character into a three-character word: the nearer edge would shrink the span, refused by default
    assert snap_spans(text, [(0, 4, "INSTITUTION", 0.9)], edges) == [(0, 4, "INSTITUTION", 0.9)]
    assert snap_spans(text, [(0, 4, "INSTITUTION", 0.9)], edges, widen_only=False) == [(0, 3, "INSTITUTION", 0.9)]
    assert snap_spans(text, [(0, 5, "PROGRAMME", 0.9)], edges) == [(0, 6, "PROGRAMME", 0.9)]


def test_snap_leaves_ties_values_neighbours_and_whitespace_alone():
    text = "大病保险和脱贫攻坚"
    edges = {0, 2, 4, 5, 7, 9}
    # 病保险: the start sits in the middle of 大病, a tie -> unchanged (ties="widen" takes 大)
    assert snap_spans(text, [(1, 4, "PROGRAMME", 0.8)], edges) == [(1, 4, "PROGRAMME", 0.8)]
    assert snap_spans(text, [(1, 4, "PROGRAMME", 0.8)], edges, ties="widen") == [(0, 4, "PROGRAMME", 0.8)]
    # MONEY / RATIO are never moved
    assert snap_spans(text, [(1, 4, "MONEY", 0.8)], edges, ties="widen") == [(1, 4, "MONEY", 0.8)]
    # an edge does not run into the neighbouring span
    spans = [(0, 1, "INSTITUTION", 0.5), (1, 4, "PROGRAMME", 0.8)]
    assert snap_spans(text, spans, edges, ties="widen") == spans
    # nor across whitespace
    assert snap_spans("大 病保险", [(2, 5, "PROGRAMME", 0.8)], {0, 3, 5}, ties="widen") == [(2, 5, "PROGRAMME", 0.8)]


def test_snap_moves_at_most_max_shift_characters():
    text = "中华人民共和国国务院"
    edges = {0, 7, 10}
    far = (MAX_SHIFT + 1, 10, "INSTITUTION", 0.9)
    assert snap_spans(text, [far], edges, ties="widen") == [far]


def test_unknown_segmenter_is_an_error():
    with pytest.raises(NlpError):
        word_edges("国务院", "thulac")


def test_nlp_imports_without_loading_jieba():
    code = ("import sys, nlp, nlp.inference, nlp.boundaries, nlp.cli; "
            "assert 'jieba' not in sys.modules, 'jieba imported eagerly'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_evaluate_has_a_boundaries_switch_off_by_default():
    from nlp.cli import build_parser

    args = build_parser().parse_args(["evaluate", "m", "d"])
    assert args.boundaries == "none"
    assert build_parser().parse_args(["evaluate", "m", "d", "--boundaries", "jieba"]).boundaries == "jieba"


@needs_jieba
def test_jieba_edges_on_simplified_and_traditional_text():
    assert {0, 2, 4, 5, 7, 9} <= word_edges("大病保险和脱贫攻坚")
    # segmented in simplified form: 醫管局 stays a word instead of 醫管 + 局面
    edges = word_edges("讓政府和醫管局面對現實")
    assert {4, 7} <= edges and 6 not in edges


@needs_jieba
def test_edge_alignment_counts_piece_and_word_edges():
    class Tokenizer:  # two-character pieces: 国务 | 院大 | 病保 | 险
        def encode_batch(self, texts, add_special_tokens=True):
            class Encoding:
                def __init__(self, text):
                    spans = [(i, min(i + 2, len(text))) for i in range(0, len(text), 2)]
                    self.ids = list(range(len(spans)))
                    self.tokens = [text[s:e] for s, e in spans]
                    self.offsets = spans
            return [Encoding(t) for t in texts]

        truncation = padding = None

    doc = Document("d", "国务院大病保险", [(0, 3, "INSTITUTION"), (3, 7, "PROGRAMME")])
    table = edge_alignment(Tokenizer(), [doc])
    assert table["INSTITUTION"]["spans"] == 1 and table["INSTITUTION"]["ends_in_piece"] == 1
    assert table["PROGRAMME"]["starts_in_piece"] == 1 and table["PROGRAMME"]["ends_in_piece"] == 0
    assert table["all"]["jieba_starts"] == 2 and table["all"]["jieba_ends"] == 2
    assert "| all | 2 |" in format_alignment(table)
