namespace StepDpo.Torch.Training.Trl;

/// <summary>
/// One TRL version the export speaks: the training script it ships, the config file that script reads, and the
/// package versions written to requirements.txt. The pins are what the scripts were written against (read from the
/// sources of those tags); no TRL job was run here.
/// </summary>
public sealed record TrlDialect(string Version, string Script, string ConfigFile, string ScriptArguments, IReadOnlyList<string> Requirements)
{
    /// <summary>The paper's pin: TRL 0.8.5 with the stack of the reference's alignment-handbook commit (606d2e9).</summary>
    public static readonly TrlDialect Paper = new("0.8.5", "stepdpo_trl_085.py", "stepdpo_config.yaml", "stepdpo_config.yaml",
    [
        "trl==0.8.5", "transformers==4.39.3", "accelerate==0.29.2", "deepspeed==0.12.2", "torch==2.1.2",
        "datasets==2.18.0", "peft==0.10.0", "numpy==1.26.4", "safetensors==0.4.2", "pyyaml==6.0.1",
    ]);

    /// <summary>Current TRL: DPOConfig + ModelConfig + ScriptArguments through TrlParser (`trl dpo` takes the same
    /// config); `loss_type` is a list with `loss_weights`, `dtype` replaces `torch_dtype`, `max_prompt_length` and
    /// `rpo_alpha` are gone.</summary>
    public static readonly TrlDialect Current = new("1.9.0", "stepdpo_trl.py", "dpo_config.yaml", "--config dpo_config.yaml",
    [
        "trl==1.9.0", "transformers==5.0.0", "accelerate==1.10.1", "deepspeed==0.17.5", "torch==2.8.0",
        "datasets==4.7.0", "peft==0.17.1", "safetensors==0.6.2", "pyyaml==6.0.2",
    ]);

    public static IReadOnlyList<TrlDialect> All { get; } = [Paper, Current];

    public static TrlDialect Of(string version) => All.FirstOrDefault(d => d.Version == version)
        ?? throw new Core.StepDpoException($"train.trl.version '{version}': known versions are {string.Join(", ", All.Select(d => d.Version))}");

    /// <summary>The scripts shipped with every export: the dialect's trainer and the tokenisation both share.</summary>
    public IReadOnlyList<string> ShippedScripts => [Script, "stepdpo_rows.py"];

    /// <summary>The text of a shipped Python script (embedded in this assembly).</summary>
    public static string ScriptText(string name)
    {
        using var stream = typeof(TrlDialect).Assembly.GetManifestResourceStream("StepDpo.Trl." + name)
            ?? throw new InvalidOperationException($"missing embedded script {name}");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
