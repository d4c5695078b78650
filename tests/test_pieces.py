import pytest
from hypothesis import given, strategies as st

from nlp.rules import trim_to_grammar
from nlp.pieces import (
    IGNORE_INDEX, PieceEncoding, decode, decode_marginal, encode_texts, label_maps, piece_labels,
)
from nlp.windows import sentence_windows

LABEL2ID, ID2LABEL = label_maps(["INSTITUTION", "PROGRAMME", "MONEY", "RATIO"])


def one_hot(tag, p=0.9):
    row = [(1 - p) / (len(LABEL2ID) - 1)] * len(LABEL2ID)
    row[LABEL2ID[tag]] = p
    return row


def test_pieces_own_exact_character_ranges(tiny_tokenizer_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    text = " 即墨区人民医院投入1382.8元 ,占92.5%。"
    enc = encode_texts(tokenizer, [text])[0]
    owned = [span for span in enc.char_spans if span]
    assert enc.char_spans[0] is None and enc.char_spans[-1] is None  # <s>, </s>
    assert all(a[1] <= b[0] for a, b in zip(owned, owned[1:]))
    assert all(not text[s].isspace() and not text[e - 1].isspace() for s, e in owned)
    assert "".join(text[s:e] for s, e in owned) == "".join(text.split())


def test_piece_labels_put_b_on_the_piece_holding_the_start():
    enc = PieceEncoding([0, 5, 6, 7, 2], [None, (0, 2), (2, 4), (4, 6), None])
    labels = piece_labels(enc, [(1, 5, "MONEY")], LABEL2ID)
    assert labels == [IGNORE_INDEX, LABEL2ID["B-MONEY"], LABEL2ID["I-MONEY"], LABEL2ID["I-MONEY"], IGNORE_INDEX]


def test_decode_argmax_repairs_bio_and_trims_punctuation():
    text = "“千名医护”和元"
    enc = PieceEncoding([0, 1, 2, 3, 4, 5], [None, (0, 3), (3, 6), (6, 7), (7, 8), None])
    tags = [LABEL2ID[t] for t in ["O", "I-PROGRAMME", "I-PROGRAMME", "O", "B-MONEY", "O"]]
    spans = decode(text, enc, tags, [1.0] * 6, ID2LABEL)
    assert [(s, e, l) for s, e, l, _ in spans] == [(1, 5, "PROGRAMME"), (7, 8, "MONEY")]


def test_decode_marginal_uses_mass_split_across_tags():
    text = "占比5.48%"
    enc = PieceEncoding([0, 1, 2, 3, 4], [None, (0, 2), (2, 3), (3, 7), None])
    split = [0.0] * len(LABEL2ID)
    split[LABEL2ID["O"]], split[LABEL2ID["B-RATIO"]], split[LABEL2ID["B-MONEY"]] = 0.3, 0.36, 0.34
    cont = [0.0] * len(LABEL2ID)
    cont[LABEL2ID["O"]], cont[LABEL2ID["I-RATIO"]], cont[LABEL2ID["I-MONEY"]] = 0.2, 0.3, 0.5
    probs = [one_hot("O"), one_hot("O"), split, cont, one_hot("O")]
    spans = decode_marginal(text, enc, probs, ID2LABEL)
    # argmax would give RATIO for "5" then a MONEY fragment; the marginal sum keeps one span
    assert [(s, e) for s, e, _, _ in spans] == [(2, 7)]
    assert spans[0][2] == "MONEY" and 0 < spans[0][3] <= 1


@pytest.mark.parametrize(
    "text, span, label, expected",
    [
        ("价值3000元的", (2, 8), "MONEY", "3000元"),
        ("占比5.48%,可", (2, 8), "RATIO", "5.48%"),
        ("约1300余万元", (0, 8), "MONEY", "1300余万元"),
        ("达到九成以上", (2, 6), "RATIO", "九成"),
        ("人民币500元", (0, 7), "MONEY", "人民币500元"),
        ("卫生院,", (0, 4), "INSTITUTION", "卫生院"),
        ("的元", (0, 2), "MONEY", "的元"),  # nothing parsable: left as decoded
    ],
)
def test_trim_to_grammar(text, span, label, expected):
    s, e = trim_to_grammar(text, *span, label)
    assert text[s:e] == expected


@given(st.text(alphabet=st.sampled_from(list("医院。！？,，\n 元%a")), max_size=400), st.integers(5, 60),
       st.data())
def test_windows_cover_text_and_never_cut_protected_spans(text, max_chars, data):
    protected = []
    cursor = 0
    while cursor < len(text) - 1 and data.draw(st.booleans()):
        start = data.draw(st.integers(cursor, len(text) - 1))
        end = data.draw(st.integers(start + 1, min(len(text), start + 20)))
        protected.append((start, end))
        cursor = end
    windows = sentence_windows(text, max_chars, protected)
    assert all(a[1] <= b[0] for a, b in zip(windows, windows[1:]))
    covered = {i for s, e in windows for i in range(s, e)}
    assert all(i in covered for i, c in enumerate(text) if not c.isspace())
    for s, e in protected:
        if text[s:e].strip():  # gold spans never consist of whitespace alone
            assert any(ws <= s and e <= we for ws, we in windows)
    longest_protected = max((e - s for s, e in protected), default=0)
    assert all(e - s <= max(max_chars, longest_protected + max_chars) for s, e in windows)


def test_isolated_characters_are_pieces_of_their_own_and_survive_saving(tiny_tokenizer_dir, tmp_path):
    from transformers import AutoTokenizer

    from nlp.pieces import isolate_characters

    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    isolate_characters(tokenizer, "%‰元")
    text = "占比5.48%,价值3000元的护林员,增长7.1‰"
    for tok in (tokenizer, None):
        if tok is None:
            tokenizer.save_pretrained(tmp_path)
            tok = AutoTokenizer.from_pretrained(tmp_path)
        enc = encode_texts(tok, [text])[0]
        pieces = [text[s:e] for s, e in (span for span in enc.char_spans if span)]
        assert pieces.count("%") == 1 and pieces.count("元") == 1 and pieces.count("‰") == 1
        assert "".join(pieces) == text


def test_unknown_pieces_keep_their_characters(tiny_tokenizer_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    text = "医院😀卫生院"
    enc = encode_texts(tokenizer, [text])[0]
    assert tokenizer.unk_token_id in enc.input_ids
    pieces = [text[s:e] for s, e in (span for span in enc.char_spans if span)]
    assert "".join(pieces) == text


def test_viterbi_never_starts_a_span_on_an_inside_tag_of_another_label():
    from nlp.pieces import viterbi_tags

    id2label = {0: "O", 1: "B-X", 2: "I-X", 3: "B-Y", 4: "I-Y"}
    # argmax would give I-X, I-Y, O: an I- with nothing before it, then a label change inside a span
    probs = [[0.1, 0.2, 0.6, 0.05, 0.05], [0.1, 0.1, 0.1, 0.1, 0.6], [0.9, 0.02, 0.04, 0.02, 0.02]]
    path = [id2label[t] for t in viterbi_tags(probs, id2label)]
    assert path == ["B-Y", "I-Y", "O"]
    for prev, tag in zip(["O"] + path, path):
        if tag.startswith("I-"):
            assert prev[2:] == tag[2:]
    assert viterbi_tags([], id2label) == []
