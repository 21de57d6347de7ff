using System.Text;

namespace StepDpo.Answers.Normalization;

/// <summary>Text clean-up before parsing: what a human would not count as part of the answer
/// (delimiters, spacing commands, \left/\right, units, degrees, currency, percent signs, trailing
/// periods) goes; notation variants become one form (\dfrac to \frac, unicode to LaTeX, \sqrt3
/// to \sqrt{3}). The percent sign is dropped, never turned into /100, so 25% = 25 but not 0.25.</summary>
internal static partial class AnswerNormalizer
{
    public static string Normalize(string s)
    {
        s = s.Trim();
        s = StripWrappers(s);
        // "11,\! 111,\! 100": a comma with a negative thin space is a thousands separator.
        s = ThinSpaceThousands().Replace(s, "");
        // Row breaks "\\" must survive the removal of "\ " (a spacing command): park them.
        var sb = new StringBuilder(s).Replace("\\\\", RowBreak);
        foreach (var (from, to) in Replacements) sb.Replace(from, to);
        s = sb.Replace(RowBreak, "\\\\").ToString();
        s = RemoveBigDelimiters(s);
        s = StripWrappers(s.Trim());
        s = CollapseSpaces(s);
        s = StripUnits(s);
        s = FixShortArguments(s, "\\frac", 2);
        s = FixShortArguments(s, "\\sqrt", 1);
        s = RemoveThousandsSeparators(s);
        s = s.Trim().TrimEnd('.', ',', ';').Trim();
        if (s.StartsWith('.')) s = "0" + s;
        // Plain-text mixed number "137 1/2" is 137 + 1/2 (the parser reads "137\frac{1}{2}" so).
        s = PlainMixedNumber().Replace(s, "$1\\frac{$2}{$3}");
        s = s.Replace("(.", "(0.").Replace(" .", " 0.").Replace("{.", "{0.").Replace("-.", "-0.");
        return s;
    }

    private const string RowBreak = "\u0001";

    private static readonly (string From, string To)[] Replacements =
    [
        ("\n", " "), ("\r", " "), ("\t", " "),
        ("\\displaystyle", ""), ("\\!", ""), ("\\,", ""), ("\\;", ""), ("\\:", ""), ("\\quad", " "), ("\\qquad", " "),
        ("\\ ", " "), ("~", " "), ("{,}", ""),
        ("\\left", ""), ("\\right", ""),
        ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("\\dbinom", "\\binom"), ("\\tbinom", "\\binom"),
        ("^{\\circ}", ""), ("^\\circ", ""), ("{}^\\circ", ""), ("\\circ", ""), ("\\degree", ""), ("°", ""),
        ("\\$", ""), ("$", ""), ("\\%", ""), ("%", ""),
        ("−", "-"), ("–", "-"), ("×", "\\times "), ("·", "\\cdot "), ("÷", "\\div "), ("π", "\\pi "),
        ("√", "\\sqrt"), ("∞", "\\infty "), ("≤", "\\le "), ("≥", "\\ge "), ("∪", "\\cup "), ("±", "\\pm "),
        ("\\leq", "\\le"), ("\\geq", "\\ge"), ("\\neq", "\\ne"), ("\\infin ", "\\infty "),
        ("\\lbrace", "\\{"), ("\\rbrace", "\\}"), ("\\lvert", "|"), ("\\rvert", "|"), ("\\vert", "|"), ("\\mid", "|"),
        ("\\emptyset", "\\varnothing"),
    ];

    private static string RemoveBigDelimiters(string s)
    {
        foreach (var size in new[] { "\\Bigl", "\\Bigr", "\\bigl", "\\bigr", "\\Big", "\\big", "\\biggl", "\\biggr", "\\bigg" })
            s = s.Replace(size, "");
        // "\right." leaves a lone '.' after removing \right: drop it.
        return s.Replace("\\middle", "");
    }

