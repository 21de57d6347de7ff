namespace StepDpo.Answers.Expressions;

internal enum TokenKind { Number, Letter, Command, Symbol, End }

/// <summary>One lexical unit: a number literal ("12.5", "3e-4"), a single letter, a command
/// ("\frac", "\{") or a one-character symbol.</summary>
internal readonly record struct Token(TokenKind Kind, string Text)
{
    public bool Is(string symbol) => Kind is TokenKind.Symbol or TokenKind.Command && Text == symbol;
}

internal static class LatexTokenizer
{
    public static List<Token> Tokenize(string s, WorkBudget budget)
    {
        var tokens = new List<Token>(s.Length / 2 + 1);
        int i = 0;
        while (i < s.Length)
        {
            budget.Spend();
            char c = s[i];
            if (char.IsWhiteSpace(c)) { i++; continue; }
            if (char.IsAsciiDigit(c) || (c == '.' && i + 1 < s.Length && char.IsAsciiDigit(s[i + 1])))
            {
                int start = i;
                while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
                if (i < s.Length && s[i] == '.' && !(i + 1 < s.Length && s[i + 1] == '.'))
                {
                    i++;
                    while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
                }
                // Scientific notation only when the exponent follows at once: "3e-4", "2E5".
                if (i + 1 < s.Length && s[i] is 'e' or 'E')
                {
                    int j = i + 1;
                    if (s[j] is '+' or '-') j++;
                    if (j < s.Length && char.IsAsciiDigit(s[j]))
                    {
                        while (j < s.Length && char.IsAsciiDigit(s[j])) j++;
                        i = j;
                    }
                }
                tokens.Add(new Token(TokenKind.Number, s[start..i]));
                continue;
            }
            if (c == '\\')
            {
                int start = i++;
                if (i < s.Length && char.IsAsciiLetter(s[i]))
                    while (i < s.Length && char.IsAsciiLetter(s[i])) i++;
                else if (i < s.Length) i++;
                tokens.Add(new Token(TokenKind.Command, s[start..i]));
                continue;
            }
            if (char.IsAsciiLetter(c))
            {
                // Plain-text function names ("sqrt(2)", "sin x", "pi") read as the command.
                int end = i;
                while (end < s.Length && char.IsAsciiLetter(s[end])) end++;
                var word = s[i..end];
                var known = PlainWords.FirstOrDefault(w => word.StartsWith(w, StringComparison.Ordinal));
                if (known is not null && (word.Length == known.Length || known.Length >= 3))
                {
                    tokens.Add(new Token(TokenKind.Command, "\\" + known));
                    i += known.Length;
                    continue;
                }
                tokens.Add(new Token(TokenKind.Letter, c.ToString()));
                i++;
                continue;
            }
            tokens.Add(new Token(TokenKind.Symbol, c switch { '−' => "-", '×' or '·' => "*", '÷' => "/", _ => c.ToString() }));
            i++;
        }
        tokens.Add(new Token(TokenKind.End, ""));
        return tokens;
    }

    // Longest first so that "sinh" is not read as "sin" + "h".
    private static readonly string[] PlainWords =
        ["arcsin", "arccos", "arctan", "sqrt", "sinh", "cosh", "tanh", "sin", "cos", "tan", "sec", "csc", "cot", "log", "exp", "ln", "pi"];
}
