"""Training for real: two workers on localhost train one net together; a killed run resumes and ends with
weights bit-identical to an uninterrupted run."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import numpy as np

from gcs_hpc.learn import data

#: Seconds a training subprocess may take in these tests (TensorFlow start-up included).
SUBPROCESS_TIMEOUT_S = 240


def _history(out: Path, worker: int) -> list[dict]:
    return [json.loads(line) for line in (out / "logs" / f"worker-{worker}.jsonl").read_text().splitlines()]


def test_two_workers_train_one_model_together(learn_store: Path, tmp_path: Path, free_ports,
                                              start_train) -> None:
    out = tmp_path / "run"
    ports = free_ports(2)
    workers = [f"localhost:{p}" for p in ports]
    args = ["--store", str(learn_store), "--arch", "conv2", "--channels", "2", "--epochs", "4",
            "--out", str(out), "--batch-size", "16", "--seed", "1"]
    procs = [start_train(args, TF_CONFIG=json.dumps({"cluster": {"worker": workers},
                                                     "task": {"type": "worker", "index": i}}))
             for i in range(2)]
    logs = [p.communicate(timeout=SUBPROCESS_TIMEOUT_S)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(logs)
    summaries = [json.loads((out / "logs" / f"worker-{i}.json").read_text()) for i in range(2)]
    # both hold bit-identical weights, equal to the saved model's
    assert summaries[0]["weights_sha256"] == summaries[1]["weights_sha256"]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["weights_sha256"] == summaries[0]["weights_sha256"] and meta["n_workers"] == 2
    # each read only its own shard; the shards split the training models between them
    split = data.make_split(data.open_store(learn_store), "model", seed=1)
    read = [set(s["models_read"]) for s in summaries]
    assert read[0] == set(summaries[0]["shard_models"]) and read[1] == set(summaries[1]["shard_models"])
    assert not read[0] & read[1] and read[0] | read[1] == set(split.models("train").tolist())
    # the (all-reduced, hence equal) loss falls
    losses = [[r["loss"] for r in _history(out, i)] for i in range(2)]
    assert losses[0] == losses[1]
    assert losses[0][-1] < 0.5 * losses[0][0]


def test_killed_training_resumes_from_its_checkpoint(learn_store: Path, tmp_path: Path, start_train,
                                                   capsys) -> None:
    out = tmp_path / "run"
    args = ["--store", str(learn_store), "--arch", "conv2", "--channels", "1", "--epochs", "6",
            "--out", str(out), "--batch-size", "16"]
    proc = start_train(args + ["--epochs", "400"])  # far more than it will run before the kill
    state = out / "checkpoints" / "checkpoint"
    history = out / "logs" / "worker-0.jsonl"
    deadline = time.monotonic() + SUBPROCESS_TIMEOUT_S

    def epoch_logged() -> bool:
        # The epoch's history line is written just after its checkpoint: wait for both.
        return state.exists() and history.exists() and history.read_text().endswith("\n")

    while not epoch_logged() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "training ended before it could be killed"
    first = _history(out, 0)
    assert len(first) >= 1
    # resuming with another config is refused, naming the option, and writes nothing
    from gcs_hpc.learn import train

    before_bad = sorted(p.name for p in out.rglob("*"))
    assert train.main(args[:-2] + ["--out", str(out), "--batch-size", "8"]) == 2
    assert "batch_size" in capsys.readouterr().err
    assert sorted(p.name for p in out.rglob("*")) == before_bad
    # same options (fewer epochs than the killed run asked for) resume from the last checkpoint
    resumed = start_train(args[:7] + ["6"] + args[8:])
    text = resumed.communicate(timeout=SUBPROCESS_TIMEOUT_S)[0]
    assert resumed.returncode == 0, text
    history = _history(out, 0)
    k = json.loads((out / "logs" / "worker-0.json").read_text())["resumed_from"]
    assert k >= 1 and "resumed from" in text
    after = [r for r in history if r["resumed_from"] == k]
    assert [r["epoch"] for r in after] == list(range(k + 1, 7))  # the epoch counter continues
    assert history[-1]["epoch"] == 6 and (out / "model.keras").is_file()
    before = [r["loss"] for r in history if r["resumed_from"] == 0 and r["epoch"] <= k]
    assert np.mean([r["loss"] for r in after]) < before[0]  # not a restart from random weights
    # and exactly where an uninterrupted run ends (same threads): shuffle, noise and dropout of each epoch
    # come from (seed, epoch), weights and optimizer state from the checkpoint
    straight_out = tmp_path / "straight"
    straight = start_train(args[:9] + [str(straight_out)] + args[10:])
    text = straight.communicate(timeout=SUBPROCESS_TIMEOUT_S)[0]
    assert straight.returncode == 0, text
    digests = [json.loads((o / "metadata.json").read_text())["weights_sha256"] for o in (out, straight_out)]
    assert digests[0] == digests[1]
    straight_losses = [r["loss"] for r in _history(straight_out, 0)]
    assert [r["loss"] for r in after] == straight_losses[k:]


def test_same_seed_and_config_give_identical_weights(learn_store: Path, tmp_path: Path) -> None:
    from gcs_hpc.learn import train

    digests = []
    for name in ("a", "b"):
        cfg = train.TrainConfig(store=str(learn_store), arch="conv2", channels=2, epochs=2, batch_size=16,
                                noise_kms=5.0, out=str(tmp_path / name), seed=7)
        digests.append(train.train(cfg, log=lambda _m: None)["weights_sha256"])
    assert digests[0] == digests[1]
