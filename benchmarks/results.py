#!/usr/bin/env python3
"""Turn the raw runs of benchmarks/run.sh into benchmarks/RESULTS.md.

Usage: results.py RAW.tsv VERSIONS.txt RUNS [REMOTE.tsv] > RESULTS.md
RAW.tsv: workload, runtime, run, status, peak RSS in KiB, the program's line.
REMOTE.tsv (benchmarks/run_remote.sh): client-server pair, round trips/s (k),
casts/s (M), calls/s (k); one row per run.
"""
import re
import statistics
import sys

# What each workload's line says, and whether more is better. A fifth
# element True marks a figure that not every runtime's program prints.
METRICS = {
    "skynet": [("time", r" in ([0-9.]+) s", "s", False)],
    "ping_pong": [("round trips/s", r"([0-9.]+)M round trips/s", "M/s", True)],
    "ring": [("hops/s", r"([0-9.]+)M hops/s", "M/s", True)],
    "spawn_idle": [
        ("spawns/s", r"\(([0-9.]+)M spawns/s\)", "M/s", True),
        ("bytes per process", r"([0-9]+) resident bytes each", "B", False),
    ],
    "fan_in": [("messages/s", r"([0-9.]+)M messages/s", "M/s", True)],
    "server_call": [
        ("calls/s, 1 client", r"\(1 client[^)]*\) in [0-9.]+ s: ([0-9.]+)M calls/s", "M/s", True),
        ("calls/s, 100 clients", r"\(100 clients[^)]*\) in [0-9.]+ s: ([0-9.]+)M calls/s", "M/s",
         True, True),
    ],
    "statem": [
        ("casts/s", r"statem cast: [^|]* ([0-9.]+)M events/s", "M/s", True),
        ("calls/s", r"statem call: [^|]* ([0-9.]+)M calls/s", "M/s", True),
        ("postponed/s", r"statem postpone: [^|]* ([0-9.]+)M events/s", "M/s", True),
    ],
    "events": [
        ("notify x1/s", r"events notify x1: [^|]* ([0-9.]+)M events/s", "M/s", True),
        ("notify x10/s", r"events notify x10: [^|]* ([0-9.]+)M events/s", "M/s", True),
        ("sync_notify/s", r"events sync_notify: [^|]* ([0-9.]+)M/s", "M/s", True),
    ],
    "groups": [
        ("join+leave/s", r"pg join\+leave: [^|]* ([0-9.]+)M pairs/s", "M/s", True),
        ("get_members/s", r"pg get_members by name: [^|]* ([0-9.]+)M reads/s", "M/s", True),
        ("snapshot reads/s", r"pg members via scope: [^|]* ([0-9.]+)M reads/s", "M/s", True),
    ],
    "all_to_all": [("messages/s", r"([0-9.]+)M messages/s", "M/s", True)],
    "etf": [
        ("encode/s", r"etf: encode [^|]* ([0-9.]+)M/s", "M/s", True),
        ("decode/s", r"etf: decode [^|]* ([0-9.]+)M/s", "M/s", True),
        ("bytes", r"etf: ([0-9]+) bytes per message", "B", False),
    ],
}
TITLES = {
    "skynet": "skynet, 1,111,111 processes",
    "ping_pong": "ping-pong, 1M round trips",
    "ring": "ring, 1,000 processes, 10M hops",
    "spawn_idle": "spawn-idle, 1M waiting processes",
    "fan_in": "fan-in, 1,000 producers x 1,000 messages",
    "server_call": "server call, 1M calls from 1 client and from 100 clients (100 clients: "
    "otpp and Go only)",
    "statem": "state machine (gen_statem), 1M events; 100k postponed (otpp and Erlang only)",
    "events": "event manager (gen_event), 1M notifies to 1 and 10 handlers; 200k sync_notify "
    "(otpp and Erlang only)",
    "groups": "process groups (pg), 200k join+leave pairs; 1M reads of a 100-member group "
    "(otpp and Erlang only)",
    "all_to_all": "all-to-all, 1,000 processes (each pings every other: 2M messages)",
    "etf": "external term format, 1M gen_server calls encoded and decoded (otpp and Erlang only)",
}
NOTES = [
    "- Server call: otpp's `call` and Erlang's `gen_server:call` monitor the server and "
    "time out after 5 s; CAF's `request(...).await` runs with an infinite timeout (CAF 0.17 "
    "keeps a timer per request until it expires: with 5 s it runs 2.5x slower, see "
    "peers/caf/README.md); Go's call is a request channel plus a reply channel, with no "
    "monitor and no timeout.",
    "- Placement: otpp and Erlang pin the two ping-pong processes and the call pair to one "
    "scheduler; CAF and Go cannot pin (their `same scheduler` is a label).",
    "- Go channels are bounded (a full one blocks its sender); the others' mailboxes are "
    "not.",
    "- spawn-idle runs right after other runtimes freed their memory, so every runtime "
    "pays first-touch page faults here (2-6 us each on these VMs); otpp's rate on a warm "
    "re-run is about 3x higher (benchmarks/README.md). otpp's resident bytes are one 4 KiB "
    "stack page plus the process control block; an event-based CAF actor has no stack.",
    "- Erlang's times are measured inside the VM (VM start-up not counted); peak RSS "
    "includes it.",
]
PEERS = ["erlang", "caf", "go"]
NAMES = {"otpp": "otpp", "erlang": "Erlang/OTP", "caf": "CAF", "go": "Go"}


