"""Step-DPO on TRL 0.8.5, the paper's pin (written into the train stage's export by StepDpo; run by launch.sh):

    accelerate launch --config_file accelerate.yaml stepdpo_trl_085.py stepdpo_config.yaml

TRL 0.8.5 has no DPOConfig: beta, loss_type, max_length, ... are DPOTrainer arguments, which the Step-DPO reference
sets in its own train.py. This script does the same from one flat YAML file whose keys are the fields of
transformers' TrainingArguments, TRL 0.8.5's ModelConfig, DpoTrainerArguments (named as DPOTrainer's parameters)
and StepDpoArguments below; an unknown key stops it before any model is loaded.
Step-DPO semantics (as the reference's StepDPOTrainer): the pairs are tokenised by stepdpo_rows.step_dpo_ids (no EOS
after chosen/rejected, BOS only when the tokenizer has one; 0.8.5 appends EOS and always prepends BOS). RPO, which
0.8.5 lacks, is added here: rpo_alpha x the mean negative log-likelihood of the chosen tokens (TRL 1.x's `sft` loss).
"""
import dataclasses
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stepdpo_rows import step_dpo_ids  # noqa: E402


@dataclasses.dataclass
class DpoTrainerArguments:
    beta: float = dataclasses.field(default=0.1, metadata={"help": "DPOTrainer(beta=...)"})
    label_smoothing: float = dataclasses.field(default=0.0, metadata={"help": "DPOTrainer(label_smoothing=...)"})
    loss_type: str = dataclasses.field(default="sigmoid", metadata={"help": "DPOTrainer(loss_type=...)"})
    max_length: int = dataclasses.field(default=1024, metadata={"help": "DPOTrainer(max_length=...)"})
    max_prompt_length: int = dataclasses.field(default=512, metadata={"help": "DPOTrainer(max_prompt_length=...)"})
    truncation_mode: str = dataclasses.field(default="keep_end", metadata={"help": "DPOTrainer(truncation_mode=...)"})


@dataclasses.dataclass
class StepDpoArguments:
    train_file: str = dataclasses.field(default="data/train.jsonl", metadata={"help": "prompt/chosen/rejected JSONL"})
    rpo_alpha: float = dataclasses.field(default=0.0, metadata={"help": "weight of the chosen NLL term (0: off)"})


def main():
    import torch
    import torch.nn.functional as F
    from datasets import load_dataset
    from transformers import AutoTokenizer, HfArgumentParser, TrainingArguments
    from transformers.trainer_utils import get_last_checkpoint
    from trl import DPOTrainer, ModelConfig, get_peft_config

    parser = HfArgumentParser((TrainingArguments, ModelConfig, DpoTrainerArguments, StepDpoArguments))
    training_args, model_args, dpo_args, step_args = parser.parse_yaml_file(sys.argv[1], allow_extra_keys=False)

    class StepDpoTrainer(DPOTrainer):
        _chosen_nll = None

        def tokenize_row(self, feature, model=None):
            def encode(text):
                return self.tokenizer(text, add_special_tokens=False)["input_ids"]

            prompt, chosen, rejected = step_dpo_ids(
                encode, self.tokenizer.bos_token_id, feature["prompt"], feature["chosen"], feature["rejected"],
                self.max_length, self.max_prompt_length)
            row = {"prompt_input_ids": prompt, "prompt_attention_mask": [1] * len(prompt)}
            for name, ids in (("chosen", chosen), ("rejected", rejected)):
                row[f"{name}_input_ids"] = prompt + ids
                row[f"{name}_attention_mask"] = [1] * (len(prompt) + len(ids))
                row[f"{name}_labels"] = [self.label_pad_token_id] * len(prompt) + ids
            return row

        def concatenated_forward(self, model, batch):
            out = super().concatenated_forward(model, batch)
            # The first forward of a batch is the policy's (the reference's follows under no_grad).
            if step_args.rpo_alpha > 0 and self._chosen_nll is None:
                logits = out[2][:, :-1, :]
                labels = batch["chosen_labels"][:, 1:].to(logits.device)
                labels = F.pad(labels, (0, logits.shape[1] - labels.shape[1]), value=self.label_pad_token_id)
                keep = labels != self.label_pad_token_id
                self._chosen_nll = F.cross_entropy(logits[keep].float(), labels[keep])
            return out

        def get_batch_loss_metrics(self, model, batch, train_eval="train"):
            self._chosen_nll = None
            loss, metrics = super().get_batch_loss_metrics(model, batch, train_eval)
            if step_args.rpo_alpha > 0:
                loss = loss + step_args.rpo_alpha * self._chosen_nll
                metrics[("eval_" if train_eval == "eval" else "") + "nll_loss"] = self._chosen_nll.detach().cpu()
            return loss, metrics

    tokenizer = AutoTokenizer.from_pretrained(model_args.model_name_or_path, revision=model_args.model_revision)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = model_args.torch_dtype if model_args.torch_dtype in ("auto", None) else getattr(torch, model_args.torch_dtype)
    model_kwargs = dict(revision=model_args.model_revision, torch_dtype=dtype,
                        attn_implementation=model_args.attn_implementation,
                        use_cache=not training_args.gradient_checkpointing)
    peft_config = get_peft_config(model_args)
    dataset = load_dataset("json", data_files={"train": step_args.train_file})["train"]
    trainer = StepDpoTrainer(
        model_args.model_name_or_path, None if peft_config else model_args.model_name_or_path,
        model_init_kwargs=model_kwargs, ref_model_init_kwargs=None if peft_config else model_kwargs,
        args=training_args, train_dataset=dataset, tokenizer=tokenizer, peft_config=peft_config,
        **dataclasses.asdict(dpo_args))
    last = get_last_checkpoint(training_args.output_dir) if os.path.isdir(training_args.output_dir) else None
    trainer.train(resume_from_checkpoint=last)
    trainer.save_model(training_args.output_dir)
    trainer.save_state()


if __name__ == "__main__":
    main()
