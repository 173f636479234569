"""Run a training script with a thread that samples this process's resident memory every 20 ms and, at each
new peak (+8 MiB), records the main thread's innermost frames: where the start-up peak is reached.

    OMP_NUM_THREADS=1 accelerate launch --config_file accelerate_configs/multi_cpu.yaml \
        benchmarks/results/cpu_2026-11-30_memory_v3/rss_trace.py train/sft.py recipes/smollm2_demo.yaml ...

Writes ``RSS_TRACE_DIR/rank<R>.jsonl`` (default runs/rss_trace): one line per new peak, and a last line with
the peak (VmHWM) and the RSS split into anonymous and file-backed pages.
"""

import json
import os
import runpy
import sys
import threading
import time


def status() -> dict:
    out = {}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(value.split()[0])  # KiB
    return out


def frames(main_id: int, depth: int = 14) -> list[str]:
    frame = sys._current_frames().get(main_id)
    stack = []
    while frame is not None and len(stack) < depth:
        code = frame.f_code
        path = code.co_filename
        short = "/".join(path.split("/")[-2:])
        stack.append(f"{short}:{frame.f_lineno}:{code.co_name}")
        frame = frame.f_back
    return stack


def main() -> None:
    out_dir = os.environ.get("RSS_TRACE_DIR", "runs/rss_trace")
    os.makedirs(out_dir, exist_ok=True)
    rank = os.environ.get("RANK", "0")
    log = open(os.path.join(out_dir, f"rank{rank}.jsonl"), "w", encoding="utf-8")
    main_id = threading.main_thread().ident
    start = time.time()
    done = threading.Event()

    def sample() -> None:
        top = 0
        while not done.is_set():
            s = status()
            if s["VmRSS"] > top + 8 * 1024:
                top = s["VmRSS"]
                log.write(json.dumps({"t": round(time.time() - start, 2), **s, "stack": frames(main_id)}) + "\n")
                log.flush()
            time.sleep(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        done.set()
        thread.join()
        log.write(json.dumps({"t": round(time.time() - start, 2), "final": True, **status()}) + "\n")
        log.close()


if __name__ == "__main__":
    main()
