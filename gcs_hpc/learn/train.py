"""Train the paper's CNNs from a store, on one process or many (``MultiWorkerMirroredStrategy``).

Keras 3 ``model.fit`` under ``MultiWorkerMirroredStrategy`` fails upstream in TF 2.21
(keras-team/keras#20585), so training is a custom loop: a ``tf.function`` step run with ``strategy.run``
on per-worker batches from ``distribute_datasets_from_function``; the optimizer all-reduces the gradients.
Each worker reads only its own shard of the training models (:func:`gcs_hpc.learn.data.shard_images`);
all workers run the same number of steps per epoch. After every epoch the chief writes a checkpoint
(model, optimizer, epoch counter) with ``tf.train.CheckpointManager``; a rerun with the same ``--out``
resumes from the last one (the epoch counter continues) and ends with weights bit-identical to an
uninterrupted run at the same ``--threads``: each epoch's shuffle, noise and dropout masks come from
(seed, epoch) (:func:`seed_dropout`), weights and optimizer state from the checkpoint. At the end the
chief saves ``model.keras`` and ``metadata.json`` (what :mod:`gcs_hpc.learn.predict` needs); every
worker appends one JSON line per epoch to ``logs/worker-<i>.jsonl`` and writes ``logs/worker-<i>.json``
(models it read, weight digest).

CLI::

    python -m gcs_hpc.learn.train --store S --arch conv2|conv4 --channels 1|2 --epochs E --out DIR \
        [--split model|image|suite] [--suites disk,merger] [--noise-kms 5] [--batch-size 32] [--seed 0] \
        [--head point|gaussian] [--target M_total|M_enclosed] [--scale-input auto|on|off]

Posteriors (issue 15): ``--head gaussian`` trains mean and log-variance by the Gaussian negative
log-likelihood; ``python -m gcs_hpc.learn.ensemble`` trains K such nets (the recommended way to get
calibrated intervals). ``metadata.json`` also records the target's label scale, whether the net takes the
physical scale, and the out-of-distribution reference (``ood``: training amplitude ranges, held-out
quantiles; :mod:`gcs_hpc.learn.ood`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from gcs_hpc.cli import with_help_defaults
from gcs_hpc.config import check_choice, check_range
from gcs_hpc.errors import ConfigError, GcsError
from gcs_hpc.fileperm import add_umask_option, umask
from gcs_hpc.learn import data, nets, targets, views
from gcs_hpc.learn.cluster import WorkerCluster, resolve_cluster
from gcs_hpc.learn.outputs import (ZARR_MARKERS, check_out_folder, store_config_hash,  # noqa: F401
                                   weights_digest)

#: Keys of TrainConfig that may change between a killed run and its resumption.
RESUMABLE_CHANGES = ("epochs", "threads")
#: Options added after runs were first written, with the value those runs had (for resume checks).
LATER_OPTIONS = {"head": "point", "target": "M_total", "enclosed_radius": targets.DEFAULT_ENCLOSED_RADIUS,
                 "scale_input": None, "split_seed": None, "observation": None}
METADATA_FILE = "metadata.json"
MODEL_FILE = "model.keras"
CONFIG_FILE = "train_config.json"


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs (the CLI's options).

    Attributes
    ----------
    batch_size
        Images per batch on each worker (the global batch is ``batch_size * n_workers``).
    noise_kms
        Gaussian noise added to every pixel at training time, km/s (paper's test: 5).
    threads
        TensorFlow intra- and inter-op threads (0: TensorFlow's default).
    cache_mb
        Memory for the block of models the reader holds at once.
    suites
        Campaign suites whose models the ``model`` and ``image`` splits use for training and testing
        (``None``: every suite; a comma-separated string is accepted); see
        :func:`gcs_hpc.learn.data.make_split`.
    head
        ``"point"`` (the paper's) or ``"gaussian"`` (mean and log-variance; :mod:`gcs_hpc.learn.nets`).
    target, enclosed_radius
        ``"M_total"`` or ``"M_enclosed"`` inside the named radius (:mod:`gcs_hpc.learn.targets`).
    scale_input
        Give the net log10 of the map scale (R_half in kpc): ``None`` auto (R_half stores), True, False.
    split_seed
        Seed of the train/test split (``None``: ``seed``); ensemble members share it, so they share the
        held-out galaxies while their weights, dropout and shuffles differ.
    observation
        YAML file of an observation model (``configs/observation/sluggs.yaml``): train on fresh views made
        from the store's GC phase space each epoch (:mod:`gcs_hpc.learn.views`); None: the stored maps.
    """

    store: str
    arch: str
    channels: int
    epochs: int
    out: str
    split: str = "model"
    test_fraction: float = 0.2
    noise_kms: float = 0.0
    batch_size: int = 32
    seed: int = 0
    learning_rate: float = 1.0e-3
    cache_mb: float = 256.0
    threads: int = 0
    suites: tuple[str, ...] | None = None
    head: str = "point"
    target: str = "M_total"
    enclosed_radius: str = targets.DEFAULT_ENCLOSED_RADIUS
    scale_input: bool | None = None
    split_seed: int | None = None
    observation: str | None = None

    def __post_init__(self) -> None:
        if self.observation is not None:
            views.load_observation(self.observation)  # ConfigError naming the file and key
        object.__setattr__(self, "suites", data.check_suites(self.suites))
        check_choice("train", "head", self.head, nets.HEADS)
        targets.check_target(self.target, self.enclosed_radius)
        if self.scale_input not in (None, True, False):
            raise ConfigError(f"train.scale_input = {self.scale_input!r}; allowed: None (auto), True, False")
        if self.split_seed is not None:
            check_range("train", "split_seed", self.split_seed, 0, 2**31 - 1)
        if self.split == "suite" and self.suites is not None:
            raise ConfigError(f"train.suites = {','.join(self.suites)!r} applies to the 'model' and 'image' "
                              "splits; the 'suite' split fixes its own suites")
        check_choice("train", "arch", self.arch, nets.ARCHITECTURES)
        check_choice("train", "channels", self.channels, nets.CHANNEL_CHOICES)
        check_range("train", "epochs", self.epochs, 1, 1_000_000)
        check_choice("train", "split", self.split, data.SPLITS)
        check_range("train", "test_fraction", self.test_fraction, 0.0, 1.0, low_open=True, high_open=True)
        check_range("train", "noise_kms", self.noise_kms, 0.0, 1000.0)
        check_range("train", "batch_size", self.batch_size, 1, 1_000_000)
        check_range("train", "seed", self.seed, 0, 2**31 - 1)
        check_range("train", "learning_rate", self.learning_rate, 0.0, 10.0, low_open=True)
        check_range("train", "cache_mb", self.cache_mb, 0.0, 1.0e6, low_open=True)
        check_range("train", "threads", self.threads, 0, 4096)


