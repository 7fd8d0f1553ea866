#!/usr/bin/env bash
# LoRA SFT of Qwen2.5-0.5B on Capybara, as in TRL's README, on 4 GPUs with ZeRO-2.
ACCELERATE_LOG_LEVEL=info trl sft \
    --model_name_or_path Qwen/Qwen2.5-0.5B \
    --dataset_name trl-lib/Capybara \
    --learning_rate 2.0e-4 \
    --num_train_epochs 1 \
    --packing \
    --per_device_train_batch_size 2 \
    --gradient_accumulation_steps 8 \
    --gradient-checkpointing \
    --eos_token '<|im_end|>' \
    --eval_strategy steps \
    --eval_steps 100 \
    --use_peft \
    --lora_r 32 \
    --lora_alpha 16 \
    --lora_target_modules q_proj k_proj v_proj o_proj \
    --output_dir Qwen2.5-0.5B-SFT-LoRA \
    --report_to wandb \
    --num_processes 4 \
    --accelerate_config zero2
