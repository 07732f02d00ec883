#!/usr/bin/env bash
# Run a gcs_hpc campaign as a SLURM batch job. Arguments after the script name go to the campaign CLI:
#
#   sbatch jobs/campaign.sh --n-models 2000 --cluster slurm-gpu --store /scratch/run1.zarr
#   sbatch jobs/campaign.sh --n-models 64 --config configs/models/tiny.yaml      # workers inside this job
#
# Two ways to use the cluster (both run the same CLI, so the store and resume behave the same):
#
# 1. Client submits workers (supported, `--cluster slurm` / `slurm-gpu` / a YAML of kind slurm): this job
#    holds only the dask scheduler and the campaign's client (1-2 cores); dask-jobqueue's SLURMCluster
#    submits worker jobs with sbatch, scales them (adaptively, replacing workers that reach their
#    --lifetime) and cancels them when the campaign ends. Give this job a walltime at least as long as
#    the campaign; worker jobs can be short. The compute nodes must be allowed to reach this node.
# 2. Everything inside one allocation (`--cluster local`, the default): the job's own cores run the
#    workers (one single-threaded process per allocated core); ask for the cores here
#    (sbatch -c 32 jobs/campaign.sh ...). No job submits jobs, which suits sites that forbid it.
#    For a multi-node allocation, dask-jobqueue's SLURMRunner is the alternative (not wired into the CLI):
#    `srun -n $((N+2)) python -c "from dask_jobqueue.slurm import SLURMRunner; ..."` makes rank 0 the
#    scheduler, rank 1 the client and the other ranks workers, sharing a scheduler file on the shared
#    filesystem; run gcs_hpc.campaign.farm.farm_models with a Client(runner) on rank 1.
#
# Environment: it runs the Python it was submitted from (sbatch exports the submitting shell's
# environment: an activated venv or conda env, or PATH's python3); set GCS_PYTHON to choose another.
# Logs go to $GCS_LOG_DIR (default: logs/ in the submission folder): logs/campaign-<jobid>.log, and the
# worker jobs' logs under logs/workers/. Safe to requeue (scontrol requeue, preemption, node failure):
# the job reruns the same command, which resumes the store and runs only the models not yet done; a model
# cut off mid-run resumes from its N-body checkpoint (<store>.checkpoints/, every checkpoint_every_s of
# the cluster file). SLURM does not requeue a job that hit its --time: resubmit the same command (or
# use --requeue with a preemptible partition). Files are created owner-only (umask 077; GCS_UMASK).
#
#SBATCH --job-name=gcs-campaign
#SBATCH --cpus-per-task=2
#SBATCH --mem=8G
#SBATCH --time=2-00:00:00
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --signal=B:TERM@120
set -euo pipefail
# Logs, store, checkpoints and credentials get the user's permissions only (GCS_UMASK=027: group may read).
umask "${GCS_UMASK:-077}"

cd "${SLURM_SUBMIT_DIR:-$PWD}"
LOG_DIR="${GCS_LOG_DIR:-$PWD/logs}"
mkdir -p "$LOG_DIR/workers"
LOG="$LOG_DIR/campaign-${SLURM_JOB_ID:-$$}.log"
echo "gcs-campaign: logging to $LOG"
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

echo "=== $(date -Is) job ${SLURM_JOB_ID:-none} (restart ${SLURM_RESTART_COUNT:-0}) on $(hostname -s)," \
     "${SLURM_CPUS_ON_NODE:-?} cores; python $PY"
echo "=== python -m gcs_hpc.campaign $*"
# Unless given, worker job logs go next to this log; the CLI keeps this script's umask.
args=("$@")
if [[ " $* " != *" --log-dir"* ]]; then
  args+=(--log-dir "$LOG_DIR")
fi
if [[ " $* " != *" --umask"* ]]; then
  args+=(--umask "$(umask)")
fi
# exec: the campaign gets SLURM's SIGTERM itself (walltime, scancel, requeue) and closes its worker jobs.
exec "$PY" -m gcs_hpc.campaign "${args[@]}"
