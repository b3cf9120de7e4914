"""The README's tables for issue #19's sections: the engine a user feels (``bench_engine``) and
pacing on real shapes (``bench_shapes``). ``run.py`` calls these."""

from __future__ import annotations

from typing import Any

from bench_common import Spread

ENTER_TARGET_MS = 1.0
STALL_TARGET_MS = 5.0
FIRST_REQUEST_TARGET_MS = 150.0
WAKEUP_TARGET = 0.5
BAR_TARGET = 2.0
SHAPES_TARGET = 1.25
INVISIBLE = 1e-4
"""An error the phone cannot show (0.01 % of the bar): equal to an optimum or a peer of zero."""


def _s(data: dict[str, Any], fmt: str = "{:.1f}") -> str:
    return Spread.from_json(data).show(fmt)


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def engine_headline(e: dict[str, Any]) -> list[str]:
    lines = []
    first = e["first"]["compiled"]
    enter = first["enter_ms"]["median"]
    lines.append(
        f"first `with` enter (bytecode compiled): {enter:.2f} ms (target ≤ {ENTER_TARGET_MS:g}): "
        f"{_verdict(enter <= ENTER_TARGET_MS)}"
    )
    stall = first["loop_stall_imported_ms"]["median"]
    lines.append(
        f"first `async with`, `live_activity` imported before the loop: the loop's longest gap "
        f"{stall:.1f} ms (target ≤ {STALL_TARGET_MS:g}): {_verdict(stall <= STALL_TARGET_MS)}"
    )
    if "first_request_ms" in first:
        at = first["first_request_ms"]["median"]
        lines.append(
            f"first start request at the server: {at:.0f} ms after the enter (target ≤ "
            f"{FIRST_REQUEST_TARGET_MS:g}): {_verdict(at <= FIRST_REQUEST_TARGET_MS)}"
        )
    past = e["wakeups"]["virtual"]["past_burst_turns_per_s"]
    lines.append(
        f"engine wake-ups while nothing is sendable: {past:.2f} /s (target ≤ {WAKEUP_TARGET}): "
        f"{_verdict(past <= WAKEUP_TARGET)}"
    )
    after = e["wakeups"]["livebar"]["after_turns_per_s"]
    lines.append(
        f"engine wake-ups after the last activity: {after:.2f} /s (target 0): "
        f"{_verdict(after == 0)}"
    )
    deadline = max(
        row["median"] for rows in (e["exits"]["never answers"],) for row in rows.values()
    )
    lines.append(
        f"every front end's exit against a server that never answers: at most {deadline:.1f} s "
        f"after the job (target: one 5-s deadline): {_verdict(deadline < 6.0)}"
    )
    bar = e["bars"]["mirrored"]["ratio"]["median"]
    lines.append(
        f"a livebar.tqdm bar's creation and close, mirrored: {bar:.2f} x a tqdm bar's (target ≤ "
        f"{BAR_TARGET:g}): {_verdict(bar <= BAR_TARGET)}"
    )
    return lines


