using StepDpo.Answers.Expressions;

namespace StepDpo.Answers.Structures;

/// <summary>Decides the shape of a normalised answer (matrix, union, list, set, tuple/interval,
/// equation, ± pair, base-n numeral, choice letter, scalar or text) and parses its parts.</summary>
internal static class StructureParser
{
    public static AnswerValue Parse(string s, WorkBudget budget, int depth = 0)
    {
        budget.Spend(1 + s.Length / 16);
        s = s.Trim();
        if (depth > 20 || s.Length == 0) return new TextValue(s);

        // "x \in [2, 5]" says the answer is [2, 5].
        if (s.Length > 4 && char.IsAsciiLetter(s[0]) && s[1..].TrimStart().StartsWith("\\in", StringComparison.Ordinal)
            && s[1..].TrimStart() is { } afterVar && afterVar.Length > 3 && !char.IsAsciiLetter(afterVar[3]))
            return Parse(afterVar[3..], budget, depth + 1);

        if (s.StartsWith("\\begin{", StringComparison.Ordinal) && TryMatrix(s, budget, depth) is { } matrix) return matrix;

        var union = LatexScan.SplitTopLevel(s, "\\cup");
        if (union.Count > 1) return new UnionValue(union.Select(p => Parse(p, budget, depth + 1)).ToList());

        var items = SplitList(s);
        if (items.Count > 1) return new SetValue(Elements(items).Select(p => Parse(p, budget, depth + 1)).ToList());

        if (s.Length >= 4 && s.StartsWith("\\{") && s.EndsWith("\\}"))
        {
            var inner = s[2..^2];
            if (inner.Contains('|') || inner.Contains(':')) return new TextValue(s); // set-builder notation
            return new SetValue(Elements(SplitList(inner).Where(p => p.Trim().Length > 0)).Select(p => Parse(p, budget, depth + 1)).ToList());
        }

        if (s[0] is '(' or '[' && s[^1] is ')' or ']' && LatexScan.OuterPairSpansAll(s))
        {
            var parts = LatexScan.SplitTopLevel(s[1..^1], ",");
            if (parts.Count > 1) return new TupleValue(s[0], s[^1], parts.Select(p => Parse(p, budget, depth + 1)).ToList());
        }

        var sides = LatexScan.SplitTopLevel(s, "=");
        if (sides.Count >= 2 && sides.All(p => p.Trim().Length > 0))
            return new EquationValue(sides[0].Trim(), Parse(sides[0], budget, depth + 1), Parse(sides[^1], budget, depth + 1));

        if (PlusMinus(s) is { } pm) return new SetValue([Parse(pm.Plus, budget, depth + 1), Parse(pm.Minus, budget, depth + 1)]);

        if (TryBaseNumber(s) is { } based) return based;
        if (TryChoice(s) is { } choice) return choice;
        if (LooksLikeText(s)) return new TextValue(s);
        var expr = LatexParser.TryParse(s, budget);
        return expr is null ? new TextValue(s) : new ScalarValue(s, expr);
    }

    /// <summary>Top-level list separators: commas, semicolons, and the words "or"/"and".</summary>
    private static List<string> SplitList(string s)
    {
        foreach (var word in new[] { "\\text{ or }", "\\text{or}", "\\text{ and }", "\\text{and}", " or ", " and ", "\\quad" })
            if (s.Contains(word, StringComparison.Ordinal)) s = s.Replace(word, ",");
        var parts = LatexScan.SplitTopLevel(s, ",");
        if (parts.Count == 1) parts = LatexScan.SplitTopLevel(s, ";");
        return parts.Where(p => p.Trim().Length > 0).ToList() is { Count: > 0 } kept ? kept : parts;
    }

    /// <summary>The elements of a set or list: an item "a \pm b" stands for two of them, a + b and a - b
    /// (\{1\pm\sqrt5, -2\} has three elements).</summary>
    private static IEnumerable<string> Elements(IEnumerable<string> items) =>
        items.SelectMany(item => PlusMinus(item) is { } pm ? [pm.Plus, pm.Minus] : new[] { item });

