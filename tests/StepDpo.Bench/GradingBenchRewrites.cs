using System.Text.RegularExpressions;

/// <summary>Rewrites of gold answers for the grading benchmark: equivalent forms a model may write
/// and near misses that change the value. Each is a plain textual rule, named so a disagreement
/// listing explains itself.</summary>
internal static partial class Rewrites
{
    public readonly record struct Rewrite(string Name, string Text);

    public static IEnumerable<Rewrite> Equivalent(string gold)
    {
        var seen = new HashSet<string> { gold };
        foreach (var r in EquivalentCandidates(gold))
            if (r.Text.Length > 0 && seen.Add(r.Text)) yield return r;
    }

    private static IEnumerable<Rewrite> EquivalentCandidates(string g)
    {
        yield return new("dollars", "$" + g + "$");
        yield return new("dfrac", g.Replace("\\frac", "\\dfrac"));
        yield return new("no-spaces", g.Replace(" ", ""));
        yield return new("left-right", g.Replace("\\left", "").Replace("\\right", ""));
        if (!MixedNumber().IsMatch(g)) yield return new("a/b", SimpleFrac().Replace(g, "$1/$2"));
        yield return new("sqrt-short", SqrtDigit().Replace(g, "\\sqrt$1"));
        if (Integer().IsMatch(g))
        {
            yield return new("trailing .0", g + ".0");
            yield return new("units", g + " \\text{ units}");
            yield return new("x= prefix", "x = " + g);
            if (g.TrimStart('-').Length > 3) yield return new("thousands", long.Parse(g).ToString("N0", System.Globalization.CultureInfo.InvariantCulture));
        }
        if (SimpleFrac().Match(g) is { Success: true } m && m.Value == g)
        {
            var num = long.Parse(m.Groups[1].Value);
            var den = long.Parse(m.Groups[2].Value);
            if (Terminates(den)) yield return new("decimal", ((decimal)num / den).ToString(System.Globalization.CultureInfo.InvariantCulture));
            yield return new("times-inverse", $"{num}\\cdot\\frac{{1}}{{{den}}}");
        }
        // Unbracketed lists are order-free: reverse them.
        var parts = g.Split(',');
        if (parts.Length > 1 && !Thousands().IsMatch(g) && !g.Contains('(') && !g.Contains('[') && !g.Contains('\\'))
            yield return new("list reversed", string.Join(", ", parts.Reverse().Select(x => x.Trim())));
        // Terms of a sum in another order: "a + b" as "b + a" at the top level only.
        var plus = g.Split(" + ");
        if (plus.Length == 2 && !g.Contains('(') && !g.Contains('{') && !g.Contains(',') && !g.Contains('-') && !g.Contains('='))
            yield return new("sum commuted", plus[1] + " + " + plus[0]);
    }

    public static IEnumerable<Rewrite> NearMisses(string g)
    {
        if (Integer().IsMatch(g) && g != "0")
        {
            yield return new("off by one", (long.Parse(g) + 1).ToString());
            yield return new("negated", g.StartsWith('-') ? g[1..] : "-" + g);
            yield return new("percent trap /100", ((decimal)long.Parse(g) / 100).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        if (SimpleFrac().Match(g) is { Success: true } m && m.Value == g && m.Groups[1].Value != m.Groups[2].Value)
            yield return new("fraction inverted", $"\\frac{{{m.Groups[2].Value}}}{{{m.Groups[1].Value}}}");
        if (g.StartsWith("\\left(") || (g.StartsWith('(') && g.Contains(',')))
        {
            var inner = g.Replace("\\left", "").Replace("\\right", "").Trim();
            var parts = inner[1..^1].Split(',');
            if (parts.Length == 2 && parts[0].Trim() != parts[1].Trim() && !inner[1..^1].Contains('('))
                yield return new("tuple swapped", $"({parts[1].Trim()}, {parts[0].Trim()})");
        }
        if (g.Contains("\\sqrt{")) yield return new("root dropped", g.Replace("\\sqrt{", "{"));
    }

    private static bool Terminates(long den)
    {
        while (den % 2 == 0) den /= 2;
        while (den % 5 == 0) den /= 5;
        return den == 1;
    }

    [GeneratedRegex(@"\\frac\{(\d+)\}\{(\d+)\}")] private static partial Regex SimpleFrac();
    [GeneratedRegex(@"\\sqrt\{(\d)\}")] private static partial Regex SqrtDigit();
    [GeneratedRegex(@"^-?\d+$")] private static partial Regex Integer();
    [GeneratedRegex(@"\d\s*\\frac")] private static partial Regex MixedNumber();
    [GeneratedRegex(@"^\d{1,3}(,\d{3})+$")] private static partial Regex Thousands();
}
