"""Benchmark: fresh views (maps made from the GC phase space under an observation model) against what a
conv2 training step consumes.

Builds a small version-2 store of synthetic GC systems (``--n-models`` models of 200-400 GCs), then
measures, in one run:

1. **producer**: maps per second that :func:`gcs_hpc.learn.views.iterate_view_batches` makes on one core
   (NumPy pinned to one thread before import), batches of ``--batch-size``, for the ``sluggs`` and
   ``ideal`` observation models; baseline: the stored fixed-angle maps read by
   :func:`gcs_hpc.learn.data.iterate_batches` (the pipeline without an observation model);
2. **consumer**: images per second of a conv2 (2-channel) training step on batches already in memory;
3. **together**: the same training steps fed by :func:`gcs_hpc.learn.views.training_dataset` (map making
   on the tf.data thread, overlapped by prefetch) against the in-memory feed, alternated: a ratio near 1
   means training never waits on map making. TensorFlow gets ``--tf-threads`` (default 1: one core for
   the net, one for the maps).

Usage: ``python benchmarks/views.py [--n-models 40] [--batch-size 32] [--steps 60]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gcs_hpc import store  # noqa: E402
from gcs_hpc.learn import data, views  # noqa: E402
from gcs_hpc.maps import ENCLOSED_RADII, ObservationSpec, view_maps, viewing_angles  # noqa: E402
from gcs_hpc.specs import PRESETS, GalaxySpec, MapSpec, MergerSpec, ModelSpec  # noqa: E402

OBSERVATIONS = {name: REPO / "configs" / "observation" / f"{name}.yaml" for name in ("sluggs", "ideal")}


def build_store(path: Path, n_models: int, n_angles: int = 100) -> Path:
    """Synthetic GC systems (isotropic Gaussians, dispersion ~ M^(1/3)); half disks (200 GCs), half
    equal-mass mergers (400 GCs); maps from them along the stored angles."""
    rng = np.random.default_rng(0)
    specs = []
    for i in range(n_models):
        galaxy = GalaxySpec(M_halo=float(10 ** rng.uniform(11.3, 12.7)))
        specs.append(ModelSpec("disk", galaxy, PRESETS["tiny"], seed=i) if i % 2 == 0 else
                     ModelSpec("merger", galaxy, PRESETS["tiny"], seed=i, merger=MergerSpec(m2=1.0)))
    map_spec = MapSpec(n_angles=n_angles, fov=6.0, fov_unit="R_half", smoothing=0.6)
    store.create_store(path, specs, map_spec, "# benchmarks/views.py\n")
    theta, phi = viewing_angles(n_angles)
    radii = np.linspace(1.0, 50.0, len(ENCLOSED_RADII))
    for i, spec in enumerate(specs):
        scale = (spec.M_total / 1e12) ** (1 / 3)
        n_gc = store.schema.gc_count(spec)
        pos, vel = rng.normal(0, 8 * scale, (n_gc, 3)), rng.normal(0, 150 * scale, (n_gc, 3))
        r_half = np.full(n_angles, 3.0 * scale)
        maps, counts = view_maps(np.repeat(pos[None], n_angles, 0), np.repeat(vel[None], n_angles, 0), theta,
                                 phi, r_half, ObservationSpec(), map_spec, rng)
        store.write_model(path, i, maps, counts, {"gc_phase_space": np.concatenate([pos, vel], 1),
                                                  "r_half": r_half, "enclosed_mass": radii * 1e10,
                                                  "enclosed_radius": radii})
    return path


def producer_rate(batches, steps: int, batch_size: int) -> float:
    """Images per second of a batch iterator (its first batch, with any store reads, included), CPU time
    of this thread (robust on a shared machine for one-thread work)."""
    t0 = time.thread_time()
    for _ in range(steps):
        next(batches)
    return steps * batch_size / (time.thread_time() - t0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n-models", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=60,
                   help="batches per measurement (at most n_models * 100 / batch)")
    p.add_argument("--tf-threads", type=int, default=1,
                   help="TensorFlow intra/inter-op threads of the training step (0: its default, all cores)")
    args = p.parse_args(argv)
    b, steps = args.batch_size, args.steps
    with tempfile.TemporaryDirectory() as tmp:
        path = build_store(Path(tmp) / "views.zarr", args.n_models)
        ds = data.open_store(path)
        images = data.images_of(data.done_models(ds), int(ds.sizes["angle"]))

        print(f"producer (one core), batches of {b}, {args.n_models} models of 200-400 GCs:")
        fixed = data.iterate_batches(data.StoreMaps(path, 2), images, b, steps=steps, seed=0)
        base = producer_rate(fixed, steps, b)
        print(f"  stored fixed-angle maps (baseline): {base:9.0f} maps/s")
        rates = {}
        for name, obs in OBSERVATIONS.items():
            source = views.ObservedStoreMaps(path, 2, obs)
            rates[name] = producer_rate(views.iterate_view_batches(source, images, b, steps + 1, seed=0),
                                        steps, b)
            print(f"  fresh views, observation {name:7s}: {rates[name]:9.0f} maps/s "
                  f"({rates[name] / base:.2f}x the stored maps)")

        import tensorflow as tf

        if args.tf_threads:
            tf.config.threading.set_intra_op_parallelism_threads(args.tf_threads)
            tf.config.threading.set_inter_op_parallelism_threads(args.tf_threads)
        from gcs_hpc.learn import nets

        model = nets.build_net("conv2", 2, 10, seed=0)
        optimizer = tf.keras.optimizers.Adam(1e-3)

        @tf.function
        def step(x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((model(x, training=True) - y) ** 2)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        x0 = tf.constant(np.random.default_rng(1).normal(0, 1, (b, 10, 10, 2)).astype(np.float32))
        y0 = tf.constant(np.full((b, 1), 5.0, np.float32))
        step(x0, y0)

        def run(dataset) -> float:
            it = iter(dataset)
            x, y = next(it)
            step(x, y)
            t0 = time.perf_counter()
            for _ in range(steps):
                x, y = next(it)
                step(x, y)
            return steps * b / (time.perf_counter() - t0)

        # the baseline feed: one epoch of batches already in memory, sliced as the background path does
        n_mem = (steps + 1) * b
        memory = tf.data.Dataset.from_tensor_slices((
            np.random.default_rng(2).normal(0, 1, (n_mem, 10, 10, 2)).astype(np.float32),
            np.full((n_mem, 1), 5.0, np.float32))).batch(b).prefetch(2)
        consume = run(memory)
        threads = args.tf_threads or "all"
        print(f"consumer: conv2 training step ({threads} TensorFlow threads): {consume:9.0f} images/s; "
              f"producer margin sluggs {rates['sluggs'] / consume:.1f}x, "
              f"ideal {rates['ideal'] / consume:.1f}x")
        source = views.ObservedStoreMaps(path, 2, OBSERVATIONS["sluggs"])
        # the background process starts (imports, loads the phase space) and makes epoch 0 before timing
        views.training_dataset(source, images, b, steps + 1, seed=0, epoch=0, worker=0)
        fed = {True: [], False: []}
        memory_runs = [consume]
        for epoch in (1, 2):  # alternate, so that load changes hit all alike
            for background in (True, False):
                dataset = views.training_dataset(source, images, b, steps + 1, seed=0, epoch=epoch, worker=0,
                                                 background=background)
                fed[background].append(run(dataset))
            memory_runs.append(run(memory))
        memory_rate = float(np.mean(memory_runs))
        for background, label in ((True, "background process"), (False, "tf.data generator thread")):
            rate = float(np.mean(fed[background]))
            print(f"together: training fed by fresh sluggs views ({label}) {rate:7.0f} images/s vs in-memory "
                  f"batches {memory_rate:7.0f} images/s (ratio {rate / memory_rate:.2f})")
        print(f"(this machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})")
        source.epoch_maker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