    private static MatrixValue? TryMatrix(string s, WorkBudget budget, int depth)
    {
        int close = LatexScan.MatchBrace(s, 6);
        if (close < 0) return null;
        var env = s[7..close];
        if (env is not ("pmatrix" or "bmatrix" or "matrix" or "Bmatrix" or "vmatrix" or "smallmatrix" or "array")) return null;
        var end = "\\end{" + env + "}";
        if (!s.EndsWith(end, StringComparison.Ordinal)) return null;
        var body = s[(close + 1)..^end.Length];
        if (env == "array" && body.StartsWith('{')) { int c = LatexScan.MatchBrace(body, 0); if (c > 0) body = body[(c + 1)..]; }
        var rows = LatexScan.SplitTopLevel(body, "\\\\").Where(r => r.Trim().Length > 0)
            .Select(r => (IReadOnlyList<AnswerValue>)LatexScan.SplitTopLevel(r, "&").Select(c => Parse(c, budget, depth + 1)).ToList())
            .ToList();
        return rows.Count == 0 ? null : new MatrixValue(rows);
    }

    private static (string Plus, string Minus)? PlusMinus(string s)
    {
        foreach (var sign in new[] { "\\pm", "\\mp" })
        {
            var parts = LatexScan.SplitTopLevel(s, sign);
            if (parts.Count < 2) continue;
            var rest = string.Join(sign, parts.Skip(1));
            var (first, second) = sign == "\\pm" ? ("+", "-") : ("-", "+");
            return (parts[0] + first + "(" + rest + ")", parts[0] + second + "(" + rest + ")");
        }
        return null;
    }

    private static BaseNumberValue? TryBaseNumber(string s)
    {
        int us = s.LastIndexOf('_');
        if (us <= 0) return null;
        var digits = s[..us];
        var sub = s[(us + 1)..].Trim('{', '}', ' ');
        if (sub.StartsWith("\\text", StringComparison.Ordinal)) sub = sub[5..].Trim('{', '}', ' ');
        if (!int.TryParse(sub, out int b) || b < 2 || b > 36) return null;
        if (digits.Length == 0 || !digits.All(char.IsAsciiLetterOrDigit)) return null;
        foreach (var c in digits)
        {
            int v = char.IsAsciiDigit(c) ? c - '0' : char.ToUpperInvariant(c) - 'A' + 10;
            if (v >= b) return null;
        }
        return new BaseNumberValue(digits.ToUpperInvariant().TrimStart('0') is { Length: > 0 } d ? d : "0", b);
    }

    private static ChoiceValue? TryChoice(string s)
    {
        var t = s.Trim();
        if (t.StartsWith('(') && t.EndsWith(')')) t = t[1..^1].Trim();
        return t.Length == 1 && t[0] is >= 'A' and <= 'E' ? new ChoiceValue(t[0]) : null;
    }

    private static readonly HashSet<string> MathWords =
        ["sin", "cos", "tan", "sec", "csc", "cot", "sinh", "cosh", "tanh", "arcsin", "arccos", "arctan", "log", "ln", "exp", "sqrt", "pi"];

    /// <summary>Text rather than mathematics: a run of three or more letters that is not a command
    /// ("\frac") or a function name ("sin"). "xy" or "2ab" stay mathematics.</summary>
    public static bool LooksLikeText(string s)
    {
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\')
            {
                int j = i + 1;
                while (j < s.Length && char.IsAsciiLetter(s[j])) j++;
                var cmd = s[(i + 1)..j];
                if (cmd is "text" or "textbf" or "mbox" or "textrm" && j < s.Length && s[j] == '{')
                {
                    int close = LatexScan.MatchBrace(s, j);
                    var inner = close > j ? s[(j + 1)..close] : "";
                    if (inner.Count(char.IsLetter) >= 2) return true;
                }
                i = System.Math.Max(i, j - 1);
                continue;
            }
            if (!char.IsAsciiLetter(s[i]) && !char.IsLetter(s[i])) continue;
            int end = i;
            while (end < s.Length && char.IsLetter(s[end])) end++;
            if (end - i >= 3 && !MathWords.Contains(s[i..end])) return true;
            i = end - 1;
        }
        return false;
    }
}
