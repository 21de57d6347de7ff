using Spectre.Console.Cli;

namespace StepDpo.Cli.Commands;

/// <summary>The one list of commands. Add yours here (one line) next to its group.</summary>
public static class Registry
{
    public static void Register(IConfigurator config)
    {
        // Foundation: doctor, manifest, plan, run and the stage commands.
        config.AddCommand<DoctorCommand>("doctor").WithDescription("versions, CUDA devices (names, memory, bf16), threads");
        config.AddCommand<InitCommand>("init").WithDescription("start a workspace: copy a shipped experiment's manifest into DIR/experiments/ to edit");
        config.AddBranch("manifest", m =>
        {
            m.SetDescription("check or print experiment manifests");
            m.AddCommand<ManifestValidateCommand>("validate").WithDescription("check a manifest; problems are printed with file:line:column");
            m.AddCommand<ManifestShowCommand>("show").WithDescription("print the fully resolved manifest (extends, --set and defaults applied)");
        });
        config.AddCommand<PlanCommand>("plan").WithDescription("show every stage as cached / stale / missing with the reason");
        config.AddCommand<RunCommand>("run").WithDescription("run the stage graph (cached stages are skipped)");
        // One command per stage of the catalog, `stepdpo STAGE` = run --until STAGE (`eval` stays evaluate's short name).
        foreach (var stage in StepDpo.Stages.StageCatalog.Names)
        {
            var command = config.AddCommand<RunCommand>(stage).WithData(stage).WithDescription($"run the stage graph up to the {stage} stage");
            if (stage == "evaluate") command.WithAlias("eval");
        }
        config.AddCommand<LocateCommand>("locate").WithDescription("score a first-error locator: verify against the exact checker, or Monte Carlo on labelled samples (--samples)");
        config.AddCommand<GcCommand>("gc").WithDescription("remove store artifacts that no manifest in experiments/ references (lists them first; --dry-run, --yes)");
        config.AddCommand<CheckCommand>("check").WithDescription("check the evaluation against the manifest's expect thresholds (exit 1 on a miss)");
        // Model: model init, tokenize, logprobs, generate.
        config.AddCommand<TokenizeCommand>("tokenize").WithDescription("Text to token ids: JSONL {\"text\"} in, {\"ids\"} out, no special tokens added.");
        config.AddBranch("model", model => model.AddCommand<Model.ModelInitCommand>("init").WithDescription("Write a randomly initialised qwen2/llama checkpoint (HF layout)"));
        config.AddCommand<Model.LogprobsCommand>("logprobs").WithDescription("Log-probabilities of completions given prompts (JSONL)");
        config.AddCommand<Model.GenerateCommand>("generate").WithDescription("Sample completions (KV cache, n per prompt, top-p/top-k, seeds)");
        config.AddCommand<ServeCommand>("serve").WithDescription("the local engine behind an OpenAI-compatible API (vLLM's flags: --served-model-name, --port, --api-key ...)");
        // Grading and data: grade, data show|stats.
        config.AddCommand<GradeCommand>("grade").WithDescription("extract and check answers: JSONL {prediction, answer} -> + {extracted, correct}");
        config.AddBranch("data", d => { d.SetDescription("inspect problem sources"); d.AddCommand<DataShowCommand>("show").WithDescription("print the first problems of a source"); d.AddCommand<DataStatsCommand>("stats").WithDescription("count problems, levels, subjects and answer kinds"); });
        config.AddCommand<SyntheticCommand>("synthetic").WithDescription("Write train/test JSONL of synthetic multi-step word problems.");
    }
}
