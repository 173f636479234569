#!/usr/bin/env bash
# Multi-node SFT/DPO with SLURM: one `accelerate launch` per node, each starting one process per GPU.
#
#   sbatch --nodes=2 scripts/slurm_multinode.sh train/sft.py recipes/llama31.yaml accelerate_configs/fsdp.yaml
#   sbatch --nodes=4 scripts/slurm_multinode.sh train/dpo.py recipes/llama31_dpo.yaml accelerate_configs/zero3.yaml \
#       --training.learning_rate 5e-7
#
# Any arguments after the accelerate config are recipe overrides (--key value). The first node is the
# rendezvous host; every node gets its own --machine_rank from SLURM_NODEID. A killed job resubmitted with the
# same command resumes from the newest complete checkpoint in training.output_dir (auto-resume).
#SBATCH --job-name=tooljudge
#SBATCH --ntasks-per-node=1            # one launcher per node; accelerate spawns the per-GPU processes
#SBATCH --gres=gpu:8
#SBATCH --cpus-per-task=96
#SBATCH --exclusive
#SBATCH --output=logs/%x-%j.out
#SBATCH --requeue                      # preempted jobs come back and auto-resume
set -euo pipefail

SCRIPT=${1:?usage: sbatch scripts/slurm_multinode.sh train/sft.py RECIPE.yaml ACCELERATE_CONFIG.yaml [--key value ...]}
RECIPE=${2:?recipe path}
ACCEL_CONFIG=${3:?accelerate config path}
shift 3

GPUS_PER_NODE=${GPUS_PER_NODE:-$(nvidia-smi -L | wc -l)}
NUM_NODES=${SLURM_NNODES:-1}
MAIN_HOST=$(scontrol show hostnames "${SLURM_JOB_NODELIST}" | head -n 1)
MAIN_PORT=${MAIN_PORT:-29500}
export NCCL_ASYNC_ERROR_HANDLING=1
export TOKENIZERS_PARALLELISM=false
mkdir -p logs

# srun starts the launcher once per node; each computes its rank from SLURM_NODEID inside the job step.
srun --kill-on-bad-exit=1 bash -c "
  accelerate launch \
    --config_file '${ACCEL_CONFIG}' \
    --num_machines ${NUM_NODES} \
    --num_processes $((NUM_NODES * GPUS_PER_NODE)) \
    --machine_rank \${SLURM_NODEID} \
    --main_process_ip ${MAIN_HOST} \
    --main_process_port ${MAIN_PORT} \
    --rdzv_backend c10d \
    '${SCRIPT}' '${RECIPE}' $*
"