def _check_resume(cfg: TrainConfig, out: Path) -> None:
    """Refuse to resume into ``out`` with a different configuration (nothing is overwritten)."""
    path = out / CONFIG_FILE
    if not path.is_file():
        return
    old = json.loads(path.read_text())
    old.setdefault("suites", None)   # runs from before the suite filter used every suite
    for key, value in LATER_OPTIONS.items():
        old.setdefault(key, value)
    new = json.loads(json.dumps(asdict(cfg)))   # tuples as JSON lists, as stored
    diff = sorted(k for k in new if k not in RESUMABLE_CHANGES and old.get(k) != new[k])
    if diff:
        raise ConfigError(f"--out {str(out)!r} holds a run with another configuration ({', '.join(diff)}: "
                          f"{[old.get(k) for k in diff]} there, {[new[k] for k in diff]} now); use a new "
                          f"--out or the same options to resume")


def seed_dropout(model: Any, seed: int, epoch: int) -> None:
    """Set every random-number state of ``model`` (Keras ``SeedGenerator``: the dropout layers) from
    (``seed``, ``epoch``, its index).

    The dropout masks of an epoch then depend on nothing but the run's seed and the epoch number, like
    its shuffle and noise (:func:`gcs_hpc.learn.data.training_dataset`): a run resumed from a checkpoint
    (which holds the weights, the optimizer state and the epoch counter, not these states) continues
    exactly as the uninterrupted run would have.
    """
    states = [v for v in model.non_trainable_variables if v.path.endswith("seed_generator_state")]
    for i, state in enumerate(states):
        base = int(np.random.SeedSequence([seed, epoch, i]).generate_state(1)[0] % (2**31 - 1))
        state.assign(np.array([base, 0], dtype=state.dtype))


