using System.Text;

namespace StepDpo.Data;

/// <summary>How a solution marks its steps.</summary>
public enum StepStyle
{
    /// <summary>"Step 1: ... Step 2: ..." labels (the Step-DPO layout); text before "Step 1" is the preamble.</summary>
    Labels,
    /// <summary>Paragraphs separated by one or more blank lines.</summary>
    BlankLines,
    /// <summary>A custom marker after each step (the sample files use "ки").</summary>
    Delimiter,
}

/// <summary>One step: its text and its [Start, End) span in the original solution. Text is exactly
/// original[Start..End]; the span includes the step's label and its trailing separator, so
/// consecutive steps tile the solution without gaps.</summary>
public sealed record Step(int Index, string Text, int Start, int End)
{
    /// <summary>The step without its "Step k:" label, separator, marker or surrounding whitespace.</summary>
    public string Content { get; init; } = Text.Trim();
}

/// <summary>A solution cut into steps. Preamble (text before the first step) + steps + nothing
/// else reassemble the original exactly: <c>Prefix(k) + Steps[k].Text + Remainder(k) == Original</c>.</summary>
public sealed class StepSplit
{
    public string Original { get; }
    public IReadOnlyList<Step> Steps { get; }
    /// <summary>Text before the first step (e.g. "Let's think step by step.\n").</summary>
    public string Preamble => Steps.Count == 0 ? Original : Original[..Steps[0].Start];

    internal StepSplit(string original, IReadOnlyList<Step> steps) { Original = original; Steps = steps; }

    /// <summary>Everything before step <paramref name="k"/> (0-based); Prefix(Steps.Count) is the whole text.</summary>
    public string Prefix(int k)
    {
        if (k < 0 || k > Steps.Count) throw new ArgumentOutOfRangeException(nameof(k), $"step index {k} outside 0..{Steps.Count}");
        return k == Steps.Count ? Original : Original[..Steps[k].Start];
    }

    /// <summary>Everything after step <paramref name="k"/>.</summary>
    public string Remainder(int k)
    {
        if (k < 0 || k >= Steps.Count) throw new ArgumentOutOfRangeException(nameof(k), $"step index {k} outside 0..{Steps.Count - 1}");
        return Original[Steps[k].End..];
    }
}

public static class Steps
{
    public static StepSplit Split(string solution, StepStyle style, string? delimiter = null)
    {
        ArgumentNullException.ThrowIfNull(solution);
        var spans = style switch
        {
            StepStyle.Labels => LabelSpans(solution),
            StepStyle.BlankLines => BlankLineSpans(solution),
            StepStyle.Delimiter => DelimiterSpans(solution, string.IsNullOrEmpty(delimiter)
                ? throw new ArgumentException("StepStyle.Delimiter needs a non-empty delimiter", nameof(delimiter)) : delimiter),
            _ => throw new ArgumentOutOfRangeException(nameof(style)),
        };
        var steps = new List<Step>(spans.Count);
        foreach (var (start, end) in spans)
        {
            var text = solution[start..end];
            steps.Add(new Step(steps.Count, text, start, end) { Content = ContentOf(text, style, delimiter) });
        }
        return new StepSplit(solution, steps);
    }

    /// <summary>"Step 1: a\nStep 2: b" (the reference layout: one "Step k: " label per step, steps
    /// joined by a newline).</summary>
    public static string FormatStepLabels(IEnumerable<string> steps)
    {
        var sb = new StringBuilder();
        int k = 0;
        foreach (var s in steps)
        {
            if (k > 0) sb.Append('\n');
            sb.Append("Step ").Append(++k).Append(": ").Append(s.Trim());
        }
        return sb.ToString();
    }

    // Steps start at each "Step k:" label found at a line start (or the text start); the first step
    // runs from the first label, so an introduction stays in the preamble.
    private static List<(int, int)> LabelSpans(string s)
    {
        var starts = new List<int>();
        int expected = 1;
        for (int i = 0; i < s.Length; i++)
        {
            if ((i == 0 || s[i - 1] == '\n' || (s[i - 1] == ' ' && starts.Count > 0 && IsSentenceEnd(s, i - 1))) && IsLabelAt(s, i, out int number))
            {
                // Labels count up; a "Step 2:" quoted inside step 5 is text, not a new step.
                if (number == expected || (starts.Count == 0 && number >= 1)) { starts.Add(i); expected = number + 1; }
            }
        }
        return Tile(starts, s.Length);
    }

    private static bool IsSentenceEnd(string s, int space) => space > 0 && s[space - 1] is '.' or '$' or ')';

    private static bool IsLabelAt(string s, int i, out int number)
    {
        number = 0;
        if (string.CompareOrdinal(s, i, "Step ", 0, 5) != 0) return false;
        int j = i + 5, digits = 0;
        while (j < s.Length && char.IsAsciiDigit(s[j]) && digits < 6) { number = number * 10 + (s[j] - '0'); j++; digits++; }
        return digits > 0 && j < s.Length && s[j] is ':' or '.';
    }

    private static List<(int, int)> BlankLineSpans(string s)
    {
        // A step ends after the blank line(s) that follow it; leading blank lines are preamble.
        var spans = new List<(int, int)>();
        int i = 0;
        while (i < s.Length && s[i] is '\n' or '\r') i++;
        int start = i;
        while (i < s.Length)
        {
            int nl = s.IndexOf('\n', i);
            if (nl < 0) break;
            int j = nl + 1;
            int blank = j;
            while (true)
            {
                int k = blank;
                while (k < s.Length && s[k] is ' ' or '\t' or '\r') k++;
                if (k < s.Length && s[k] == '\n') blank = k + 1; else break;
            }
            if (blank > j && blank < s.Length)
            {
                spans.Add((start, blank));
                start = blank;
            }
            i = blank > j ? blank : j;
        }
        if (start < s.Length) spans.Add((start, s.Length));
        return spans;
    }

    private static List<(int, int)> DelimiterSpans(string s, string delimiter)
    {
        // Each step ends with its marker and the line break right after it ("...ки\n").
        var spans = new List<(int, int)>();
        int start = 0;
        while (start < s.Length)
        {
            int at = s.IndexOf(delimiter, start, StringComparison.Ordinal);
            if (at < 0) { if (s[start..].Trim().Length > 0 || spans.Count == 0) spans.Add((start, s.Length)); else Extend(spans, s.Length); break; }
            int end = at + delimiter.Length;
            if (end < s.Length && s[end] == '\n') end++;
            spans.Add((start, end));
            start = end;
        }
        return spans;
    }

    // Trailing whitespace after the last marker belongs to the last step (the tiling stays exact).
    private static void Extend(List<(int, int)> spans, int end) => spans[^1] = (spans[^1].Item1, end);

    private static List<(int, int)> Tile(List<int> starts, int length)
    {
        var spans = new List<(int, int)>(starts.Count);
        for (int i = 0; i < starts.Count; i++) spans.Add((starts[i], i + 1 < starts.Count ? starts[i + 1] : length));
        return spans;
    }

    private static string ContentOf(string text, StepStyle style, string? delimiter)
    {
        var t = text;
        if (style == StepStyle.Delimiter && delimiter is not null)
        {
            var trimmed = t.TrimEnd();
            if (trimmed.EndsWith(delimiter, StringComparison.Ordinal)) t = trimmed[..^delimiter.Length];
        }
        t = t.Trim();
        if (style == StepStyle.Labels && IsLabelAt(t, 0, out _))
        {
            int colon = t.IndexOfAny([':', '.'], 5);
            t = t[(colon + 1)..].Trim();
        }
        return t;
    }
}
