"""Build a tiny, offline Qwen2 model, tokenizer and JSONL datasets for tests and demos.

Nothing is downloaded: the tokenizer is trained with `tokenizers` on a few sentences and
the model has random weights. `python -m sftjob_trainer.tinymodel OUTDIR` writes:

    OUTDIR/model/                        config, weights, tokenizer (ChatML template)
    OUTDIR/data/text/train.jsonl         {"text": ...}
    OUTDIR/data/messages/train.jsonl     {"messages": [{"role": ..., "content": ...}, ...]}
    OUTDIR/data/prompt_completion/train.jsonl  {"prompt": ..., "completion": ...}
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# ChatML with {% generation %} markers, so `assistant_only_loss: true` can find the
# assistant tokens.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\\n' }}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

_SUBJECTS = ["the cat", "a dog", "the bird", "my friend", "the robot", "a child", "the teacher"]
_VERBS = ["sees", "likes", "finds", "reads", "paints", "follows", "builds"]
_OBJECTS = ["a red ball", "the green tree", "a small house", "the blue sky", "an old book"]


@dataclass(frozen=True)
class TinyAssets:
    """Paths written by `build`."""

    root: Path
    model: Path
    text_data: Path
    messages_data: Path
    prompt_completion_data: Path


def triples() -> list[tuple[str, str, str]]:
    """A small deterministic corpus with plenty of repetition, so a tiny model learns fast."""
    out = []
    for i, subject in enumerate(_SUBJECTS):
        for j, verb in enumerate(_VERBS):
            out.append((subject, verb, _OBJECTS[(i + j) % len(_OBJECTS)]))
    return out


def sentences() -> list[str]:
    return [f"{s} {v} {o}." for s, v, o in triples()]


def text_rows() -> list[dict[str, Any]]:
    return [{"text": s} for s in sentences()]


def messages_rows() -> list[dict[str, Any]]:
    return [
        {
            "messages": [
                {"role": "user", "content": f"What does {s} do?"},
                {"role": "assistant", "content": f"{s} {v} {o}."},
            ]
        }
        for s, v, o in triples()
    ]


def prompt_completion_rows() -> list[dict[str, Any]]:
    return [{"prompt": f"{s} {v}", "completion": f" {o}."} for s, v, o in triples()]


def build_tokenizer() -> Any:
    """A ByteLevel BPE tokenizer trained on the corpus, wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = [*sentences(), "What does", "user", "assistant", "system"]
    tok.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(tokenizer: Any, seed: int = 0) -> Any:
    """A 2-layer Qwen2 with random weights, sized to the tokenizer."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=len(tokenizer),
        max_position_embeddings=256,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    return Qwen2ForCausalLM(config)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


def write_datasets(root: Path) -> tuple[Path, Path, Path]:
    """Write the three dataset forms, each as a directory holding train.jsonl."""
    text = root / "data" / "text"
    messages = root / "data" / "messages"
    prompt_completion = root / "data" / "prompt_completion"
    _write_jsonl(text / "train.jsonl", text_rows())
    _write_jsonl(messages / "train.jsonl", messages_rows())
    _write_jsonl(prompt_completion / "train.jsonl", prompt_completion_rows())
    return text, messages, prompt_completion


def build(root: str | Path) -> TinyAssets:
    """Write the tiny model (with tokenizer) and the datasets under `root`."""
    root = Path(root)
    model_dir = root / "model"
    tokenizer = build_tokenizer()
    model = build_model(tokenizer)
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    text, messages, prompt_completion = write_datasets(root)
    return TinyAssets(root, model_dir, text, messages, prompt_completion)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sftjob_trainer.tinymodel",
        description="Write a tiny offline Qwen2 model, tokenizer and JSONL datasets.",
    )
    parser.add_argument("outdir", help="directory to write model/ and data/ into")
    args = parser.parse_args(argv)
    assets = build(args.outdir)
    print(json.dumps({k: str(v) for k, v in assets.__dict__.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
