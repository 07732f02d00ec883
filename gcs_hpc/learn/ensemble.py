"""Deep ensembles: K nets trained from seeds derived from one, combined as a Gaussian mixture.

Lakshminarayanan, Pritzel & Blundell (2017): K heteroscedastic nets from different initialisations,
dropout masks and shuffles; the prediction is the equal-weight mixture of their Gaussians, whose spread
holds both the noise the nets learned (their variances) and what they do not know (their disagreement).

Member ``k`` is an ordinary training run (:func:`gcs_hpc.learn.train.train`) in ``<out>/member-<k>`` with
``seed = member_seeds(seed, K)[k]`` and ``split_seed = seed``: every member holds out the same galaxies.
The seeds come from ``numpy.random.SeedSequence(seed).spawn(K)``, so one seed fixes the whole ensemble
and its weights (bit-identical on a rerun). Members already trained are kept (a killed ensemble resumes).
``<out>/ensemble.json`` records the members, their seeds and the out-of-distribution reference: the
training amplitude ranges and the 99% quantile of the members' disagreement on the held-out images.

This is the recommended way to train for users (``--head gaussian``, K = 5, the CLI's defaults); a
single point net (``python -m gcs_hpc.learn.train``, head ``point``) remains the paper's.

CLI (the options of :mod:`gcs_hpc.learn.train`, plus ``--members``)::

    python -m gcs_hpc.learn.ensemble --store S --arch conv2 --channels 2 --epochs E --out DIR [--members 5]
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from gcs_hpc.config import check_range
from gcs_hpc.errors import ConfigError, GcsError, StoreError
from gcs_hpc.learn.posterior import MassPosterior

ENSEMBLE_FILE = "ensemble.json"
#: Members of an ensemble unless told otherwise.
DEFAULT_MEMBERS = 5


def member_seeds(seed: int, members: int) -> list[int]:
    """The ``members`` training seeds derived from ``seed`` (distinct, reproducible, < 2**31)."""
    check_range("ensemble", "seed", seed, 0, 2**31 - 1)
    check_range("ensemble", "members", members, 1, 1000)
    return [int(s.generate_state(1)[0] % (2**31 - 1)) for s in np.random.SeedSequence(seed).spawn(members)]


def member_dir(out: str | Path, k: int) -> Path:
    """Folder of member ``k``."""
    return Path(out) / f"member-{k:02d}"


@dataclass(frozen=True)
class Ensemble:
    """Trained members and the ensemble's record; predicts like :class:`gcs_hpc.learn.predict.TrainedModel`.

    Attributes
    ----------
    members
        The member nets (same maps, channels, target, label scale, held-out galaxies).
    record
        ``ensemble.json``.
    """

    members: tuple[Any, ...] = field(repr=False)
    record: dict = field(repr=False)
    path: str = ""

    def __post_init__(self) -> None:
        if not self.members:
            raise ConfigError("ensemble: needs at least one member")
        first = self.members[0]
        for m in self.members[1:]:
            for key in ("label_attrs", "channels", "target", "scale_input", "split", "map_spec"):
                if m.metadata.get(key) != first.metadata.get(key):
                    raise StoreError(f"ensemble {self.path!r}: member {m.path!r} differs from {first.path!r} "
                                     f"in {key}; its members must share it")

    @property
    def metadata(self) -> dict:
        """Member 0's metadata with the ensemble's out-of-distribution reference and record."""
        meta = dict(self.members[0].metadata)
        meta["ood"] = self.record.get("ood", meta.get("ood"))
        meta["ensemble"] = {k: v for k, v in self.record.items() if k != "ood"}
        return meta

    def __getattr__(self, name: str) -> Any:
        if name in ("map_spec", "channels", "suites", "head", "scale_input", "target"):
            return getattr(self.members[0], name)
        raise AttributeError(name)

    def predict_posterior(self, maps: np.ndarray, scale_kpc: Any = None,
                          log_scale: Any = None) -> MassPosterior:
        """The equal-weight mixture of the members' posteriors."""
        return MassPosterior.combine([m.predict_posterior(maps, scale_kpc, log_scale) for m in self.members])

    def predict_label(self, maps: np.ndarray, scale_kpc: Any = None) -> np.ndarray:
        """The mixture median on the 0..10 label scale (for the paper's metrics)."""
        from gcs_hpc import store

        med = 10.0 ** self.predict_posterior(maps, scale_kpc).median()
        return np.asarray(store.mass_to_label(med, self.metadata["label_attrs"]), dtype=np.float64)

    def predict_mass(self, maps: np.ndarray, scale_kpc: Any = None) -> np.ndarray:
        """Mixture medians in Msun (unclipped; :meth:`predict_posterior` clips and flags)."""
        return 10.0 ** self.predict_posterior(maps, scale_kpc).median()


