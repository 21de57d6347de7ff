namespace StepDpo.Data;

/// <summary>One benchmark or training problem. <see cref="Answer"/> is the gold FINAL answer
/// (for MATH: the last \boxed{} of the reference solution; for GSM8K: the number after "####").</summary>
public sealed record Problem(
    string Id,
    string Question,
    string Answer,
    string? Solution = null,
    string? Level = null,
    string? Subject = null,
    string Source = "");

/// <summary>What to load. <paramref name="Source"/>: gsm8k | math | math500 | qwen25:&lt;set&gt; |
/// jsonl | stepdpo-pairs. An empty <paramref name="Path"/> resolves a named benchmark to the copy
/// under shared/data (see <see cref="SharedData"/>); "hf://owner/name@revision/path[#sha256]"
/// downloads from the Hugging Face hub into the local cache. <paramref name="Fields"/> maps our names
/// (id, question, answer, solution, level, subject) to the file's field names for "jsonl"; when
/// only "solution" is mapped, the answer is the solution's last \boxed{}.</summary>
public sealed record DataSpec(string Source, string Path, int? Limit = null, IReadOnlyDictionary<string, string>? Fields = null);