def _setup_tensorflow(cfg: TrainConfig, cluster: WorkerCluster) -> tuple[Any, Any]:
    from gcs_hpc.learn import require_tensorflow

    tf = require_tensorflow()
    if cfg.threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(cfg.threads)
            tf.config.threading.set_inter_op_parallelism_threads(cfg.threads)
        except RuntimeError:
            # TensorFlow was already initialised in this process (a second training in one Python
            # session): its thread pools are fixed now; training proceeds with them.
            pass
    if cluster.n_workers > 1:
        cluster.activate()
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    return tf, strategy


def train(cfg: TrainConfig, cluster: WorkerCluster | None = None, log: Any = print) -> dict:
    """Train (or resume) one net; returns this worker's summary (also written to logs/worker-<i>.json)."""
    cluster = resolve_cluster() if cluster is None else cluster
    out = Path(cfg.out)
    check_out_folder(out, cfg.store)
    if cluster.is_chief:
        _check_resume(cfg, out)
    tf, strategy = _setup_tensorflow(cfg, cluster)
    from gcs_hpc.learn import require_keras

    keras = require_keras()
    source = views.maps_source(cfg.store, cfg.channels, cfg.observation, cfg.seed)
    scale_on = targets.resolve_scale_input(source.ds, views.map_spec_of(source).fov_unit,
                                           cfg.scale_input)
    label_attrs = targets.attach(source, cfg.target, cfg.enclosed_radius, scale_on)
    split_seed = cfg.seed if cfg.split_seed is None else cfg.split_seed
    split = data.make_split(source.ds, cfg.split, cfg.test_fraction, split_seed, cfg.suites)
    worker, n_workers = cluster.task_index, cluster.n_workers
    my_images = data.shard_images(split.train, worker, n_workers)
    steps = data.steps_per_epoch(split.train, n_workers, cfg.batch_size)
    global_batch = cfg.batch_size * n_workers

    with strategy.scope():
        model = nets.build_net(cfg.arch, cfg.channels, source.npix, seed=cfg.seed, head=cfg.head,
                               scale_input=scale_on)
        optimizer = keras.optimizers.Adam(cfg.learning_rate)
        optimizer.build(model.trainable_variables)
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch_var)
    ckpt_dir = out / "checkpoints"
    write_dir = ckpt_dir if cluster.is_chief else out / "checkpoints-tmp" / f"worker-{worker}"
    manager = tf.train.CheckpointManager(checkpoint, str(write_dir), max_to_keep=2)
    latest = tf.train.latest_checkpoint(str(ckpt_dir))
    resumed_from = 0
    if latest:
        checkpoint.restore(latest).assert_existing_objects_matched()
        resumed_from = int(epoch_var.numpy())
        log(f"worker {worker}: resumed from {latest} at epoch {resumed_from}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "logs").mkdir(exist_ok=True)
    if cluster.is_chief:
        (out / CONFIG_FILE).write_text(json.dumps(asdict(cfg), indent=1))

    @tf.function
    def train_step(iterator: Any) -> Any:
        def step(x: Any, y: Any) -> Any:
            with tf.GradientTape() as tape:
                pred = model(x, training=True)
                per_image = nets.per_image_loss(tf, cfg.head, pred, y)
                loss = tf.nn.compute_average_loss(per_image, global_batch_size=global_batch)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        per_replica = strategy.run(step, args=next(iterator))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    history_path = out / "logs" / f"worker-{worker}.jsonl"
    for epoch in range(resumed_from, cfg.epochs):
        t0 = time.perf_counter()
        seed_dropout(model, cfg.seed, epoch)
        dataset = views.dataset_for(source)(source, my_images, cfg.batch_size, steps, seed=cfg.seed,
                                        epoch=epoch, worker=worker, noise_kms=cfg.noise_kms,
                                        cache_mb=cfg.cache_mb)
        iterator = iter(strategy.distribute_datasets_from_function(lambda _ctx: dataset))
        losses = [float(train_step(iterator)) for _ in range(steps)]
        epoch_var.assign(epoch + 1)
        saved = manager.save(checkpoint_number=epoch + 1)
        wall = time.perf_counter() - t0
        record = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "steps": steps, "wall_s": wall,
                  "images_per_s": steps * global_batch / wall, "resumed_from": resumed_from,
                  "checkpoint": saved if cluster.is_chief else None}
        with history_path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
        log(f"worker {worker}: epoch {epoch + 1}/{cfg.epochs} loss {record['loss']:.4f} "
            f"({record['images_per_s']:.0f} images/s)")

    digest = weights_digest(model.get_weights())
    summary = {"worker": worker, "n_workers": n_workers, "models_read": sorted(source.models_read),
               "shard_models": np.unique(my_images[:, 0]).tolist(), "steps_per_epoch": steps,
               "weights_sha256": digest, "resumed_from": resumed_from, "epochs": cfg.epochs}
    (out / "logs" / f"worker-{worker}.json").write_text(json.dumps(summary, indent=1))
    if cluster.is_chief:
        _save_final(cfg, out, model, source, split, digest, n_workers, label_attrs, scale_on)
    else:
        shutil.rmtree(write_dir, ignore_errors=True)
        try:
            write_dir.parent.rmdir()  # the last worker out removes the (then empty) scratch folder
        except OSError:
            pass
    return summary