def load_ensemble(path: str | Path) -> Ensemble:
    """Load the ensemble written by :func:`train_ensemble` in ``path``."""
    from gcs_hpc.learn.predict import load_trained

    path = Path(path)
    rec_path = path / ENSEMBLE_FILE
    if not rec_path.is_file():
        raise StoreError(f"{str(path)!r} is not an ensemble folder: no {ENSEMBLE_FILE} (written by "
                         "python -m gcs_hpc.learn.ensemble when every member is trained)")
    record = json.loads(rec_path.read_text())
    members = tuple(load_trained(path / name) for name in record["members"])
    return Ensemble(members, record, str(path))


def train_ensemble(cfg: Any, members: int = DEFAULT_MEMBERS, log: Any = print) -> dict:
    """Train (or finish) the ``members`` nets of an ensemble into ``cfg.out``; write ``ensemble.json``.

    Parameters
    ----------
    cfg
        A :class:`gcs_hpc.learn.train.TrainConfig`: its ``seed`` is the ensemble's (split and member
        seeds), its ``out`` the ensemble folder.
    members
        K, the number of nets.

    Returns
    -------
    dict
        The ensemble record (also in ``<out>/ensemble.json``).
    """
    from gcs_hpc.learn import data, ood, targets
    from gcs_hpc.learn.predict import METADATA_FILE, load_trained, posterior_of_images
    from gcs_hpc.learn.train import train

    seeds = member_seeds(cfg.seed, members)
    out = Path(cfg.out)
    digests = []
    for k, seed in enumerate(seeds):
        member_cfg = replace(cfg, seed=seed, split_seed=cfg.seed, out=str(member_dir(out, k)))
        if (member_dir(out, k) / METADATA_FILE).is_file():
            log(f"ensemble: member {k} already trained in {member_dir(out, k)}")
        else:
            log(f"ensemble: training member {k + 1}/{members} (seed {seed})")
            train(member_cfg, log=log)
        digests.append(json.loads((member_dir(out, k) / METADATA_FILE).read_text())["weights_sha256"])
    names = [member_dir(out, k).name for k in range(members)]
    ens = Ensemble(tuple(load_trained(out / n) for n in names), {"members": names}, str(out))
    meta = ens.members[0].metadata
    source = data.StoreMaps(cfg.store, cfg.channels)
    targets.attach(source, meta.get("target", "M_total"), meta.get("enclosed_radius", "5_r_half"),
                   bool(meta.get("scale_input", False)))
    split = data.make_split(source.ds, meta["split"]["kind"], meta["split"]["test_fraction"],
                            meta["split"]["seed"], ens.suites)
    held_out = posterior_of_images(ens, source, split.test, cfg.cache_mb)
    record = {"members": names, "member_seeds": seeds, "seed": cfg.seed, "n_members": members,
              "head": cfg.head, "weights_sha256": digests, "train_config": asdict(cfg),
              "ood": {"ranges": meta.get("ood", {}).get("ranges", {}),
                      "thresholds": ood.held_out_thresholds(held_out)}}
    (out / ENSEMBLE_FILE).write_text(json.dumps(record, indent=1, default=str))
    return record


def build_parser() -> Any:
    """The CLI's argument parser: the train CLI's options, ``--members``, head ``gaussian`` by default."""
    from gcs_hpc.learn import train

    p = train.build_parser()
    p.prog = "python -m gcs_hpc.learn.ensemble"
    p.description = __doc__.split("\n")[0]
    p.add_argument("--members", type=int, default=DEFAULT_MEMBERS, help="nets K (default %(default)s)")
    p.set_defaults(head="gaussian")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (2 for bad input, with the reason on stderr)."""
    from gcs_hpc.fileperm import umask
    from gcs_hpc.learn.train import TrainConfig

    args = build_parser().parse_args(argv)
    try:
        options = vars(args)
        members = options.pop("members")
        umask_text = options.pop("umask")
        options["scale_input"] = {"auto": None, "on": True, "off": False}[options["scale_input"]]
        cfg = TrainConfig(**options)
        with umask(umask_text, "ensemble training"):
            record = train_ensemble(cfg, members, log=lambda m: print(m, flush=True))
    except GcsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: record[k] for k in ("n_members", "member_seeds", "weights_sha256")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