def main():
    raw, versions, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    remote = sys.argv[4] if len(sys.argv) > 4 else None
    data = {}  # (workload, runtime) -> list of (values dict, rss KiB) ; failures counted
    failures = {}
    order = []
    for row in open(raw, encoding="utf-8"):
        parts = row.rstrip("\n").split("\t", 5)
        if len(parts) < 6:
            continue
        w, rt, _, status, rss, line = parts
        if rt not in order:
            order.append(rt)
        values = {}
        metrics = METRICS.get(w.split("@")[0], [])  # "skynet@1": skynet on one scheduler
        for name, rx, *_ in metrics:
            m = re.search(rx, line)
            if m:
                values[name] = float(m.group(1))
        required = [mt[0] for mt in metrics if not (len(mt) > 4 and mt[4])]
        ok = status == "ok" and all(r in values for r in required) and "WRONG" not in line
        if ok:
            data.setdefault((w, rt), []).append((values, int(rss or 0)))
        else:
            failures[(w, rt)] = failures.get((w, rt), 0) + 1

    vers = {}
    for line in open(versions, encoding="utf-8"):
        k, _, v = line.rstrip("\n").partition("\t")
        vers[k] = v

    out = []
    out.append("# otpp against Erlang/OTP, CAF and Go\n")
    out.append(
        "Written by `bash benchmarks/run.sh` (do not edit by hand): every workload "
        f"run {runs} times per runtime, runtimes alternating within each round, on "
        "one machine in one run. Medians, with min and max; peak RSS is the median of "
        "the runs' maximum resident set (`/usr/bin/time`). The ratio is otpp's "
        "advantage: for a rate otpp / peer, for a time or a size peer / otpp, so above "
        "1.00 means otpp is better.\n"
    )
    out.append(f"- Machine: {vers.get('machine', '?')}; run {vers.get('date', '?')}")
    for k in ["otpp", "erlang", "caf", "go"]:
        if k in vers:
            out.append(f"- {NAMES[k]}: {vers[k]}")
    out.append("")
    out.append(
        "Programs: `benchmarks/workloads/*.cpp` (otpp), `benchmarks/peers/<runtime>/` "
        "(each peer's README says how it maps to the otpp workload).\n"
    )

    summary = []
    for w, metrics in METRICS.items():
        if not any(data.get((w, rt)) or failures.get((w, rt)) for rt in order):
            continue  # not in this run
        out.append(f"## {TITLES[w]}\n")
        for name, _, unit, higher, *_ in metrics:
            if len(metrics) > 1:
                out.append(f"### {name}\n")
            out.append(f"| runtime | median | min | max | peak RSS (MiB) | otpp ratio |")
            out.append("|---|---|---|---|---|---|")
            med = {
                rt: statistics.median([v[name] for v, _ in data[(w, rt)] if name in v])
                for rt in order
                if any(name in v for v, _ in data.get((w, rt), []))
            }
            for rt in order:
                fails = failures.get((w, rt), 0)
                if rt not in med:
                    if fails == 0 or data.get((w, rt)):
                        continue  # not run (statem: no peer program for this runtime)
                    out.append(f"| {NAMES.get(rt, rt)} | failed ({fails} runs) | | | | |")
                    continue
                runs_ok = [(v, r) for v, r in data[(w, rt)] if name in v]
                vals = [v[name] for v, _ in runs_ok]
                rss = statistics.median([r for _, r in runs_ok]) / 1024
                ratio = ""
                if rt != "otpp" and "otpp" in med and med[rt] > 0 and med["otpp"] > 0:
                    r = med["otpp"] / med[rt] if higher else med[rt] / med["otpp"]
                    ratio = f"{r:.2f}"
                    summary.append((w, name, rt, r))
                note = f" ({fails} failed)" if fails else ""
                out.append(
                    f"| {NAMES.get(rt, rt)}{note} | {fmt(med[rt], unit)} | {fmt(min(vals), unit)} | "
                    f"{fmt(max(vals), unit)} | {rss:.0f} | {ratio} |"
                )
            out.append("")

    out.append("## Scaling from one scheduler to two\n")
    out.append(
        "The same workloads on one scheduler (otpp `OTPP_SCHEDULERS=1`, Erlang `+S 1:1`, "
        "CAF one worker thread, Go `GOMAXPROCS=1`) against the runs above on two; "
        "speedup = how much faster two are (medians).\n"
    )
    scaled = sorted({w.split("@")[0] for w, _ in data if w.endswith("@1")},
                    key=list(METRICS).index)
    for w in scaled:
        name, _, unit, higher, *_ = METRICS[w][0]
        out.append(f"### {TITLES[w]}\n")
        out.append("| runtime | 1 scheduler | 2 schedulers | speedup |")
        out.append("|---|---|---|---|")
        for rt in order:
            one = data.get((w + "@1", rt))
            two = data.get((w, rt))
            if not one or not two:
                continue
            m1 = statistics.median([v[name] for v, _ in one])
            m2 = statistics.median([v[name] for v, _ in two])
            speed = (m2 / m1 if higher else m1 / m2) if m1 > 0 and m2 > 0 else 0
            out.append(f"| {NAMES.get(rt, rt)} | {fmt(m1, unit)} | {fmt(m2, unit)} | {speed:.2f}x |")
        out.append("")

    if remote:
        out.extend(remote_section(remote, summary))

    out.append("## Where otpp is behind\n")
    behind = [(w, n, rt, r) for w, n, rt, r in summary if r < 1.0]
    if not behind:
        out.append("Nowhere in this run: otpp's median is ahead of every peer's on every workload.\n")
    else:
        for w, n, rt, r in behind:
            title = TITLES.get(w, w)
            out.append(f"- {title} ({n}): {NAMES[rt]} is ahead, otpp ratio {r:.2f}.")
        out.append("")
    out.append("## How the programs differ\n")
    out.extend(NOTES)
    out.append("")
    print("\n".join(out))


