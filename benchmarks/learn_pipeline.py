"""Benchmark: the zarr input pipeline against the same batches from memory, and CNN training throughput.

Builds a store with :func:`gcs_hpc.store.create_store` / ``write_model`` (synthetic maps: sigma scaling
as M^(1/3) with noise; the pipeline does not care what the numbers are), then in the same run measures:

1. input pipeline, images/s of one epoch of shuffled, noisy (5 km/s), prefetched batches of
   :func:`gcs_hpc.learn.data.training_dataset` on the store (default: the paper-size cube, 2000 models x
   100 angles x 2 x 10 x 10 float32 = 160 MB), against the ideal in-memory pipeline (the same images as
   NumPy arrays already in memory, ``from_tensor_slices``/``shuffle``/``batch``/map noise/``prefetch``).
   The store path is measured as a later epoch (shard loaded once, then served from memory: target >= 0.95)
   and including its one-off load (first epoch), and streaming (``memory_mb=0``: blocks of ``--cache-mb``
   read ahead in parallel by tf.data, :mod:`gcs_hpc.learn.stream`: target >= 0.9);
2. training throughput, images/s, of each net (conv2/conv4, 2 channels) on this machine's CPU: the
   custom-loop train step fed by the zarr pipeline and by in-memory batches (ratio again).

Each figure is the best of ``--repeats`` runs, zarr and memory measured alternately (the machine is
shared: timings are noisy).

Usage: ``python benchmarks/learn_pipeline.py [--models 2000] [--angles 100] [--batch-size 32]
[--cache-mb 16] [--threads 2] [--repeats 3] [--skip-training] [--store PATH]``
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gcs_hpc import store  # noqa: E402
from gcs_hpc.learn import data, nets  # noqa: E402
from gcs_hpc.specs import PRESETS, GalaxySpec, MapSpec, ModelSpec  # noqa: E402


def build_store(path: Path, n_models: int, n_angles: int, seed: int = 0) -> None:
    """A store of ``n_models`` disk models with synthetic maps (all done)."""
    rng = np.random.default_rng(seed)
    specs = [ModelSpec("disk", GalaxySpec(M_halo=float(10 ** rng.uniform(11.3, 12.7))), PRESETS["tiny"],
                       seed=i) for i in range(n_models)]
    map_spec = MapSpec(n_angles=n_angles)
    store.create_store(path, specs, map_spec, "# learn_pipeline benchmark store\n")
    p = map_spec.npix
    for i, spec in enumerate(specs):
        amp = 150.0 * (spec.M_total / 1e12) ** (1 / 3)
        maps = amp * (1 + 0.15 * rng.standard_normal(size=(n_angles, 2, p, p), dtype=np.float32))
        maps[:, 1] -= amp
        store.write_model(path, i, maps, np.ones((n_angles, p, p), np.int32))


def ideal_dataset(tf, x: np.ndarray, y: np.ndarray, batch: int, steps: int, epoch: int) -> object:
    """The baseline: arrays already in memory, from_tensor_slices/shuffle/batch/noise map/prefetch."""
    sigma = np.float32(5.0 / data.INPUT_SCALE_KMS)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    ds = ds.shuffle(len(y), seed=epoch, reshuffle_each_iteration=False)
    ds = ds.batch(batch, drop_remainder=True).take(steps)
    ds = ds.map(lambda xb, yb: (xb + sigma * tf.random.normal(tf.shape(xb), seed=epoch), yb),
                num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def consume(ds) -> float:
    """Images/s of iterating ``ds`` (no training)."""
    t0 = time.perf_counter()
    n = sum(int(x.shape[0]) for x, _ in ds)
    return n / (time.perf_counter() - t0)


def pipeline_rate(source: data.StoreMaps, images: np.ndarray, batch: int, steps: int,
                  cache_mb: float, epoch: int, memory_mb: float = data.MEMORY_BUDGET_MB) -> float:
    """Images/s of one epoch of :func:`gcs_hpc.learn.data.training_dataset` (dataset built inside the
    timing: a first epoch includes the shard's load)."""
    t0 = time.perf_counter()
    ds = data.training_dataset(source, images, batch, steps, seed=0, epoch=epoch, worker=0, noise_kms=5.0,
                               cache_mb=cache_mb, memory_mb=memory_mb)
    n = sum(int(x.shape[0]) for x, _ in ds)
    return n / (time.perf_counter() - t0)


def training_rate(tf, arch: str, source: data.StoreMaps, images: np.ndarray, batch: int, steps: int,
                  cache_mb: float, epoch: int) -> float:
    """Images/s of the train step (forward, backward, Adam) over one epoch fed by the pipeline."""
    import keras

    model = nets.build_net(arch, len(source.channel_names), source.npix, seed=0)
    opt = keras.optimizers.Adam(1e-3)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    ds = data.training_dataset(source, images, batch, steps, seed=0, epoch=epoch, worker=0, cache_mb=cache_mb)
    it = iter(ds)
    step(*next(it))  # trace outside the timing
    t0 = time.perf_counter()
    n = 0
    for x, y in it:
        step(x, y)
        n += int(x.shape[0])
    return n / (time.perf_counter() - t0)


def interleaved(measure, zarr_src: data.StoreMaps, mem_src: data.StoreMaps,
                repeats: int) -> tuple[float, float]:
    """Best of ``repeats`` for each source, measured alternately so that load changes hit both alike."""
    z, m = [], []
    for r in range(repeats):
        z.append(measure(zarr_src, r))
        m.append(measure(mem_src, r))
    return max(z), max(m)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", type=int, default=2000)
    p.add_argument("--angles", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--cache-mb", type=float, default=16.0, help="streaming reader's block size")
    p.add_argument("--skip-training", action="store_true", help="only the input pipeline figures")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--train-steps", type=int, default=150, help="steps timed per training figure")
    p.add_argument("--store", type=Path, default=None,
                   help="keep the store here and reuse it when it exists (default: a temporary folder)")
    args = p.parse_args(argv)

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(tmp) / "bench.zarr" if args.store is None else args.store
        t0 = time.perf_counter()
        reused = path.exists()
        if not reused:
            build_store(path, args.models, args.angles)
        sizes = data.open_store(path).sizes
        print(f"store: {sizes['model']} models x {sizes['angle']} angles x 2 x 10 x 10 "
              f"({sizes['model'] * sizes['angle']} images) "
              + (f"reused from {path}" if reused else f"written in {time.perf_counter() - t0:.1f} s"))
        load = os.getloadavg()
        print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs")
        images = data.make_split(data.open_store(path), "model").train
        zarr_src, mem_src = data.StoreMaps(path, 2), data.MemoryMaps(path, 2)
        steps = len(images) // args.batch_size
        x_all, y_all, _ = data._shard_inputs(mem_src, images)
        mem_src._shard_cache = None
        print(f"pipeline: {steps} batches of {args.batch_size} per epoch ({len(images)} training images, "
              f"{data.shard_nbytes(zarr_src, images) / 2**20:.0f} MiB of maps), shuffle + 5 km/s noise + "
              f"prefetch, TF threads {args.threads}, best of {args.repeats}, alternately with the ideal")
        ideal, first, later, streamed = [], [], [], []
        for r in range(args.repeats):
            ideal.append(consume(ideal_dataset(tf, x_all, y_all, args.batch_size, steps, r)))
            zarr_src._shard_cache = None
            first.append(pipeline_rate(zarr_src, images, args.batch_size, steps, args.cache_mb, r))
            later.append(pipeline_rate(zarr_src, images, args.batch_size, steps, args.cache_mb, r + 1))
            streamed.append(pipeline_rate(zarr_src, images, args.batch_size, steps, args.cache_mb, r,
                                          memory_mb=0.0))
        base = max(ideal)
        print(f"{'input pipeline':<52}{'images/s':>10}{'x ideal':>9}{'median':>8}  images/s of each repeat")
        print(f"{'ideal: arrays in memory (baseline)':<52}{base:10.0f}{1.0:9.2f}{1.0:8.2f}  "
              + " ".join(f"{r:.0f}" for r in ideal))
        for name, rates, target in (("store, shard in memory, later epoch", later, "  (target >= 0.95)"),
                                    ("store, shard in memory, first epoch (incl. load)", first, ""),
                                    (f"store streamed, blocks of {args.cache_mb:g} MB", streamed,
                                     "  (target >= 0.9)")):
            paired = float(np.median(np.divide(rates, ideal)))  # each repeat against its own ideal
            print(f"{name:<52}{max(rates):10.0f}{max(rates) / base:9.2f}{paired:8.2f}  "
                  + " ".join(f"{r:.0f}" for r in rates) + target)
        print("x ideal: best against best; median: the median over repeats of rate / that repeat's ideal")
        load = os.getloadavg()
        print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
        if args.skip_training:
            return 0
        models = np.arange(min(13, args.models))
        t0 = time.perf_counter()
        for _ in range(10):
            zarr_src.read_models(models)
        print(f"zarr read: {(time.perf_counter() - t0) / 10 / len(models) * 1e3:.2f} ms per model chunk "
              f"({zarr_src.model_nbytes / 1024:.0f} KiB)")
        tsteps = min(steps, args.train_steps)
        print(f"\ntraining on CPU ({tsteps} steps of {args.batch_size}, custom-loop step, Adam)")
        print(f"{'net (block ' + format(args.cache_mb, 'g') + ' MB)':<24}{'from zarr':>12}{'from memory':>12}"
              f"{'zarr/memory':>14}")
        for arch in ("conv2", "conv4"):
            tz, tm = interleaved(lambda src, r: training_rate(tf, arch, src, images, args.batch_size, tsteps,
                                                              args.cache_mb, r),
                                 zarr_src, mem_src, args.repeats)
            print(f"{arch + ' 2ch images/s':<24}{tz:12.0f}{tm:12.0f}{tz / tm:14.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
