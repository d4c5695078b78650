"""The plain-torch inference encoder matches transformers' BertForTokenClassification on the same directory."""
import subprocess
import sys

import pytest
import torch

from nlp.errors import NlpError
from nlp.inference import Predictor, load_hf_model, load_model, resolve_precision
from nlp.pieces import encode_texts

TEXTS = ["沁源縣人民醫院投入1300餘萬元。", "即墨区与首都医科大学附属北京天坛医院等9家医院合作,占比5.48%", "好"]


def _batch(tokenizer, pad_id):
    encodings = encode_texts(tokenizer, TEXTS)
    width = max(len(e.input_ids) for e in encodings)
    ids = torch.full((len(TEXTS), width), pad_id)
    mask = torch.zeros((len(TEXTS), width), dtype=torch.long)
    for row, enc in enumerate(encodings):
        ids[row, :len(enc.input_ids)] = torch.tensor(enc.input_ids)
        mask[row, :len(enc.input_ids)] = 1
    return ids, mask


def test_same_logits_as_transformers(tiny_model_dir):
    ours, tokenizer = load_model(tiny_model_dir)
    theirs, hf_tokenizer = load_hf_model(tiny_model_dir)
    assert encode_texts(tokenizer, TEXTS) == encode_texts(hf_tokenizer, TEXTS)
    ids, mask = _batch(tokenizer, ours.config.pad_token_id)
    with torch.inference_mode():
        a = ours(input_ids=ids, attention_mask=mask)
        b = theirs.eval()(input_ids=ids, attention_mask=mask).logits
    real = mask.bool()
    assert torch.allclose(a[real], b[real], atol=1e-4), (a[real] - b[real]).abs().max()


def test_predictor_spans_match_with_either_loader(tiny_model_dir):
    ours = Predictor(tiny_model_dir, "cpu", precision="float32").predict(TEXTS)
    model, tokenizer = load_hf_model(tiny_model_dir)
    theirs = Predictor(model=model, tokenizer=tokenizer, device="cpu", precision="float32").predict(TEXTS)
    assert [[s[:3] for s in spans] for spans in ours] == [[s[:3] for s in spans] for spans in theirs]


@pytest.mark.parametrize("precision", ["bfloat16", "int8"])
def test_reduced_precisions_run_and_keep_offsets_valid(tiny_model_dir, precision):
    spans = Predictor(tiny_model_dir, "cpu", precision=precision).predict(TEXTS)
    for text, found in zip(TEXTS, spans):
        assert all(0 <= s < e <= len(text) for s, e, *_ in found)


def test_precision_choices_are_checked():
    assert resolve_precision("float32", "cpu") == "float32"
    assert resolve_precision("auto", "cuda") == "float16"
    assert resolve_precision("auto", "cpu") in ("bfloat16", "float32")
    with pytest.raises(NlpError, match="unknown precision"):
        resolve_precision("fp8", "cpu")
    with pytest.raises(NlpError, match="int8 quantisation is for CPU"):
        resolve_precision("int8", "cuda")


def test_extract_does_not_import_transformers(tiny_model_dir):
    code = ("import sys, nlp; nlp.extract('沁源縣人民醫院投入1300餘萬元。', model=sys.argv[1], device='cpu'); "
            "print('transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(tiny_model_dir)], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