def engine_tables(e: dict[str, Any]) -> list[str]:
    first = e["first"]
    out = [
        "",
        f"### 10. The first activity ({first['runs']} fresh processes per figure, interleaved; "
        "the simulator in a process of its own)",
        "",
        "| livebar's bytecode | `with` enter ms | first request at the server ms "
        "| asyncio loop's longest gap ms: `live_activity` imported in the loop / before it "
        "| the loop's own longest gap ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for mode in ("compiled", "no bytecode"):
        f = first[mode]
        request = _s(f["first_request_ms"], "{:.0f}") if "first_request_ms" in f else "-"
        out.append(
            f"| {mode} | {_s(f['enter_ms'], '{:.2f}')} | {request} "
            f"| {_s(f['loop_stall_ms'])} / {_s(f['loop_stall_imported_ms'])} "
            f"| {_s(f['loop_quiet_ms'])} |"
        )
    w = e["wakeups"]
    lb, bare = w["livebar"], w["no library"]
    out += [
        "",
        f"### 11. An engine that sleeps ({w['seconds']:g}-s job, 10 items a second, real time)",
        "",
        "| | engine turns /s | voluntary context switches /s (whole process) |",
        "|---|---:|---:|",
        f"| no library | - | {bare['running_switches_per_s']:.1f} |",
        f"| livebar, job running | {lb['running_turns_per_s']:.2f} "
        f"| {lb['running_switches_per_s']:.1f} |",
        f"| livebar, after the activity ended | {lb['after_turns_per_s']:.2f} "
        f"| {lb['after_switches_per_s']:.2f} |",
        "",
        f"On the virtual clock, a 20-minute job once the iOS budget allows one update per ~2 "
        f"minutes: {w['virtual']['past_burst_turns_per_s']:.2f} turns /s; after it ended: "
        f"{w['virtual']['after_turns_per_s']:.2f} /s.",
    ]
    calls = w.get("syscalls")
    if calls:
        out += ["", "| process | system calls | the most frequent |", "|---|---:|---|"]
        for label, row in calls.items():
            top = ", ".join(f"{name} {n}" for name, n in row["top"].items())
            out.append(f"| {label} | {row['total']:,} | {top} |")
    ex = e["exits"]
    out += [
        "",
        f"### 12. One deadline, once (seconds a process takes after the job, minus the same "
        f"process with mirroring off; {ex['runs']} runs; flush deadline 5 s)",
        "",
        "| front end | server accepts and never answers | connection refused throughout |",
        "|---|---:|---:|",
    ]
    for name in ex["never answers"]:
        out.append(
            f"| {name} | {_s(ex['never answers'][name], '{:.2f}')} "
            f"| {_s(ex['connection refused'][name], '{:.2f}')} |"
        )
    bars = e["bars"]
    out += [
        "",
        f"### 13. A bar's creation and close (µs, {bars['rounds']} interleaved rounds of "
        f"{bars['n']} bars)",
        "",
        "| | tqdm | livebar.tqdm | ratio |",
        "|---|---:|---:|---:|",
    ]
    for label in ("mirrored", "LIVEBAR_DISABLE=1"):
        row = bars[label]
        out.append(
            f"| {label} | {_s(row['tqdm_us'])} | {_s(row['livebar_us'])} "
            f"| {_s(row['ratio'], '{:.2f}')} |"
        )
    return out


def _beats_peers(s: dict[str, Any]) -> bool:
    mine = s["livebar"]["error"]
    return all(mine <= max(p["error"], INVISIBLE) for p in s["peers"].values())


def _ratio(s: dict[str, Any]) -> float | None:
    best, mine = s["optimum_ios"], s["livebar"]["error"]
    if best < 1e-9:
        return 1.0 if mine < INVISIBLE else None
    return float(mine / best)


def shapes_headline(sh: dict[str, Any]) -> list[str]:
    lines = []
    for s in sh["scenarios"]:
        ratio = _ratio(s)
        shown = "-" if ratio is None else f"{ratio:.2f}"
        ok = ratio is not None and ratio <= SHAPES_TARGET
        lines.append(
            f"real shape, {s['label']}: error {shown} x the optimum (target ≤ {SHAPES_TARGET}): "
            f"{_verdict(ok)}; never worse than a naive peer: {_verdict(_beats_peers(s))}"
        )
    return lines


def shapes_table(sh: dict[str, Any]) -> list[str]:
    peers = list(sh["scenarios"][0]["peers"])
    out = [
        "",
        "### 9. Pacing on real shapes (error in percentage points; virtual clock, the same "
        "simulated account and phone)",
        "",
        "| shape | updates | iOS warnings | livebar | optimum | x opt | "
        + " | ".join(peers)
        + " |",
        "|---|---:|---:|---:|---:|---:|" + "---:|" * len(peers),
    ]
    for s in sh["scenarios"]:
        lb = s["livebar"]
        ratio = _ratio(s)
        cells = [
            s["label"],
            str(lb["updates"]),
            str(lb["warnings"]),
            f"{100 * lb['error']:.2f}",
            f"{100 * s['optimum_ios']:.2f}",
            "-" if ratio is None else f"{ratio:.2f}",
            *(f"{100 * s['peers'][p]['error']:.2f}" for p in peers),
        ]
        out.append("| " + " | ".join(cells) + " |")
    return out
