using System.Text.RegularExpressions;

namespace StepDpo.Stages.Verify;

public enum StepLabel { Correct, Neutral, Incorrect }

/// <summary>Either the judge's labels for steps 1..k (k may be less than the number of steps: the judge stops at
/// the first incorrect one) or why the answer could not be read.</summary>
public sealed record JudgeVerdict(IReadOnlyList<StepLabel>? Labels, string? Failure)
{
    public bool IsParsed => Labels is not null;
    public static JudgeVerdict Parsed(IReadOnlyList<StepLabel> labels) => new(labels, null);
    public static JudgeVerdict Unparseable(string why) => new(null, why);

    /// <summary>1-based index of the first step that is not correct (neutral counts when
    /// <paramref name="neutralIsError"/>, as in the reference pipeline), or null when every labelled step is correct.</summary>
    public int? FirstError(bool neutralIsError = true)
    {
        if (Labels is null) throw new InvalidOperationException("the verdict was not parsed: " + Failure);
        for (var i = 0; i < Labels.Count; i++)
            if (Labels[i] == StepLabel.Incorrect || (neutralIsError && Labels[i] == StepLabel.Neutral)) return i + 1;
        return null;
    }
}

/// <summary>Reads "Final Decision: Step 1: correct; Step 2: neutral; Step 3: incorrect" from a judge's answer.
/// Tolerates markdown emphasis, headings, case, extra spaces and separators ("Step 3 : Incorrect", "**Step 2**: neutral",
/// one step per line). It never guesses: a missing decision section, a gap or clash in the numbering, or a
/// "Step k:" entry without one of the three words makes the answer unparseable.</summary>
public static partial class JudgeVerdictParser
{
    public static JudgeVerdict Parse(string text)
    {
        var plain = Markup().Replace(text, "");
        var marker = DecisionMarker().Matches(plain);
        if (marker.Count == 0) return JudgeVerdict.Unparseable("no 'Final Decision' section");
        // The analysis may mention the phrase too; the decision is the last section.
        var tail = plain[(marker[^1].Index + marker[^1].Length)..];

        var labels = new List<StepLabel>();
        foreach (Match entry in Entry().Matches(tail))
        {
            var step = int.Parse(entry.Groups["step"].Value, System.Globalization.CultureInfo.InvariantCulture);
            var label = Enum.Parse<StepLabel>(entry.Groups["label"].Value, ignoreCase: true);
            if (step == labels.Count + 1) labels.Add(label);
            else if (step >= 1 && step <= labels.Count)
            {
                if (labels[step - 1] != label) return JudgeVerdict.Unparseable($"step {step} is labelled both {labels[step - 1]} and {label}");
            }
            else return JudgeVerdict.Unparseable($"step {step} follows step {labels.Count}: the numbering has a gap");
        }
        if (labels.Count == 0) return JudgeVerdict.Unparseable("the decision section labels no step");
        foreach (Match entry in LabelledEntry().Matches(tail))
            if (!Entry().IsMatch(entry.Value))
                return JudgeVerdict.Unparseable($"'{entry.Value.Trim()}' is not one of correct, neutral, incorrect");
        return JudgeVerdict.Parsed(labels);
    }

    // Emphasis and code marks only; they never carry meaning in the decision.
    [GeneratedRegex(@"[*`#_]")]
    private static partial Regex Markup();

    [GeneratedRegex(@"final\s+decision\s*:?", RegexOptions.IgnoreCase)]
    private static partial Regex DecisionMarker();

    [GeneratedRegex(@"\bstep\s*(?<step>\d+)\s*(?:[:：.)\-–—=]|is)?\s*[(\[]?\s*(?<label>incorrect|correct|neutral)\b", RegexOptions.IgnoreCase)]
    private static partial Regex Entry();

    // "Step k:" followed by whatever comes up to the next separator: each such entry must be a recognised label.
    [GeneratedRegex(@"\bstep\s*\d+\s*[:：][^;,\n]*", RegexOptions.IgnoreCase)]
    private static partial Regex LabelledEntry();
}