def _save_final(cfg: TrainConfig, out: Path, model: Any, source: data.StoreMaps, split: data.Split,
                digest: str, n_workers: int, label_attrs: dict, scale_on: bool) -> None:
    """Save a plain (undistributed) copy of the model and the metadata predict/evaluate need."""
    from gcs_hpc import __version__, store
    from gcs_hpc.config import spec_to_dict
    from gcs_hpc.learn import ood
    from gcs_hpc.learn.predict import TrainedModel, posterior_of_images

    plain = nets.build_net(cfg.arch, cfg.channels, source.npix, head=cfg.head, scale_input=scale_on)
    plain.set_weights(model.get_weights())
    plain.save(out / MODEL_FILE)
    meta = {
        "arch": cfg.arch, "channels": cfg.channels, "channel_names": list(source.channel_names),
        "npix": source.npix, "map_spec": spec_to_dict(views.map_spec_of(source)),
        "observation": views.observation_of(source),
        "label_attrs": label_attrs, "head": cfg.head, "target": cfg.target,
        "enclosed_radius": cfg.enclosed_radius, "scale_input": scale_on,
        "input_scale_kms": data.INPUT_SCALE_KMS,
        "train_label_mean": float(np.mean(source.labels[split.train[:, 0]])),
        "store": str(Path(cfg.store).resolve()),
        "store_config_hash": store_config_hash(source.attrs), "split": split.describe(),
        "suites": None if cfg.suites is None else list(cfg.suites),
        "train_config": asdict(cfg), "n_workers": n_workers, "weights_sha256": digest,
        "parameters": int(plain.count_params()), "gcs_hpc_version": __version__,
    }
    held_out = posterior_of_images(TrainedModel(plain, meta, views.map_spec_of(source), cfg.channels,
                                                str(out)), source, split.test, cfg.cache_mb)
    meta["ood"] = {"ranges": ood.training_ranges(source, split.train, cfg.cache_mb),
                   "thresholds": ood.held_out_thresholds(held_out)}
    (out / METADATA_FILE).write_text(json.dumps(meta, indent=1, default=str))


