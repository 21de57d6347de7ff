namespace StepDpo.Answers;

/// <summary>Small linear-time helpers for scanning LaTeX: brace matching that ignores escaped
/// braces (<c>\{</c> is a literal brace, not a group) and splitting at top level.</summary>
public static class LatexScan
{
    /// <summary>Index of the '}' closing the '{' at <paramref name="open"/>, or -1 when unclosed.</summary>
    public static int MatchBrace(ReadOnlySpan<char> s, int open, int maxLength = int.MaxValue) => MatchGroup(s, open, '{', '}', maxLength);

    /// <summary>Index of the closer matching the opener at <paramref name="open"/>, skipping
    /// backslash-escaped characters; -1 when unclosed.</summary>
    public static int MatchGroup(ReadOnlySpan<char> s, int open, char opener, char closer, int maxLength = int.MaxValue)
    {
        int depth = 0;
        int stop = (int)System.Math.Min(s.Length, (long)open + maxLength);
        for (int i = open; i < stop; i++)
        {
            char c = s[i];
            if (c == '\\') { i++; continue; }
            if (c == opener) depth++;
            else if (c == closer && --depth == 0) return i;
        }
        return -1;
    }

    /// <summary>Splits at <paramref name="separator"/> where no (), [], {} or \{\} group is open.
    /// Unbalanced input still splits (closers below zero are ignored), so it never fails.</summary>
    public static List<string> SplitTopLevel(string s, string separator)
    {
        var parts = new List<string>();
        int depth = 0, start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '\\' && i + 1 < s.Length)
            {
                if (s[i + 1] == '{') depth++;
                else if (s[i + 1] == '}') depth = System.Math.Max(0, depth - 1);
                else if (depth == 0 && string.CompareOrdinal(s, i, separator, 0, separator.Length) == 0)
                {
                    parts.Add(s[start..i]);
                    start = i + separator.Length;
                    i = start - 1;
                    continue;
                }
                i++;
                continue;
            }
            if (c is '(' or '[' or '{') depth++;
            else if (c is ')' or ']' or '}') depth = System.Math.Max(0, depth - 1);
            else if (depth == 0 && string.CompareOrdinal(s, i, separator, 0, separator.Length) == 0)
            {
                parts.Add(s[start..i]);
                start = i + separator.Length;
                i = start - 1;
            }
        }
        parts.Add(s[start..]);
        return parts;
    }

    /// <summary>True when the brackets in <paramref name="s"/> balance, ignoring which kind closes
    /// which (an interval such as "(1,2]" is balanced).</summary>
    public static bool OuterPairSpansAll(string s)
    {
        if (s.Length < 2) return false;
        int depth = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '\\') { i++; continue; }
            if (c is '(' or '[' or '{') depth++;
            else if (c is ')' or ']' or '}')
            {
                depth--;
                if (depth == 0 && i != s.Length - 1) return false;
                if (depth < 0) return false;
            }
        }
        return depth == 0;
    }
}
