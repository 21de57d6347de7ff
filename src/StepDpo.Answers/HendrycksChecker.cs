using System.Text;

namespace StepDpo.Answers;

/// <summary>The classic MATH checker (Hendrycks et al., 2021, <c>is_equiv</c> with
/// <c>_strip_string</c>) reproduced step for step, including its quirks, so that numbers can be
/// compared with older papers. Where the original raises (and falls back to raw string equality),
/// so does this.</summary>
public static class HendrycksChecker
{
    public static bool IsEquivalent(string? a, string? b)
    {
        if (a is null && b is null) return true;
        if (a is null || b is null) return false;
        var sa = Strip(a);
        var sb = Strip(b);
        if (sa is null || sb is null) return a == b;
        return sa == sb;
    }

    /// <summary>The original normalisation; null where the original raises an exception.</summary>
    public static string? Strip(string s)
    {
        s = s.Replace("\n", "").Replace("\\!", "").Replace("\\\\", "\\")
             .Replace("tfrac", "frac").Replace("dfrac", "frac")
             .Replace("\\left", "").Replace("\\right", "")
             .Replace("^{\\circ}", "").Replace("^\\circ", "")
             .Replace("\\$", "");
        var units = RemoveRightUnits(s);
        if (units is null) return null;
        s = units.Replace("\\%", "").Replace(" .", " 0.").Replace("{.", "{0.");
        if (s.Length == 0) return s;
        if (s[0] == '.') s = "0" + s;
        var eq = s.Split('=');
        if (eq.Length == 2 && eq[0].Length <= 2) s = eq[1];
        var sqrt = FixSqrt(s);
        if (sqrt is null) return null;
        s = sqrt.Replace(" ", "");
        var fracs = FixFracs(s);
        if (fracs is null) return null;
        s = fracs;
        if (s == "0.5") s = "\\frac{1}{2}";
        return FixSlash(s);
    }

    // "\text{ " only ever introduces units on the right; two of them make the original assert fail.
    private static string? RemoveRightUnits(string s)
    {
        if (!s.Contains("\\text{ ", StringComparison.Ordinal)) return s;
        var parts = s.Split("\\text{ ");
        return parts.Length == 2 ? parts[0] : null;
    }

    private static string? FixSqrt(string s)
    {
        if (!s.Contains("\\sqrt", StringComparison.Ordinal)) return s;
        var parts = s.Split("\\sqrt");
        var sb = new StringBuilder(parts[0]);
        foreach (var part in parts.Skip(1))
        {
            if (part.Length == 0) return null; // IndexError in the original
            if (part[0] != '{') sb.Append("\\sqrt{").Append(part[0]).Append('}').Append(part, 1, part.Length - 1);
            else sb.Append("\\sqrt").Append(part);
        }
        return sb.ToString();
    }

    private static string? FixFracs(string s)
    {
        var parts = s.Split("\\frac");
        var sb = new StringBuilder(parts[0]);
        foreach (var part in parts.Skip(1))
        {
            sb.Append("\\frac");
            if (part.Length == 0) return null; // IndexError in the original
            if (part[0] == '{') { sb.Append(part); continue; }
            if (part.Length < 2) return s;      // the original returns the input unchanged
            char a = part[0], b = part[1];
            if (b != '{') sb.Append('{').Append(a).Append("}{").Append(b).Append('}').Append(part, 2, part.Length - 2);
            else sb.Append('{').Append(a).Append('}').Append(b).Append(part, 2, part.Length - 2);
        }
        return sb.ToString();
    }

    // "a/b" with both sides plain integers (as Python's int() would round-trip them) becomes \frac{a}{b}.
    private static string FixSlash(string s)
    {
        var parts = s.Split('/');
        if (parts.Length != 2) return s;
        if (!IsCanonicalInt(parts[0]) || !IsCanonicalInt(parts[1])) return s;
        return $"\\frac{{{parts[0]}}}{{{parts[1]}}}";
    }

    private static bool IsCanonicalInt(string s)
    {
        var digits = s.StartsWith('-') ? s[1..] : s;
        if (digits.Length == 0 || !digits.All(char.IsAsciiDigit)) return false;
        if (digits.Length > 1 && digits[0] == '0') return false;
        return !(s == "-0");
    }
}