def store_label_attrs(attrs: dict) -> dict:
    """The label normalisation attributes of a store (``label_*``: the 0..10 scale's log-mass bounds)."""
    from gcs_hpc import store

    keep = {k: v for k, v in attrs.items() if k.startswith("label_")}
    store.label_to_mass(5.0, keep)  # raises StoreError naming the keys when they are missing
    return keep


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser."""
    p = argparse.ArgumentParser(prog="python -m gcs_hpc.learn.train", description=__doc__.split("\n")[0])
    p.add_argument("--store", required=True, help="zarr store made by the campaign")
    p.add_argument("--arch", required=True, choices=sorted(nets.ARCHITECTURES),
                   help="network: conv2 or conv4 (the paper's section 2.2)")
    p.add_argument("--channels", required=True, type=int, choices=nets.CHANNEL_CHOICES,
                   help="input maps: 1 (sigma) or 2 (sigma and V)")
    p.add_argument("--epochs", required=True, type=int, help="passes over the training images")
    p.add_argument("--out", required=True, help="output folder (checkpoints, model, metadata, logs)")
    p.add_argument("--split", default="model", choices=data.SPLITS,
                   help="what the test set holds out: whole models, single images or a suite")
    p.add_argument("--suites", default=None,
                   help="comma-separated campaign suites the model/image splits train and test on "
                        "(e.g. disk,merger; default: every suite)")
    p.add_argument("--test-fraction", type=float, default=0.2, help="fraction held out for the test set")
    p.add_argument("--noise-kms", type=float, default=0.0, help="training noise per pixel, km/s")
    p.add_argument("--batch-size", type=int, default=32, help="images per batch and worker")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, initial weights and shuffling")
    p.add_argument("--learning-rate", type=float, default=1.0e-3, help="Adam learning rate")
    p.add_argument("--cache-mb", type=float, default=256.0, help="memory for cached store chunks, MB")
    p.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0: default)")
    p.add_argument("--head", default="point", choices=sorted(nets.HEADS),
                   help="point: the paper's net; gaussian: mean and log-variance (default %(default)s)")
    p.add_argument("--target", default="M_total", choices=targets.TARGETS,
                   help="M_total (the paper's) or M_enclosed inside --enclosed-radius")
    p.add_argument("--enclosed-radius", default=targets.DEFAULT_ENCLOSED_RADIUS,
                   help="radius name of the M_enclosed target (default %(default)s)")
    p.add_argument("--observation", default=None,
                   help="observation model: a YAML file or a shipped name (sluggs, ideal): fresh views from "
                        "the store's GC phase space each epoch (default: the stored maps)")
    p.add_argument("--scale-input", default="auto", choices=("auto", "on", "off"),
                   help="give the net log10 R_half/kpc (auto: on for fov_unit R_half stores)")
    add_umask_option(p, "checkpoints, model, metadata, logs")
    return with_help_defaults(p)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (2 for bad input, with the reason on stderr)."""
    args = build_parser().parse_args(argv)
    try:
        options = vars(args)
        umask_text = options.pop("umask")
        options["scale_input"] = {"auto": None, "on": True, "off": False}[options["scale_input"]]
        cfg = TrainConfig(**options)
        with umask(umask_text, "training"):
            summary = train(cfg, log=lambda m: print(m, flush=True))
    except GcsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: summary[k] for k in ("worker", "n_workers", "weights_sha256", "resumed_from")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
