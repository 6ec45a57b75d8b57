#!/usr/bin/env python3
"""PostgreSQL's CPU a registration, statement by statement, without the service.

Replays the SQL a PostgreSQL registration sends (`after.sql`: the shipped statements; `before.sql`:
those of 3a687f3's parent) with pgbench, against copies of a benchmark population, beside
`pgbench -N` on a database of its own, in rounds that take the variants in turn (the host drifts).
Each run is a fixed number of transactions on subscriptions no round used before, and PostgreSQL's
CPU a transaction is read from /proc (its processes' utime + stime, plus the postmaster's cutime +
cstime for backends that exited).

    # a population to copy (its name is printed on stderr):
    taskset -c 1 target/release/bench --only "POST registrations" --keep-databases --large-customer 0
    psql -c 'alter database pc_bench_1000000_patterned_PID rename to pch_template'
    python3 bench/pg-registration/compare.py 6          # six rounds

Needs psql and pgbench on the PATH, and a superuser at 127.0.0.1:5432 (checkpoints before each
run). Drops and creates the databases pch_before, pch_after and pch_pgbench_n; drop them and
pch_template afterwards.
"""

import os
import re
import statistics
import subprocess
import sys

PG = ["-h", "127.0.0.1", "-U", "postgres"]
HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = 64
PER_CLIENT = 200  # transactions a client a run
PARTNER = "b1e5d2a0-0000-4000-8000-0000000000b0"
VARIANTS = {
    "before": os.path.join(HERE, "before.sql"),
    "after": os.path.join(HERE, "after.sql"),
    "pgbench_n": None,
}


def psql(database, sql):
    subprocess.run(["psql", *PG, "-d", database, "-qc", sql], check=True, stdout=subprocess.DEVNULL)


def postgres_cpu_seconds():
    ticks = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "postgres":
                    continue
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ppid, utime, stime, cutime, cstime = (int(fields[i]) for i in (1, 11, 12, 13, 14))
            with open(f"/proc/{ppid}/comm") as f:
                postmaster = f.read().strip() != "postgres"
        except OSError:  # it exited meanwhile
            continue
        ticks += utime + stime
        if postmaster:  # its exited children's (the backends') time too
            ticks += cutime + cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def setup():
    for name in VARIANTS:
        psql("postgres", f"drop database if exists pch_{name} with (force)")
    for name, script in VARIANTS.items():
        if script:
            psql("postgres", f"create database pch_{name} template pch_template")
            psql(f"pch_{name}", "vacuum analyze")
        else:
            psql("postgres", f"create database pch_{name}")
            subprocess.run(["pgbench", *PG, "-i", "-s", "10", "-q", f"pch_{name}"], check=True,
                           capture_output=True)


def run(name, script, round_):
    database = f"pch_{name}"
    psql(database, "checkpoint")
    command = ["pgbench", *PG, "-n", "-M", "prepared", "-c", str(CLIENTS), "-j", "1",
               "-t", str(PER_CLIENT)]
    if script:
        base = round_ * 2 * CLIENTS * (PER_CLIENT + 1)  # even (registrable) subscriptions, unused
        command += ["-D", "i=0", "-D", f"base={base}", "-D", f"p={PARTNER}", "-f", script]
    else:
        command += ["-N"]
    before = postgres_cpu_seconds()
    out = subprocess.run(["taskset", "-c", "1", *command, database], capture_output=True, text=True)
    cpu = postgres_cpu_seconds() - before
    tps = re.search(r"tps = ([0-9.]+) \(without", out.stdout)
    if out.returncode != 0 or not tps:
        sys.exit(f"{name}: pgbench failed: {out.stderr[-400:]}")
    return float(tps.group(1)), cpu / (CLIENTS * PER_CLIENT) * 1e6


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    setup()
    results = {name: [] for name in VARIANTS}
    names = list(VARIANTS)
    # Round 0 warms the copies (their first pass over the pages costs far more) and is not counted.
    for round_ in range(rounds + 1):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            tps, us = run(name, VARIANTS[name], round_)
            print(f"round {round_} {name:10} {tps:7.0f} tps {us:6.1f} us of PostgreSQL's CPU a transaction",
                  flush=True)
            if round_ > 0:
                results[name].append((tps, us))
    print("medians:")
    for name, runs in results.items():
        print(f"  {name:10} {statistics.median(r[0] for r in runs):7.0f} tps "
              f"{statistics.median(r[1] for r in runs):6.1f} us")


if __name__ == "__main__":
    main()
