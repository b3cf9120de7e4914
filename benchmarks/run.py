"""Run livebar's benchmarks and rewrite the results in ``benchmarks/README.md``.

    python benchmarks/run.py            # the full run (about 4 minutes on 2 cores)
    python benchmarks/run.py --quick    # about 1 minute: smaller N, fewer repeats, shorter jobs
    python benchmarks/run.py --no-write # print the tables, leave the README alone
    python benchmarks/run.py --render   # rewrite the README from results.json, run nothing

Each section runs in a fresh interpreter (the pacing harness, being pure, runs in this one), so
one section's background thread, connections or account budget never leak into the next. The
raw figures go to ``benchmarks/results.json`` beside the README.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from bench_common import Spread, describe_machine, machine, run_json  # noqa: E402
from render_engine import engine_headline, engine_tables, shapes_headline, shapes_table  # noqa: E402

README = HERE / "README.md"
RESULTS = HERE / "results.json"
START = "<!-- results:start -->"
END = "<!-- results:end -->"
TRACK_TARGET = 0.35
TQDM_TARGET = 1.10
PACING_TARGET = 1.25
IMPORT_TARGET = 1.3
DROP_IN_TARGET = 1.10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about a minute instead of four")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite README.md")
    parser.add_argument(
        "--render", action="store_true", help="rewrite README.md from results.json; run nothing"
    )
    args = parser.parse_args(argv)
    if args.render:
        rewrite_readme(render(json.loads(RESULTS.read_text(encoding="utf-8"))))
        return 0
    flags = ["--quick"] if args.quick else []
    began = time.perf_counter()
    info = machine()
    print(f"Machine: {describe_machine(info)}", flush=True)
    results: dict[str, Any] = {"machine": info, "quick": args.quick}

    def section(name: str, work: Callable[[], dict[str, Any]]) -> None:
        t = time.perf_counter()
        print(f"- {name} ...", end=" ", flush=True)
        results[name] = work()
        print(f"{time.perf_counter() - t:.0f}s", flush=True)

    import bench_pacing

    section("pacing", lambda: bench_pacing.run(quick=args.quick))
    section("loop", lambda: run_json("bench_loop", *flags))
    section("realtime", lambda: run_json("bench_realtime", "--realtime", *flags)["realtime"])
    section("exit", lambda: run_json("bench_realtime", "--exit", *flags)["exit"])
    section("startup", lambda: run_json("bench_startup", *flags))
    import bench_ledger

    section("ledger", lambda: bench_ledger.run(calls=1000 if args.quick else 3000))
    section("accounts", lambda: run_json("bench_accounts", *flags))
    import bench_shapes

    section("shapes", lambda: bench_shapes.run(quick=args.quick))
    section("engine", lambda: run_json("bench_engine", *flags))
    results["seconds"] = time.perf_counter() - began
    results["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())

    text = render(results)
    print()
    print(text)
    if not args.no_write:
        RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        rewrite_readme(text)
        print(f"\nWrote {README.relative_to(HERE.parent)} and {RESULTS.relative_to(HERE.parent)}")
    return 0


def rewrite_readme(text: str) -> None:
    readme = README.read_text(encoding="utf-8")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{text}\n{END}{tail}", encoding="utf-8")


# -- rendering ------------------------------------------------------------------------------------


def _s(data: dict[str, Any], fmt: str = "{:.1f}") -> str:
    return Spread.from_json(data).show(fmt)


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def render(r: dict[str, Any]) -> str:
    out: list[str] = []
    add = out.append
    mode = "`--quick`" if r["quick"] else "full run"
    add(
        f"Measured {r['finished']} ({mode}, {r['seconds']:.0f} s) on "
        f"{describe_machine(r['machine'])}."
    )
    add("")
    add("Every figure is the median of the repeated runs with (min-max) over them.")
    add("")
    headline = _headline(r)
    add("**Targets**")
    add("")
    out.extend(f"- {line}" for line in headline)
    add("")
    out.extend(_loop_tables(r["loop"]))
    out.extend(_pacing_tables(r["pacing"]))
    out.extend(_realtime_table(r["realtime"]))
    out.extend(_exit_table(r["exit"]))
    out.extend(_startup_tables(r["startup"]))
    if "ledger" in r:
        out.extend(_ledger_table(r["ledger"]))
    if "accounts" in r:
        out.extend(_accounts_table(r["accounts"]))
    if "shapes" in r:
        out.extend(shapes_table(r["shapes"]))
    if "engine" in r:
        out.extend(engine_tables(r["engine"]))
    return "\n".join(out).rstrip()


def _headline(r: dict[str, Any]) -> list[str]:
    lines = []
    loop = r["loop"]
    for kind in ("list", "generator"):
        rows = loop["inputs"][kind]
        track = rows["livebar.track"]["vs_tqdm_overhead"]["median"]
        lines.append(
            f"livebar.track overhead over the bare loop, {kind} input: "
            f"{track:.2f} x tqdm's (target ≤ {TRACK_TARGET}): {_verdict(track <= TRACK_TARGET)}"
        )
    for kind in ("list", "generator"):
        rows = loop["inputs"][kind]
        if "livebar.tqdm" not in rows:
            lines.append(f"livebar.tqdm, {kind} input: not available ({loop['tqdm_missing']})")
            continue
        over = rows["livebar.tqdm"]["vs_tqdm_overhead"]["median"]
        lines.append(
            f"livebar.tqdm overhead, {kind} input: {over:.2f} x tqdm's "
            f"(target ≤ {TQDM_TARGET}): {_verdict(over <= TQDM_TARGET)}"
        )
    import bench_pacing

    for s in r["pacing"]["scenarios"]:
        ratio = s["ratio"]
        lb = s["livebar"]
        shown = "-" if ratio is None else f"{ratio:.2f}"
        lines.append(
            f"pacing, {s['label']}: {lb['refused']} over-limit requests, {lb['warnings']} "
            f"iOS warnings, error {shown} x the optimum (target 0, 0, ≤ {PACING_TARGET}): "
            f"{_verdict(bench_pacing.meets_target(s, factor=PACING_TARGET))}"
        )
    imports = r["startup"]["imports"]["livebar_vs_tqdm"]["median"]
    lines.append(
        f"`import livebar`: {imports:.2f} x `import tqdm` (target ≤ {IMPORT_TARGET}): "
        f"{_verdict(imports <= IMPORT_TARGET)}"
    )
    procs = r["startup"].get("processes", {})
    for mode in ("compiled", "no bytecode"):
        if mode in procs:
            wall = procs[mode]["wall_ratio"]["median"]
            lines.append(
                f"`from livebar import tqdm` as a whole process, {mode}: {wall:.2f} x "
                f"`from tqdm.auto import tqdm` (target ≤ {DROP_IN_TARGET}): "
                f"{_verdict(wall <= DROP_IN_TARGET)}"
            )
    if "engine" in r:
        lines.extend(engine_headline(r["engine"]))
    if "shapes" in r:
        lines.extend(shapes_headline(r["shapes"]))
    mem = r["startup"]["memory"]
    flat = all(mem[k]["rss_end_mb"] - mem[k]["rss_1m_mb"] < 1.0 for k in ("range", "generator"))
    lines.append(
        f"memory over {mem['n']:,} iterations of livebar.track stays flat "
        f"(< 1 MB growth after the first million): {_verdict(flat)}"
    )
    return lines


def _loop_tables(loop: dict[str, Any]) -> list[str]:
    out = [
        f"### 1. Loop cost (ns per iteration, N = {loop['n']:,}, {loop['rounds']} rounds; "
        f"peers {loop['peer_rounds']} rounds)",
        "",
        "`overhead x tqdm` = (tool - bare loop) / (tqdm - bare loop), the figure the targets use;",
        "`total x tqdm` = tool / tqdm. Both are computed within each round.",
        "",
        "| tool | list: ns/it | overhead x tqdm | total x tqdm "
        "| generator: ns/it | overhead x tqdm | total x tqdm |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    names = list(loop["inputs"]["list"])
    for name in names:
        cells = [name]
        for kind in ("list", "generator"):
            row = loop["inputs"][kind].get(name)
            if row is None:
                cells += ["-", "-", "-"]
                continue
            cells.append(_s(row["ns"]))
            if "vs_tqdm_overhead" in row:
                cells.append(_s(row["vs_tqdm_overhead"], "{:.2f}"))
                cells.append(_s(row["vs_tqdm_total"], "{:.2f}"))
            elif "vs_tqdm_overhead_median" in row:
                cells.append(f"{row['vs_tqdm_overhead_median']:.2f}")
                cells.append(f"{row['vs_tqdm_total_median']:.2f}")
            else:
                cells += ["-", "-"]
        out.append("| " + " | ".join(cells) + " |")
    if loop.get("tqdm_missing"):
        out.append(f"| livebar.tqdm | not available ({loop['tqdm_missing']}) | | | | | |")
    first = loop["first_activity_seconds"]
    out += [
        "",
        f"Mirrored runs talk to an in-process simulator ({loop['activities_seen_by_simulator']} "
        "activities started). The first mirrored loop of an account (loop plus flush, including "
        f"creating its HTTP client) took {_s(first, '{:.3f}')} s.",
        "",
    ]
    return out


def _pacing_tables(p: dict[str, Any]) -> list[str]:
    out = [
        "### 2. Pacing quality on a virtual clock",
        "",
        "Error = time-average of |true - displayed fraction|, in percentage points. "
        "Optimum = best offline schedule with livebar's number of updates, respecting the iOS "
        "rule (`opt iOS`) or not (`opt free`).",
        "",
        "| scenario | requests | updates | over limit | iOS warnings | throttled s "
        "| error | opt iOS | opt free | x opt | grid s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in p["scenarios"]:
        lb = s["livebar"]
        ratio = "-" if s["ratio"] is None else f"{s['ratio']:.2f}"
        out.append(
            f"| {s['label']} | {lb['requests']} | {lb['updates']} | {lb['refused']} "
            f"| {lb['warnings']} | {lb['throttled']:.0f} | {_pct(lb['error'])} "
            f"| {_pct(s['optimum_ios'])} | {_pct(s['optimum_free'])} | {ratio} | {s['grid']:g} |"
        )
    out += [
        "",
        "#### 3. Peers on the same scenarios (modelled send schedules, same server and phone)",
        "",
        "`sdk` = the official SDK every 1 % of the items (each stage for the deploy); "
        "`tqdm-mirror` = a tqdm.contrib-style mirror at tqdm's 0.1 s display cadence.",
        "",
        "| scenario | system | requests | refused (429) | iOS warnings | throttled s "
        "| error | ends shown |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in p["scenarios"]:
        systems = [("livebar", s["livebar"]), *s["peers"].items()]
        for name, row in systems:
            out.append(
                f"| {s['label']} | {name} | {row['requests']} | {row['refused']} "
                f"| {row['warnings']} | {row['throttled']:.0f} | {_pct(row['error'])} "
                f"| {row['ends_shown']}/{row['ends']} |"
            )
    out.append("")
    return out


def _realtime_table(rt: dict[str, Any]) -> list[str]:
    real, virtual = rt["real"], rt["virtual"]
    return [
        f"### 4. Real-time check ({rt['duration']:g} s job, {rt['items']} items, real threads "
        "and loopback HTTP)",
        "",
        "| run | requests | updates | iOS warnings | error | final state |",
        "|---|---:|---:|---:|---:|---|",
        f"| simulator | {real['requests']} | {real['updates']} | {real['warnings']} "
        f"| {_pct(real['error'])} | {real['state']}, {real['final_percentage']} %, "
        f'"{real["final_subtitle"]}" |',
        f"| virtual clock | {virtual['requests']} | {virtual['updates']} | {virtual['warnings']} "
        f"| {_pct(virtual['error'])} | ended, {virtual['final_percentage']} % |",
        "",
    ]


def _exit_table(ex: dict[str, Any]) -> list[str]:
    free = ex["free"]
    out = [
        "### 5. Exit latency",
        "",
        "| account budget | end arrives after leaving `with` | leaving `with` blocks "
        "| `livebar.flush()` blocks | delivered within the flush deadline |",
        "|---|---:|---:|---:|---|",
        f"| free ({free['latency']['runs']} runs) | {_s(free['latency'], '{:.4f}')} s "
        f"| {_s(free['with_exit_blocks'], '{:.6f}')} s | {_s(free['flush_blocks'], '{:.4f}')} s "
        "| yes |",
    ]
    exhausted = ex.get("exhausted")
    if exhausted is None:
        out.append("| exhausted | skipped with `--quick` | | | |")
    else:
        latency = exhausted["latency"]
        shown = "never (90 s)" if latency is None else f"{latency:.1f} s"
        out.append(
            f"| exhausted ({exhausted['pushes']} pushes queued just before the exit) | {shown} "
            f"| {exhausted['with_exit_blocks']:.6f} s | {exhausted['flush_blocks']:.2f} s "
            f"| {'yes' if exhausted['flush_delivered'] else '**no**'} |"
        )
    out.append("")
    return out


def _startup_tables(st: dict[str, Any]) -> list[str]:
    imports = st["imports"]
    out = [
        f"### 6. Import time and memory (fresh interpreter per import, {imports['runs']} runs)",
        "",
        "| statement | ms |",
        "|---|---:|",
    ]
    for name, spread in imports["ms"].items():
        out.append(f"| `{name}` | {_s(spread)} |")
    out += [
        "",
        f"`import livebar` / `import tqdm` per run: {_s(imports['livebar_vs_tqdm'], '{:.2f}')}.",
        "",
        f"| livebar.track over {st['memory']['n']:,} items | RSS before MB | after 1 M MB "
        "| at the end MB | peak (VmHWM) MB | loop s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind in ("range", "generator"):
        m = st["memory"][kind]
        out.append(
            f"| {kind} input | {m['rss_before_mb']:.1f} | {m['rss_1m_mb']:.1f} "
            f"| {m['rss_end_mb']:.1f} | {m['hwm_mb']:.1f} | {m['seconds']:.2f} |"
        )
    procs = st.get("processes")
    for mode in ("compiled", "no bytecode"):
        if not procs or mode not in procs:
            continue
        p = procs[mode]
        mine, theirs = "from livebar import tqdm", "from tqdm.auto import tqdm"
        how = (
            "bytecode compiled, as after `pip install`"
            if mode == "compiled"
            else "`PYTHONDONTWRITEBYTECODE=1` and no bytecode for livebar, as an editable "
            "install on these machines"
        )
        out += [
            "",
            f"The drop-in as a whole process (`python -c '...'`, {procs['runs']} runs each, "
            f"interleaved, {how}):",
            "",
            "| process | wall ms | CPU ms | instructions (callgrind) |",
            "|---|---:|---:|---:|",
        ]
        counted = p.get("instructions", {})
        for name in (mine, theirs):
            count = counted.get(name)
            shown = f"{count / 1e6:.0f} M" if count else "-"
            out.append(
                f"| `{name}` | {_s(p['wall_ms'][name])} | {_s(p['cpu_ms'][name])} | {shown} |"
            )
        ratio = p.get("instruction_ratio")
        out += [
            "",
            f"Ratio to `tqdm.auto` (goal: at most {DROP_IN_TARGET}): wall "
            f"{_s(p['wall_ratio'], '{:.2f}')}, CPU {_s(p['cpu_ratio'], '{:.2f}')}"
            + (f", instructions {ratio:.3f} (repeatable on a busy machine)." if ratio else "."),
        ]
    return out


def _ledger_table(rows: dict[str, Any]) -> list[str]:
    out = [
        "",
        "### 7. The shared ledger: cost per request (µs; 4 processes call back to back, a worst "
        "case: a real process calls about once a second)",
        "",
        "| backend | processes | acquire median / p99 | record_state median / p99 | busy |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows["rows"]:
        out.append(
            f"| {r['backend']} | {r['processes']} | {r['acquire_median_us']:.0f} / "
            f"{r['acquire_p99_us']:.0f} | {r['record_median_us']:.0f} / "
            f"{r['record_p99_us']:.0f} | {r['busy']} of {r['calls']} |"
        )
    return out


def _accounts_table(a: dict[str, Any]) -> list[str]:
    out = [
        "",
        "### 8. One account, three processes (simulator at ActivitySmith's limits, time / 10)",
        "",
        "| ledger | requests | 429 window | 429 slots | pushes received | every flush done |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for label, key in (("off (per process)", "ledger_off"), ("shared (default)", "shared_ledger")):
        c = a["collisions"][key]
        out.append(
            f"| {label} | {c['requests']} | {c['refused_window']} | {c['refused_slots']} "
            f"| {c['pushes_received']} | {c['all_flushed']} |"
        )
    reap = a["reap"]["seconds"]
    shown = "-" if reap is None else f"{reap:.1f} s"
    out += [
        "",
        f"A process killed with `kill -9` while another livebar process runs on the account: its "
        f'activity ended "Lost" {shown} later (bound: one reap pass, 10 s).',
    ]
    return out


if __name__ == "__main__":
    sys.exit(main())
