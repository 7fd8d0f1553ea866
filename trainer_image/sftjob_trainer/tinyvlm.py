"""A tiny offline vision-language model and image dataset, for tests and demos.

    python -m sftjob_trainer.tinyvlm OUTDIR

writes
    OUTDIR/model/                      a random-weight LLaVA (a 2-layer CLIP vision tower and a
                                       2-layer Qwen2 language model) with its LlavaProcessor
    OUTDIR/data/images/*.png           32 generated images: squares of four colours
    OUTDIR/data/train.jsonl            {"images": [<png path>], "messages": [...]}, TRL's
                                       conversational vision format

Nothing is downloaded: the configs, tokenizer and image processor are made here. The
shapes are llava-1.5's (the seed's model) at toy size.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .tinymodel import build_tokenizer

IMAGE_TOKEN = "<image>"
IMAGE_SIZE = 16
PATCH_SIZE = 8
ROWS = 32
COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 200, 30),
    "blue": (30, 30, 220),
    "yellow": (230, 220, 20),
}
QUESTION = "What colour is this?"

# TRL's conversational vision format: content is a list of {"type": "image"} and
# {"type": "text", "text": ...} items; each image item becomes the processor's <image>.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}" + IMAGE_TOKEN + "{% elif item['type'] == 'text' %}"
    "{{ item['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class VlmShape:
    """A LLaVA's sizes: a CLIP vision tower and a Qwen2 language model."""

    image_size: int = IMAGE_SIZE
    patch_size: int = PATCH_SIZE
    vision_hidden: int = 32
    vision_layers: int = 2
    vision_heads: int = 4
    text_hidden: int = 32
    text_intermediate: int = 64
    text_layers: int = 2
    text_heads: int = 4
    text_kv_heads: int = 2


TINY = VlmShape()


@dataclass(frozen=True)
class TinyVlm:
    root: Path
    model: Path
    data: Path  # the directory holding train.jsonl


def build_processor(shape: VlmShape = TINY) -> Any:
    from transformers import CLIPImageProcessor, LlavaProcessor

    tokenizer = build_tokenizer()
    tokenizer.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN]})
    tokenizer.chat_template = CHAT_TEMPLATE
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": shape.image_size},
        crop_size={"height": shape.image_size, "width": shape.image_size},
    )
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=shape.patch_size,
        vision_feature_select_strategy="default",
        chat_template=CHAT_TEMPLATE,
        num_additional_image_tokens=1,  # CLIP's class token, dropped by "default"
    )


def build_model(processor: Any, seed: int = 0, shape: VlmShape = TINY) -> Any:
    import torch
    from transformers import (
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        Qwen2Config,
    )

    tokenizer = processor.tokenizer
    vision = CLIPVisionConfig(
        hidden_size=shape.vision_hidden,
        intermediate_size=4 * shape.vision_hidden,
        num_hidden_layers=shape.vision_layers,
        num_attention_heads=shape.vision_heads,
        image_size=shape.image_size,
        patch_size=shape.patch_size,
        projection_dim=shape.vision_hidden,
    )
    text = Qwen2Config(
        hidden_size=shape.text_hidden,
        intermediate_size=shape.text_intermediate,
        num_hidden_layers=shape.text_layers,
        num_attention_heads=shape.text_heads,
        num_key_value_heads=shape.text_kv_heads,
        vocab_size=len(tokenizer),
        max_position_embeddings=256,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
        image_seq_length=(shape.image_size // shape.patch_size) ** 2,
    )
    torch.manual_seed(seed)
    return LlavaForConditionalGeneration(config)


def rows(image_paths: list[Path]) -> list[dict[str, Any]]:
    names = list(COLOURS)
    return [
        {
            "images": [str(path)],
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image"}, {"type": "text", "text": QUESTION}],
                },
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": f"It is {names[i % len(names)]}."}],
                },
            ],
        }
        for i, path in enumerate(image_paths)
    ]


def write_dataset(
    data: Path, seen_as: Path | None = None, rows_count: int = ROWS, image_size: int = IMAGE_SIZE
) -> Path:
    """The images and train.jsonl. `seen_as`: where a pod mounts `data`, for the rows' paths."""
    from PIL import Image

    images = data / "images"
    images.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(rows_count):
        colour = COLOURS[list(COLOURS)[i % len(COLOURS)]]
        path = images / f"{i:03d}.png"
        # Sizes vary a little, so the image processor really resizes and crops.
        Image.new("RGB", (image_size + i % 3, image_size + i % 2), colour).save(path)
        paths.append((seen_as or data) / "images" / path.name)
    with (data / "train.jsonl").open("w", encoding="utf-8") as f:
        for row in rows(paths):
            f.write(json.dumps(row) + "\n")
    return data


def build(root: str | Path, seen_as: str | Path | None = None) -> TinyVlm:
    """`seen_as`: where a pod will mount `root` (the dataset's image paths point there)."""
    root = Path(root)
    processor = build_processor()
    model = build_model(processor)
    model.save_pretrained(root / "model")
    processor.save_pretrained(root / "model")
    data = write_dataset(root / "data", Path(seen_as) / "data" if seen_as else None)
    return TinyVlm(root, root / "model", data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sftjob_trainer.tinyvlm",
        description="Write a tiny offline LLaVA model, processor and image dataset.",
    )
    parser.add_argument("outdir", help="directory to write model/ and data/ into")
    parser.add_argument(
        "--seen-as", help="where pods mount OUTDIR (the dataset's image paths point there)"
    )
    args = parser.parse_args(argv)
    assets = build(args.outdir, args.seen_as)
    print(json.dumps({k: str(v) for k, v in assets.__dict__.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
