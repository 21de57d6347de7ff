namespace StepDpo.Answers;

/// <summary>Finds the final answer in a full model response. Every rule is a single linear scan
/// (no backtracking regular expressions), so a 200 KB response costs microseconds, not seconds.</summary>
public static class AnswerExtractor
{
    public static string? Extract(string? response, ExtractionOrder? order = null)
    {
        if (string.IsNullOrEmpty(response)) return null;
        foreach (var rule in (order ?? ExtractionOrder.Default).Rules)
        {
            // A last box that never closes is the final answer cut off mid-way (e.g. at max_new_tokens): no later rule
            // may guess it from the digits inside or from an earlier box.
            if (rule == ExtractionRule.Boxed && LastBoxIsOpen(response)) return null;
            var found = rule switch
            {
                ExtractionRule.Boxed => LastBoxed(response),
                ExtractionRule.MinervaFinalAnswer => MinervaFinalAnswer(response),
                ExtractionRule.FinalAnswerIs => FinalAnswerIs(response),
                ExtractionRule.TheAnswerIs => TheAnswerIs(response),
                ExtractionRule.Gsm8kHashes => AfterHashes(response),
                ExtractionRule.LastNumber => LastNumber(response),
                _ => null,
            };
            found = Clean(found);
            if (!string.IsNullOrEmpty(found)) return found;
        }
        return null;
    }

    /// <summary>A box longer than this is not an answer; the bound keeps many unclosed boxes linear.</summary>
    public const int MaxBoxedLength = 5_000;

    /// <summary>Content of the last <c>\boxed{...}</c>/<c>\fbox{...}</c> (or <c>\boxed 5</c>); null when that box
    /// never closes (see <see cref="LastBoxIsOpen"/>). A closed box longer than <see cref="MaxBoxedLength"/> is skipped
    /// in favour of an earlier one, as is an unclosed one before it.</summary>
    public static string? LastBoxed(string text)
    {
        if (LastBoxIsOpen(text)) return null;
        int end = text.Length;
        Dictionary<int, int>? closers = null;
        // Each search resumes below the previous hit, so the whole walk is one pass over the text.
        int boxed = LastIndexBefore(text, "\\boxed", end), fbox = LastIndexBefore(text, "\\fbox", end);
        while (end > 0)
        {
            if (boxed >= end) boxed = LastIndexBefore(text, "\\boxed", end);
            if (fbox >= end) fbox = LastIndexBefore(text, "\\fbox", end);
            int at = System.Math.Max(boxed, fbox);
            if (at < 0) return null;
            int i = at + (at == boxed ? 6 : 5);
            while (i < text.Length && text[i] == ' ') i++;
            if (i < text.Length && text[i] == '{')
            {
                // The usual case (the last box is closed) costs one short scan; after an unclosed
                // box, one pass matches every brace so that many unclosed boxes stay linear.
                int close;
                if (closers is null)
                {
                    close = LatexScan.MatchBrace(text, i, MaxBoxedLength);
                    if (close < 0) closers = MatchAllBraces(text);
                }
                else close = closers.GetValueOrDefault(i, -1);
                if (close > 0 && close - i <= MaxBoxedLength) return text[(i + 1)..close];
            }
            else if (i > at + 5 && i < text.Length)
            {
                // "\boxed 5": the argument runs to the next space or '$'.
                int stop = i;
                while (stop < text.Length && text[stop] is not (' ' or '$' or '\n')) stop++;
                if (stop > i) return text[i..stop];
            }
            end = at;
        }
        return null;
    }

    /// <summary>True when the last <c>\boxed{</c> or <c>\fbox{</c> has no closing brace: the text stops inside it.</summary>
    public static bool LastBoxIsOpen(string text)
    {
        int at = System.Math.Max(LastIndexBefore(text, "\\boxed", text.Length), LastIndexBefore(text, "\\fbox", text.Length));
        if (at < 0) return false;
        int i = at + (string.CompareOrdinal(text, at, "\\boxed", 0, 6) == 0 ? 6 : 5);
        while (i < text.Length && text[i] == ' ') i++;
        return i < text.Length && text[i] == '{' && LatexScan.MatchBrace(text, i) < 0;
    }