    /// <summary>Outer "$...$", "\(...\)", "\[...\]", "\boxed{...}", "\text{...}" around the whole answer.</summary>
    private static string StripWrappers(string s)
    {
        for (int guard = 0; guard < 20; guard++)
        {
            var before = s;
            s = s.Trim();
            if (s.Length >= 2 && s[0] == '$' && s[^1] == '$') s = s.Trim('$');
            if (s.StartsWith("\\(") && s.EndsWith("\\)")) s = s[2..^2];
            if (s.StartsWith("\\[") && s.EndsWith("\\]")) s = s[2..^2];
            foreach (var w in WrapperCommands)
                if (s.StartsWith(w, StringComparison.Ordinal) && s.EndsWith('}') && LatexScan.MatchBrace(s, w.Length - 1) == s.Length - 1)
                    s = s[w.Length..^1];
            if (s == before) break;
        }
        return s;
    }

    private static readonly string[] WrapperCommands =
        ["\\boxed{", "\\fbox{", "\\text{", "\\textbf{", "\\mathrm{", "\\mathbf{", "\\textrm{", "\\mbox{", "\\displaystyle{"];

    private static string CollapseSpaces(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool space = false;
        foreach (var c in s)
        {
            if (c == ' ') { space = true; continue; }
            if (space && sb.Length > 0) sb.Append(' ');
            space = false;
            sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>Units after a quantity: "5 \text{ cm}^2", "12\mbox{ inches}", "9 (apples)", "15 meters",
    /// "30 degrees", "\$5 dollars". Only removed when a number precedes them, so "x" or "\text{Evelyn}" stay.</summary>
    public static string StripUnits(string s)
    {
        for (int guard = 0; guard < 10; guard++)
        {
            var t = s.TrimEnd();
            // A power on a unit: "\text{cm}^2".
            if (t.Length > 2 && t[^2] == '^' && t[^1] is '2' or '3' && t[^3] == '}') t = t[..^2];
            else if (t.EndsWith("^{2}") || t.EndsWith("^{3}")) { var u = t[..^4]; if (u.EndsWith('}')) t = u; }
            var stripped = StripOneTrailingUnit(t);
            if (stripped is null) break;
            s = stripped;
        }
        return s.TrimEnd();
    }

    private static string? StripOneTrailingUnit(string t)
    {
        if (t.EndsWith('}'))
        {
            // Find the group's command: \text{...}, \mbox{...}, \mathrm{...}
            int depth = 0, open = -1;
            for (int i = t.Length - 1; i >= 0; i--)
            {
                if (t[i] == '}' && (i == 0 || t[i - 1] != '\\')) depth++;
                else if (t[i] == '{' && (i == 0 || t[i - 1] != '\\') && --depth == 0) { open = i; break; }
            }
            if (open <= 0) return null;
            foreach (var cmd in UnitCommands)
            {
                if (open >= cmd.Length && string.CompareOrdinal(t, open - cmd.Length, cmd, 0, cmd.Length) == 0)
                {
                    var before = t[..(open - cmd.Length)].TrimEnd();
                    var inner = t[(open + 1)..^1];
                    if (EndsWithQuantity(before) && LooksLikeUnit(inner)) return before;
                    return null;
                }
            }
            return null;
        }
        if (t.EndsWith(')'))
        {
            // "9 (apples)"
            int open = t.LastIndexOf('(');
            if (open > 0 && EndsWithQuantity(t[..open].TrimEnd()) && LooksLikeUnit(t[(open + 1)..^1]) && t[(open + 1)..^1].Trim().Length >= 2)
                return t[..open].TrimEnd();
            return null;
        }
        // Plain words after a number: "15 inches", "4 square units".
        int end = t.Length;
        int start = end;
        while (start > 0 && char.IsAsciiLetter(t[start - 1])) start--;
        if (end - start >= 2 && start > 0 && t[start - 1] == ' ')
        {
            var before = t[..start].TrimEnd();
            if (EndsWithQuantity(before) && !before.EndsWith('\\')) return before;
        }
        return null;
    }

    private static readonly string[] UnitCommands = ["\\text", "\\mbox", "\\mathrm", "\\textrm", "\\rm", "\\textnormal", "\\mathit"];

    private static bool EndsWithQuantity(string s)
    {
        if (s.Length == 0) return false;
        char c = s[^1];
        return char.IsAsciiDigit(c) || c is ')' or '}' or ']' or '.' || s.EndsWith("\\pi", StringComparison.Ordinal);
    }

    private static bool LooksLikeUnit(string inner)
    {
        inner = inner.Trim();
        if (inner.Length == 0) return true;
        foreach (var c in inner) if (!(char.IsLetter(c) || c is ' ' or '.' or '/' or '^' or '-' or '\\' or '{' or '}' or '2' or '3')) return false;
        return inner.Any(char.IsLetter);
    }

    /// <summary>"\frac12" to "\frac{1}{2}", "\frac1{7}" to "\frac{1}{7}", "\sqrt3" to "\sqrt{3}":
    /// LaTeX takes a single character as an argument when no brace follows.</summary>
    private static string FixShortArguments(string s, string command, int arity)
    {
        if (!s.Contains(command, StringComparison.Ordinal)) return s;
        var sb = new StringBuilder(s.Length + 8);
        int i = 0;
        while (i < s.Length)
        {
            int at = s.IndexOf(command, i, StringComparison.Ordinal);
            if (at < 0) { sb.Append(s, i, s.Length - i); break; }
            int j = at + command.Length;
            sb.Append(s, i, j - i);
            if (j < s.Length && char.IsAsciiLetter(s[j])) { i = j; continue; } // \fracx is not \frac
            for (int k = 0; k < arity; k++)
            {
                while (j < s.Length && s[j] == ' ') j++;
                if (j >= s.Length) break;
                if (s[j] == '{' || s[j] == '[' || s[j] == '\\') break;
                sb.Append('{').Append(s[j]).Append('}');
                j++;
            }
            i = j;
        }
        return sb.ToString();
    }

    /// <summary>"1,000,000" to "1000000": a run of digits and commas is a thousands-formatted
    /// number only if it is 1-3 digits followed by groups of exactly three; and only when the answer
    /// is not a comma-and-space separated list ("1, 234").</summary>
    private static string RemoveThousandsSeparators(string s)
    {
        if (!s.Contains(',') || s.Contains(", ")) return s;
        var sb = new StringBuilder(s.Length);
        int i = 0;
        while (i < s.Length)
        {
            if (!char.IsAsciiDigit(s[i]) || (i > 0 && (char.IsAsciiDigit(s[i - 1]) || s[i - 1] == '.')))
            {
                sb.Append(s[i++]);
                continue;
            }
            int end = i;
            while (end < s.Length && (char.IsAsciiDigit(s[end]) || (s[end] == ',' && end + 1 < s.Length && char.IsAsciiDigit(s[end + 1])))) end++;
            var run = s.AsSpan(i, end - i);
            sb.Append(IsThousandsFormatted(run) ? run.ToString().Replace(",", "") : run.ToString());
            i = end;
        }
        return sb.ToString();
    }

    private static bool IsThousandsFormatted(ReadOnlySpan<char> run)
    {
        int first = run.IndexOf(',');
        if (first < 1 || first > 3) return false;
        int groups = 0;
        for (int i = first; i < run.Length; i += 4)
        {
            if (run[i] != ',') return false;
            if (i + 4 > run.Length) return false;
            for (int k = 1; k <= 3; k++) if (!char.IsAsciiDigit(run[i + k])) return false;
            groups++;
        }
        return groups > 0;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"(?<=\d),\\!\s*(?=\d{3}(?!\d))")]
    private static partial System.Text.RegularExpressions.Regex ThinSpaceThousands();

    [System.Text.RegularExpressions.GeneratedRegex(@"^(-?\d+) (\d+)/(\d+)$")]
    private static partial System.Text.RegularExpressions.Regex PlainMixedNumber();
}
