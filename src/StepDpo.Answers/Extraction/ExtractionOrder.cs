namespace StepDpo.Answers;

/// <summary>One way of finding the final answer in a model response.</summary>
public enum ExtractionRule
{
    /// <summary>The last <c>\boxed{...}</c> or <c>\fbox{...}</c>, brace-matched (nested groups allowed).</summary>
    Boxed,
    /// <summary>Minerva: "Final Answer: The final answer is X. I hope it is correct."</summary>
    MinervaFinalAnswer,
    /// <summary>"final answer is $X$" (or up to the end of the sentence).</summary>
    FinalAnswerIs,
    /// <summary>"The answer is: X" / "The answer is X" (the Step-DPO and MetaMath convention).</summary>
    TheAnswerIs,
    /// <summary>GSM8K: "#### X".</summary>
    Gsm8kHashes,
    /// <summary>The last number in the text (integer, decimal, fraction a/b; thousands separators allowed).</summary>
    LastNumber,
}

/// <summary>The rules tried in order; the first that finds something wins.</summary>
public sealed record ExtractionOrder(IReadOnlyList<ExtractionRule> Rules)
{
    /// <summary>MATH-style responses: boxed first, then the explicit phrases, then the last number.</summary>
    public static readonly ExtractionOrder Default = new([
        ExtractionRule.Boxed, ExtractionRule.MinervaFinalAnswer, ExtractionRule.FinalAnswerIs,
        ExtractionRule.TheAnswerIs, ExtractionRule.Gsm8kHashes, ExtractionRule.LastNumber]);

    /// <summary>GSM8K: "####" is the format's own marker, so it outranks a stray box.</summary>
    public static readonly ExtractionOrder Gsm8k = new([
        ExtractionRule.Gsm8kHashes, ExtractionRule.Boxed, ExtractionRule.TheAnswerIs,
        ExtractionRule.FinalAnswerIs, ExtractionRule.LastNumber]);

    /// <summary>Minerva-prompted models state the answer in a fixed sentence.</summary>
    public static readonly ExtractionOrder Minerva = new([
        ExtractionRule.MinervaFinalAnswer, ExtractionRule.Boxed, ExtractionRule.FinalAnswerIs,
        ExtractionRule.TheAnswerIs, ExtractionRule.LastNumber]);

    /// <summary>Boxed only: no guessing from free text (for strict evaluations).</summary>
    public static readonly ExtractionOrder BoxedOnly = new([ExtractionRule.Boxed]);

    /// <summary>The order used for a named benchmark (gsm8k, svamp, asdiv, mawps: GSM8K order;
    /// minerva_math: Minerva order; anything else: <see cref="Default"/>).</summary>
    public static ExtractionOrder ForBenchmark(string? name)
    {
        var n = (name ?? "").ToLowerInvariant();
        if (n.StartsWith("qwen25:")) n = n[7..];
        return n switch
        {
            "gsm8k" or "svamp" or "asdiv" or "mawps" => Gsm8k,
            "minerva_math" or "minerva" => Minerva,
            _ => Default,
        };
    }

    /// <summary>Parses "boxed,the-answer-is,last-number" (names case- and dash-insensitive).</summary>
    public static ExtractionOrder Parse(string text)
    {
        var rules = new List<ExtractionRule>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var key = part.Replace("-", "").Replace("_", "");
            if (!Enum.TryParse<ExtractionRule>(key, ignoreCase: true, out var rule))
                throw new FormatException($"unknown extraction rule '{part}' (known: {string.Join(", ", Enum.GetNames<ExtractionRule>())})");
            rules.Add(rule);
        }
        if (rules.Count == 0) throw new FormatException("empty extraction order");
        return new ExtractionOrder(rules);
    }
}
