"""Step-DPO on TRL 1.9 (written into the train stage's export by StepDpo; run by launch.sh):

    accelerate launch --config_file accelerate.yaml stepdpo_trl.py --config dpo_config.yaml

dpo_config.yaml holds TrlParser's keys (ScriptArguments, DPOConfig, ModelConfig, as `trl dpo` takes them) and the
keys of StepDpoArguments below. What differs from `trl dpo` (trl/scripts/dpo.py), all for Step-DPO semantics:
- the pairs are tokenised by stepdpo_rows.step_dpo_ids: no EOS after chosen/rejected (TRL 1.x appends one to every
  non-conversational completion), BOS only when the tokenizer has one, and the reference trainer's truncation
  (the prompt keeps its end; TRL 1.x only cuts the joined sequence);
- training resumes from the newest checkpoint in output_dir;
- trainer_state.json is written next to the model, so the train stage imports the log history as metrics.jsonl.
"""
import dataclasses
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stepdpo_rows import step_dpo_ids  # noqa: E402


@dataclasses.dataclass
class StepDpoArguments:
    train_file: str = dataclasses.field(default="data/train.jsonl", metadata={"help": "prompt/chosen/rejected JSONL"})
    max_prompt_length: int = dataclasses.field(
        default=512, metadata={"help": "prompt tokens kept (its end) when prompt + completion exceeds max_length"})


def main():
    from datasets import load_dataset
    from transformers.trainer_utils import get_last_checkpoint
    from trl import DPOConfig, DPOTrainer, ModelConfig, ScriptArguments, TrlParser, get_peft_config

    parser = TrlParser((ScriptArguments, DPOConfig, ModelConfig, StepDpoArguments))
    _, training_args, model_args, step_args = parser.parse_args_and_config()
    training_args.model_init_kwargs = dict(
        revision=model_args.model_revision, attn_implementation=model_args.attn_implementation, dtype=model_args.dtype)

    class StepDpoTrainer(DPOTrainer):
        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            tokenizer = getattr(processing_class, "tokenizer", processing_class)

            def encode(text):
                return tokenizer(text, add_special_tokens=False)["input_ids"]

            def row(example):
                prompt, chosen, rejected = step_dpo_ids(
                    encode, tokenizer.bos_token_id, example["prompt"], example["chosen"], example["rejected"],
                    args.max_length, step_args.max_prompt_length)
                return {"prompt_ids": prompt, "chosen_ids": chosen, "rejected_ids": rejected}

            return dataset.map(row, remove_columns=dataset.column_names, num_proc=args.dataset_num_proc,
                               desc=f"Step-DPO tokenisation of the {dataset_name} pairs")

    dataset = load_dataset("json", data_files={"train": step_args.train_file})["train"]
    trainer = StepDpoTrainer(model=model_args.model_name_or_path, args=training_args, train_dataset=dataset,
                             peft_config=get_peft_config(model_args))
    last = get_last_checkpoint(training_args.output_dir) if os.path.isdir(training_args.output_dir) else None
    trainer.train(resume_from_checkpoint=last)
    trainer.save_model(training_args.output_dir)
    trainer.save_state()


if __name__ == "__main__":
    main()