REMOTE_PAIRS = ["otpp-otpp", "otpp-erlang", "erlang-otpp", "erlang-erlang"]
REMOTE_TITLE = "remote messaging, two OS processes over Erlang distribution on loopback"


def remote_section(path, summary):
    """The remote pairs (client-server): medians of round trips, casts and
    calls; otpp-otpp's ratio against Erlang-Erlang goes to the summary."""
    rows = {}
    when = "?"
    for row in open(path, encoding="utf-8"):
        parts = row.rstrip("\n").split("\t")
        if parts[0] == "#date" and len(parts) > 1:
            when = parts[1]
            continue
        if len(parts) < 4:
            continue
        vals = []
        for x in parts[1:5]:
            try:
                vals.append(float(x))
            except ValueError:
                vals.append(float("nan"))
        while len(vals) < 4:
            vals.append(float("nan"))
        rows.setdefault(parts[0], []).append(vals[:3])
    out = [f"## {REMOTE_TITLE}\n"]
    out.append(
        "`benchmarks/run_remote.sh` (client-server: which side runs otpp's "
        "`bench_remote` and which Erlang's `remote.erl`): ping-pong round trips to "
        "`{pong, Peer}`, casts to `{sink, Peer}` closed by a sync, `gen_server:call` "
        "(otpp: `otpp::call`) of `{add, X, Y}` to `{calc, Peer}`. Both programs share "
        f"the 2 cores. Medians (min-max) of {max((len(v) for v in rows.values()), default=0)} "
        f"runs; run {when}.\n"
    )
    out.append("| client-server | round trips/s | casts/s | calls/s |")
    out.append("|---|---|---|---|")
    med = {}
    for pair in REMOTE_PAIRS:
        runs = rows.get(pair)
        if not runs:
            continue
        cells = []
        for i, unit in enumerate(["k/s", "M/s", "k/s"]):
            v = [r[i] for r in runs if r[i] == r[i]]
            if not v:
                cells.append("failed")
                continue
            m = statistics.median(v)
            med[(pair, i)] = m
            cells.append(f"{fmt(m, unit)} ({fmt(min(v), unit)}-{fmt(max(v), unit)})")
        out.append(f"| {pair} | " + " | ".join(cells) + " |")
    out.append("")
    for i, name in enumerate(["round trips/s", "casts/s", "calls/s"]):
        a, b = med.get(("otpp-otpp", i)), med.get(("erlang-erlang", i))
        if a and b:
            summary.append((REMOTE_TITLE + ", otpp-otpp against Erlang-Erlang", name, "erlang", a / b))
    return out


def fmt(v, unit):
    if unit == "k/s":
        return f"{v:.1f}k/s"
    if unit == "M/s":
        return f"{v:.2f}M/s"
    if unit == "s":
        return f"{v:.3f} s"
    return f"{v:.0f} {unit}"


if __name__ == "__main__":
    main()
