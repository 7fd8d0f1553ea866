#!/bin/bash
# The FSDP recipe launched on 2 nodes with an accelerate config file; the trackers' project
# comes from the environment.
export WANDB_PROJECT=llama-70b-sft
trl sft --config fsdp-llama-3.1-70b.yaml \
  --accelerate_config accelerate/fsdp_2x8.yaml \
  --report_to wandb \
  --run_name llama-70b-no-robots-2x8
