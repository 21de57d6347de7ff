using StepDpo.Core;

namespace StepDpo.Text;

/// <summary>The prompt templates of the Step-DPO reference implementation, character for character (wrong prompts
/// were the top cause of failed reproductions), plus `plain` for the synthetic experiment.
///
/// Every family has a training prompt P and a separator S (the reference trainer's concatenation):
///   alpaca:        P = "Below is an instruction ... ### Instruction:\n{problem}\n\n### Response:"   S = "\n"
///   deepseek-math: P = "User: {problem}\nPlease reason step by step, and put your final answer within \boxed{}.\n\nAssistant:"  S = " "
///   qwen2-boxed:   P = "&lt;|im_start|&gt;system\nYou are a helpful assistant.&lt;|im_end|&gt;\n&lt;|im_start|&gt;user\n{problem}\nPlease reason
///                       step by step, and put your final answer within \boxed{}.&lt;|im_end|&gt;\n&lt;|im_start|&gt;assistant\n"   S = ""
///   plain:         P = "{problem}\n"   S = ""   (no instruction wrapper: a small model trained from scratch sees only
///                  the problem, one newline, then the reasoning; nothing it would have to learn to ignore)
/// and then:
///   Render (evaluation)     = P, except alpaca: P + " Let's think step by step." (the reference's alpaca evaluation prompt)
///   RenderStep (`-step`)    = P + S + "Let's think step by step.\nStep 1: "   (sampling solutions step by step)
///   RenderWithPrefix (`-prefix`) = P + S + "Let's think step by step.\n" + prefix   (rectification: continue after steps 1..k-1)
///   TrainingCondition       = P + S + initial_reason_steps, or P alone when there are no steps.
/// The deepseek-math `-prefix` variant is not in the reference (it has -step only) and follows the same rule.</summary>
public static class PromptTemplates
{
    public const string StepByStep = "Let's think step by step.\n";

    sealed record Family(string Name, string Before, string After, string Separator, string EvaluationSuffix);

    const string BoxedInstruction = "\nPlease reason step by step, and put your final answer within \\boxed{}.";

    static readonly Family[] Families =
    [
        new("alpaca",
            "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\n",
            "\n\n### Response:", "\n", " Let's think step by step."),
        new("deepseek-math", "User: ", BoxedInstruction + "\n\nAssistant:", " ", ""),
        new("qwen2-boxed",
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n",
            BoxedInstruction + "<|im_end|>\n<|im_start|>assistant\n", "", ""),
        new("plain", "", "\n", "", ""),
    ];

    /// <summary>Every accepted template name: each family, its `-step` and its `-prefix` variant.</summary>
    public static IReadOnlyList<string> Names { get; } =
        Families.SelectMany(f => new[] { f.Name, f.Name + "-step", f.Name + "-prefix" }).ToArray();

    public static bool IsKnown(string template) => Names.Contains(template);

    /// <summary>The prompt for `template`: the evaluation prompt for a family name, the step prompt for a `-step` name.
    /// A `-prefix` name needs its prefix: use <see cref="RenderWithPrefix"/>.</summary>
    public static string Render(string template, string problem)
    {
        var family = Resolve(template, out string variant);
        return variant switch
        {
            "" => Prompt(family, problem) + family.EvaluationSuffix,
            "-step" => RenderStep(template, problem),
            _ => throw new ArgumentException($"prompt template '{template}' ends with a prefix: use RenderWithPrefix", nameof(template)),
        };
    }

    /// <summary>The `-step` variant: the assistant turn starts "Let's think step by step.\nStep 1: ".</summary>
    public static string RenderStep(string template, string problem)
    {
        var family = Resolve(template, out _);
        return Prompt(family, problem) + family.Separator + StepByStep + "Step 1: ";
    }

    /// <summary>The `-prefix` variant: the assistant turn is "Let's think step by step.\n" + <paramref name="prefix"/>,
    /// where prefix holds the kept steps and the next label ("Step 1: ...\nStep 2: ...\nStep 3:"). A prefix that
    /// already starts with "Let's think step by step.\n" (as initial_reason_steps does) is not given it twice.</summary>
    public static string RenderWithPrefix(string template, string problem, string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var family = Resolve(template, out _);
        string body = prefix.StartsWith(StepByStep, StringComparison.Ordinal) ? prefix : StepByStep + prefix;
        return Prompt(family, problem) + family.Separator + body;
    }

    /// <summary>The text the trainer conditions chosen/rejected on: the training prompt, then (when non-empty)
    /// the separator and initial_reason_steps, exactly as the reference trainer concatenates them.</summary>
    public static string TrainingCondition(string template, string prompt, string initialReasonSteps)
    {
        ArgumentNullException.ThrowIfNull(initialReasonSteps);
        var family = Resolve(template, out _);
        return initialReasonSteps.Length == 0 ? Prompt(family, prompt) : Prompt(family, prompt) + family.Separator + initialReasonSteps;
    }

    /// <summary>The training prompt P of the template's family (no step text).</summary>
    public static string RenderTrainingPrompt(string template, string problem) => Prompt(Resolve(template, out _), problem);

    static string Prompt(Family family, string problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        return family.Before + problem + family.After;
    }

    static Family Resolve(string template, out string variant)
    {
        ArgumentNullException.ThrowIfNull(template);
        foreach (var family in Families)
            foreach (var suffix in new[] { "", "-step", "-prefix" })
                if (template == family.Name + suffix) { variant = suffix; return family; }
        throw new StepDpoException($"unknown prompt template '{template}' (valid: {string.Join(", ", Names)})");
    }
}
