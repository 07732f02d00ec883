"""Gravity speed: interactions per second of every CPU backend beside NumPy broadcasting and REBOUND's
``basic`` gravity, and our tree beside pytreegrav's tree at matched force error, measured in one run.

Run: ``python benchmarks/gravity.py [--n 2000 8000 32000] [--tree-n 32000] [--threads 1 2]`` (about 2-4 min
on a loaded 2-core machine). Each tree is scored against its OWN exact force: ours against the Plummer-softened
direct sum, pytreegrav against its brute-force sum with its cubic-spline softening (support radius = the
softening length), so neither is penalised for the other's softening. Both sweep the opening angle
(pytreegrav with and without its quadrupole option); pytreegrav's time at our median and at our 99th-percentile
error is log-log interpolated along its sweep (the nearest point, marked, when outside it). Trees are timed
once per opening angle after a warm-up; on a shared machine absolute numbers are noisy, the ratios are the
result. The load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ARGS = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ARGS.add_argument("--n", type=int, nargs="+", default=[2000, 8000, 32000], help="N of the direct-sum table")
ARGS.add_argument("--tree-n", type=int, nargs="+", default=[32000], help="N of the tree comparison")
ARGS.add_argument("--threads", type=int, nargs="+", default=[1, 2])
ARGS.add_argument("--softening", type=float, default=0.01)
OPTS = ARGS.parse_args()
os.environ.setdefault("NUMBA_NUM_THREADS", str(max(OPTS.threads)))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numba  # noqa: E402
import numpy as np  # noqa: E402

from gcs_hpc.nbody import get_backend  # noqa: E402

#: Targets used for the O(N^2) references at large N (their rate is per interaction, so a subset suffices).
MAX_REFERENCE_TARGETS = 2000
#: Targets of the NumPy broadcasting baseline (it holds a targets x sources x 3 array).
NUMPY_TARGETS = 200
#: Opening angles swept (our default is 0.7; so is pytreegrav's).
OUR_THETAS = (0.5, 0.7, 0.9)
PTG_THETAS = (0.4, 0.7, 1.0)
PTG_QUAD_THETAS = (0.5, 0.7, 1.0)
#: Particles of the warm-up call that compiles a tree code before it is timed.
WARMUP_N = 1000


def plummer(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    r = 1.0 / np.sqrt(rng.uniform(1e-4, 1.0, n) ** (-2.0 / 3.0) - 1.0)
    u = rng.normal(size=(n, 3))
    return r[:, None] * u / np.linalg.norm(u, axis=1)[:, None], np.full(n, 1.0 / n)


def best_time(fn, repeat: int = 3) -> float:
    fn()  # warm-up (compilation, caches)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def numpy_broadcasting(targets: np.ndarray, pos: np.ndarray, mass: np.ndarray, eps: float) -> np.ndarray:
    d = pos[None, :, :] - targets[:, None, :]
    inv = (np.sum(d * d, axis=2) + eps * eps) ** -1.5
    return np.einsum("ijk,ij,j->ik", d, inv, mass)


def rebound_seconds(pos: np.ndarray, mass: np.ndarray, eps: float) -> float | None:
    try:
        import rebound
    except ImportError:
        return None
    sim = rebound.Simulation()
    sim.gravity, sim.softening, sim.integrator, sim.dt = "basic", eps, "leapfrog", 1e-12
    for x, m in zip(pos, mass):
        sim.add(m=m, x=x[0], y=x[1], z=x[2])
    steps = 2
    t0 = time.perf_counter()
    sim.steps(steps)
    return (time.perf_counter() - t0) / steps


def errors(acc: np.ndarray, exact: np.ndarray) -> tuple[float, float]:
    """Median and 99th percentile of the relative force error."""
    rel = np.linalg.norm(acc - exact, axis=1) / np.linalg.norm(exact, axis=1)
    return float(np.median(rel)), float(np.percentile(rel, 99))


def once(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def direct_table(n: int, threads: int, eps: float) -> None:
    """Direct-sum rates beside NumPy broadcasting and REBOUND ``basic``."""
    pos, mass = plummer(n)
    k = min(n, MAX_REFERENCE_TARGETS)
    targets = pos[:k]
    few = pos[:NUMPY_TARGETS]
    rates: dict[str, float] = {}
    rates["numpy broadcasting"] = len(few) * n / best_time(lambda: numpy_broadcasting(few, pos, mass, eps), 2)
    reb = rebound_seconds(pos, mass, eps) if threads == 1 else None
    if reb is not None:
        rates["rebound basic"] = n * n / reb
    direct = get_backend("direct")
    rates["direct (xp, chunked)"] = k * n / best_time(lambda: direct.accelerations(targets, pos, mass, eps), 2)
    compiled = get_backend("compiled", threads=threads)
    rates["compiled (numba)"] = k * n / best_time(lambda: compiled.accelerations(targets, pos, mass, eps), 2)
    fast = get_backend("compiled", fast_math=True, threads=threads)
    rates["compiled fast-math (opt-in)"] = k * n / best_time(lambda: fast.accelerations(targets, pos, mass, eps), 2)
    base, reb_rate = rates["numpy broadcasting"], rates.get("rebound basic", float("nan"))
    for name, rate in rates.items():
        print(f"{n:>7} {name:>28} {rate:10.3e} {rate / base:8.2f} {rate / reb_rate:9.2f}")


def sweep_ours(pos, mass, eps, threads, exact, k) -> list[tuple[str, float, float, float, float]]:
    """(label, theta, time, median error, p99 error) of our tree against our Plummer direct sum."""
    rows = []
    small, small_mass = plummer(WARMUP_N)
    for theta in OUR_THETAS:
        tree = get_backend("tree", opening_angle=theta, threads=threads)
        tree.accelerations(small, small, small_mass, eps)  # warm-up (compilation)
        t = once(lambda: tree.accelerations(pos, pos, mass, eps))
        med, p99 = errors(tree.accelerations(pos, pos, mass, eps)[0][:k], exact)
        rows.append(("ours", theta, t, med, p99))
    return rows


def sweep_pytreegrav(pytreegrav, pos, mass, eps, threads, k) -> list[tuple[str, float, float, float, float]]:
    """The same for pytreegrav's tree (monopole and quadrupole) against its own brute-force sum, both with
    its cubic-spline softening of support radius ``eps``."""
    h = np.full(len(pos), eps)
    exact = pytreegrav.AccelTarget(pos[:k], pos, mass, h[:k], h, method="bruteforce", parallel=threads > 1)
    rows = []
    small, small_mass = plummer(WARMUP_N)
    for quadrupole, thetas in ((False, PTG_THETAS), (True, PTG_QUAD_THETAS)):
        label = "pytreegrav" + (" quad" if quadrupole else "")
        pytreegrav.Accel(small, small_mass, h[:WARMUP_N], method="tree", quadrupole=quadrupole,
                         parallel=threads > 1)  # warm-up (numba compilation of this variant)
        for theta in thetas:
            def run():
                return pytreegrav.Accel(pos, mass, h, theta=theta, method="tree", quadrupole=quadrupole,
                                        parallel=threads > 1)
            t = once(run)
            med, p99 = errors(run()[:k], exact)
            rows.append((label, theta, t, med, p99))
    return rows


def time_at_error(rows, error: float, column: int) -> tuple[float, str]:
    """Time of a code at ``error`` (column 3: median, 4: p99), log-log interpolated along its theta sweep;
    outside the swept range the nearest point is taken and marked."""
    pts = sorted((r[column], r[2], r[1]) for r in rows)
    errs = np.log([p[0] for p in pts])
    times = np.log([p[1] for p in pts])
    le = np.log(error)
    if le < errs[0] or le > errs[-1]:
        nearest = pts[0] if le < errs[0] else pts[-1]
        return nearest[1], f"nearest: theta {nearest[2]}"
    return float(np.exp(np.interp(le, errs, times))), "interp"


def tree_table(n: int, threads: int, eps: float) -> None:
    """Our tree and pytreegrav's, each scored against its own exact force, at matched error."""
    pos, mass = plummer(n)
    k = min(n, MAX_REFERENCE_TARGETS)
    exact, _ = get_backend("compiled", threads=threads).accelerations(pos[:k], pos, mass, eps)
    ours = sweep_ours(pos, mass, eps, threads, exact, k)
    try:
        import pytreegrav
    except ImportError:
        pytreegrav = None
    theirs = sweep_pytreegrav(pytreegrav, pos, mass, eps, threads, k) if pytreegrav else []
    print(f"{'N':>7} {'code':>16} {'theta':>5} {'time s':>8} {'median err':>10} {'p99 err':>9}")
    for label, theta, t, med, p99 in ours + theirs:
        print(f"{n:>7} {label:>16} {theta:5.2f} {t:8.3f} {med:10.2e} {p99:9.2e}")
    if not theirs:
        print("pytreegrav is not installed: no comparison")
        return
    variants = {label: [r for r in theirs if r[0] == label] for label in dict.fromkeys(r[0] for r in theirs)}
    default = next(r for r in ours if r[1] == 0.7)
    ptg_default = next(r for r in theirs if r[0] == "pytreegrav" and r[1] == 0.7)
    print(f"defaults (theta 0.7 both): ours {ptg_default[2] / default[2]:.2f}x faster "
          f"(median error ours {default[3]:.1e}, pytreegrav {ptg_default[3]:.1e})")
    for label, theta, t, med, p99 in ours:
        parts = []
        for column, what, err in ((3, "median", med), (4, "p99", p99)):
            matched = [time_at_error(rows, err, column) + (name,) for name, rows in variants.items()]
            inside = [m for m in matched if m[1] == "interp"]
            best = min(inside or matched)  # a variant whose sweep brackets the error, else the nearest
            parts.append(f"at matched {what} {err:.1e}: {best[0] / t:5.2f}x ({best[2]}, {best[1]})")
        print(f"ours theta {theta:.2f} vs pytreegrav's faster variant " + "; ".join(parts))


def main() -> None:
    eps = OPTS.softening
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs; "
          f"softening {eps}")
    for threads in OPTS.threads:
        numba.set_num_threads(threads)
        print(f"\n== {threads} thread(s): direct sums, interactions/s")
        header = f"{'N':>7} {'backend':>28} {'rate':>10} {'x numpy':>8} {'x rebound':>9}"
        print(header + "\n" + "-" * len(header))
        for n in OPTS.n:
            direct_table(n, threads, eps)
        print(f"\n== {threads} thread(s): trees, each against its own exact force "
              "(ours: Plummer direct sum; pytreegrav: its brute force, cubic-spline softening)")
        for n in OPTS.tree_n:
            tree_table(n, threads, eps)
    load = os.getloadavg()
    print(f"\nload average at the end {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