    /// <summary>Opening-brace index to closing-brace index for every closed group (escaped braces skipped).</summary>
    private static Dictionary<int, int> MatchAllBraces(string text)
    {
        var map = new Dictionary<int, int>();
        var open = new Stack<int>();
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '\\') { i++; continue; }
            if (c == '{') open.Push(i);
            else if (c == '}' && open.Count > 0) map[open.Pop()] = i;
        }
        return map;
    }

    private static int LastIndexBefore(string text, string what, int end) =>
        end < what.Length ? -1 : text.LastIndexOf(what, end - 1, StringComparison.Ordinal);

    private static string? MinervaFinalAnswer(string text)
    {
        int at = text.LastIndexOf("The final answer is", StringComparison.Ordinal);
        if (at < 0) return null;
        int start = at + "The final answer is".Length;
        int stop = text.IndexOf("I hope it is correct", start, StringComparison.Ordinal);
        if (stop < 0) return null;
        return text[start..stop];
    }

    private static string? FinalAnswerIs(string text)
    {
        int at = text.LastIndexOf("final answer is", StringComparison.OrdinalIgnoreCase);
        if (at < 0) return null;
        return DollarOrSentence(text, at + "final answer is".Length);
    }

    private static string? TheAnswerIs(string text)
    {
        int at = text.LastIndexOf("answer is", StringComparison.OrdinalIgnoreCase);
        if (at < 0) return null;
        int start = at + "answer is".Length;
        if (start < text.Length && text[start] == ':') start++;
        return DollarOrSentence(text, start);
    }

    /// <summary>A "$...$" span right after <paramref name="start"/> (an escaped "\$" inside is a
    /// dollar sign, not the end), else the rest of the sentence: up to a period followed by a space
    /// or line break (a decimal point is not followed by a space), or the end of the line.</summary>
    private static string? DollarOrSentence(string text, int start)
    {
        int i = start;
        while (i < text.Length && text[i] is ' ' or ':' or '\t') i++;
        if (i < text.Length && text[i] == '$')
        {
            int open = i;
            while (open < text.Length && text[open] == '$') open++;
            int close = open;
            while (close < text.Length && !(text[close] == '$' && text[close - 1] != '\\')) close++;
            if (close < text.Length && close > open) return text[open..close];
        }
        int eol = text.IndexOf('\n', i);
        if (eol < 0) eol = text.Length;
        for (int j = i; j + 1 < eol; j++)
            if (text[j] == '.' && text[j + 1] is ' ' or '\t') { eol = j; break; }
        return text[i..eol];
    }

    private static string? AfterHashes(string text)
    {
        int at = text.LastIndexOf("####", StringComparison.Ordinal);
        if (at < 0) return null;
        int start = at + 4;
        int eol = text.IndexOf('\n', start);
        return text[start..(eol < 0 ? text.Length : eol)];
    }

    /// <summary>The last number: optional sign, digits with optional thousands commas, optional
    /// decimals, optional "/denominator". Scans backwards from the end.</summary>
    public static string? LastNumber(string text)
    {
        int i = text.Length - 1;
        while (i >= 0 && !char.IsAsciiDigit(text[i])) i--;
        if (i < 0) return null;
        int end = i + 1;
        int start = i;
        while (start > 0 && (char.IsAsciiDigit(text[start - 1]) || text[start - 1] == '.' ||
               (text[start - 1] is ',' or '/' && start >= 2 && char.IsAsciiDigit(text[start - 2]))))
            start--;
        if (start > 0 && text[start - 1] == '-') start--;
        var number = text[start..end].Trim('.', ',', '/');
        return number.Replace(",", "");
    }

    /// <summary>Trims what surrounds an answer but is not part of it: spaces, '$', a final period
    /// or colon, the "ки" step marker of the sample files.</summary>
    private static string? Clean(string? s)
    {
        if (s is null) return null;
        s = s.Trim();
        if (s.EndsWith("ки", StringComparison.Ordinal)) s = s[..^2].TrimEnd();
        s = s.Trim('$', ' ', '\t', '\n', '\r');
        while (s.Length > 0 && s[^1] is '.' or ':' && !(s.Length >= 2 && s[^2] == '\\')) s = s[..^1].TrimEnd();
        s = s.Trim('$', ' ');
        return s;
    }
}
