"""Inference-only BERT token classifier in plain torch, reading a standard Hugging Face model directory.

Why not ``transformers`` here: importing its model classes costs 2-4 s per process (``nlp extract`` on one
sentence spent most of its cold start there), while the forward pass of a BERT encoder is a few lines of torch.
The weights and files are the same ``BertForTokenClassification`` directory that ``AutoModelForTokenClassification``
loads; ``tests/test_encoder.py`` checks that both give the same logits. Training still uses ``transformers``.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn
from torch.nn import functional as F

_ACTIVATIONS = {"gelu": F.gelu, "relu": F.relu, "gelu_new": lambda x: F.gelu(x, approximate="tanh")}


class _Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, intermediate: int, eps: float, act):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
        self.attention_output = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden, eps=eps)
        self.intermediate = nn.Linear(hidden, intermediate)
        self.output = nn.Linear(intermediate, hidden)
        self.output_norm = nn.LayerNorm(hidden, eps=eps)
        self.act = act

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape

        def split(t):
            return t.view(batch, length, self.heads, hidden // self.heads).transpose(1, 2)

        context = F.scaled_dot_product_attention(split(self.query(x)), split(self.key(x)), split(self.value(x)),
                                                 attn_mask=mask)
        context = context.transpose(1, 2).reshape(batch, length, hidden)
        x = self.attention_norm(x + self.attention_output(context))
        return self.output_norm(x + self.output(self.act(self.intermediate(x))))


class BertTokenClassifier(nn.Module):
    """``BertForTokenClassification`` forward pass (absolute positions, token type 0, no dropout)."""

    def __init__(self, config: SimpleNamespace):
        super().__init__()
        self.config = config
        h = config.hidden_size
        self.word_embeddings = nn.Embedding(config.vocab_size, h)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, h)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, h)
        self.embedding_norm = nn.LayerNorm(h, eps=config.layer_norm_eps)
        act = _ACTIVATIONS[config.hidden_act]
        self.layers = nn.ModuleList(
            _Layer(h, config.num_attention_heads, config.intermediate_size, config.layer_norm_eps, act)
            for _ in range(config.num_hidden_layers))
        self.classifier = nn.Linear(h, len(config.id2label))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, length, labels)``."""
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = (self.word_embeddings(input_ids) + self.position_embeddings(positions)[None]
             + self.token_type_embeddings.weight[0])
        x = self.embedding_norm(x)
        mask = attention_mask[:, None, None, :].bool()
        for layer in self.layers:
            x = layer(x, mask)
        return self.classifier(x)


def _hf_names(num_layers: int) -> dict[str, str]:
    """Our parameter names -> the names in a ``BertForTokenClassification`` checkpoint."""
    names = {
        "word_embeddings": "bert.embeddings.word_embeddings",
        "position_embeddings": "bert.embeddings.position_embeddings",
        "token_type_embeddings": "bert.embeddings.token_type_embeddings",
        "embedding_norm": "bert.embeddings.LayerNorm",
        "classifier": "classifier",
    }
    for i in range(num_layers):
        prefix = f"bert.encoder.layer.{i}."
        names.update({
            f"layers.{i}.query": prefix + "attention.self.query",
            f"layers.{i}.key": prefix + "attention.self.key",
            f"layers.{i}.value": prefix + "attention.self.value",
            f"layers.{i}.attention_output": prefix + "attention.output.dense",
            f"layers.{i}.attention_norm": prefix + "attention.output.LayerNorm",
            f"layers.{i}.intermediate": prefix + "intermediate.dense",
            f"layers.{i}.output": prefix + "output.dense",
            f"layers.{i}.output_norm": prefix + "output.LayerNorm",
        })
    return names


def load_token_classifier(model_dir: Path) -> BertTokenClassifier:
    """Read ``config.json`` and ``model.safetensors`` of a BERT token classifier into float32 CPU weights."""
    from safetensors.torch import load_file

    model_dir = Path(model_dir)
    values = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    if values.get("model_type") != "bert":
        raise ValueError(f"model_type {values.get('model_type')!r} is not 'bert'")
    if values.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("only absolute position embeddings are supported")
    values["id2label"] = {int(k): v for k, v in values["id2label"].items()}
    config = SimpleNamespace(**values)
    # built on the CPU (random init ~0.1 s, then overwritten): torch.device("meta") would import torch._dynamo
    model = BertTokenClassifier(config)
    checkpoint = load_file(model_dir / "model.safetensors")
    state = {}
    for ours, theirs in _hf_names(config.num_hidden_layers).items():
        for kind in ("weight", "bias"):
            key = f"{theirs}.{kind}"
            if key in checkpoint:
                state[f"{ours}.{kind}"] = checkpoint[key].float()
    missing = sorted(set(model.state_dict()) - set(state))
    if missing:
        raise ValueError(f"model.safetensors lacks {len(missing)} weights, e.g. {missing[0]}")
    model.load_state_dict(state, assign=True)
    return model.eval()
