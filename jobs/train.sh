#!/usr/bin/env bash
# Train a gcs_hpc CNN on N nodes with MultiWorkerMirroredStrategy (one worker task per node). Arguments
# after the script name go to the train CLI (python -m gcs_hpc.learn.train):
#
#   sbatch -N 4 jobs/train.sh --store /scratch/run1.zarr --arch conv4 --channels 2 --epochs 1000 \
#          --out /scratch/train/conv4_2ch
#   sbatch -N 1 --ntasks-per-node=2 jobs/train.sh ...      # two workers on one node (ports base, base+1)
#
# srun starts one task per node; every task builds its TF_CONFIG from the step environment
# (SLURM_PROCID, SLURM_NTASKS, SLURM_STEP_NODELIST via scontrol show hostnames; see
# gcs_hpc/learn/cluster.py: SlurmClusterResolver is not used, it fails on CPU-only nodes). Worker ports
# are derived from the job id; set GCS_HPC_TRAIN_PORT to fix the base port. Each worker reads only its
# shard of the training models from the store, which must be on a filesystem all nodes see, as must --out
# (the chief writes checkpoints, model and metadata there).
#
# Requeue-safe: a requeued or resubmitted job with the same --out resumes from the last epoch checkpoint.
# TensorFlow threads per worker default to the task's cores (SLURM_CPUS_PER_TASK); --threads overrides.
# Environment: runs the Python it was submitted from (activated venv/conda or PATH's python3);
# GCS_PYTHON chooses another. Log: $GCS_LOG_DIR (default logs/ in the submission folder)/train-<jobid>.log.
#
#SBATCH --job-name=gcs-train
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=8
#SBATCH --mem=16G
#SBATCH --time=1-00:00:00
#SBATCH --requeue
#SBATCH --open-mode=append
set -euo pipefail

cd "${SLURM_SUBMIT_DIR:-$PWD}"
LOG_DIR="${GCS_LOG_DIR:-$PWD/logs}"
mkdir -p "$LOG_DIR"
LOG="$LOG_DIR/train-${SLURM_JOB_ID:-$$}.log"
echo "gcs-train: logging to $LOG"
exec >>"$LOG" 2>&1

if [[ -n "${GCS_PYTHON:-}" ]]; then
  PY="$GCS_PYTHON"
elif [[ -n "${VIRTUAL_ENV:-}" && -x "${VIRTUAL_ENV}/bin/python" ]]; then
  PY="$VIRTUAL_ENV/bin/python"
elif [[ -n "${CONDA_PREFIX:-}" && -x "${CONDA_PREFIX}/bin/python" ]]; then
  PY="$CONDA_PREFIX/bin/python"
else
  PY="$(command -v python3 || command -v python)"
fi

# The cluster comes from the srun step, never from a TF_CONFIG left in the submitting shell.
unset TF_CONFIG
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
THREADS="${SLURM_CPUS_PER_TASK:-0}"

echo "=== $(date -Is) job ${SLURM_JOB_ID:-none} (restart ${SLURM_RESTART_COUNT:-0}): ${SLURM_NTASKS:-1} workers" \
     "on ${SLURM_JOB_NODELIST:-$(hostname -s)}; python $PY"
echo "=== python -m gcs_hpc.learn.train --threads $THREADS $*"
srun --kill-on-bad-exit=1 "$PY" -m gcs_hpc.learn.train --threads "$THREADS" "$@"
echo "=== $(date -Is) done"
