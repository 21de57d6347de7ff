using System.Numerics;
using StepDpo.Answers.Numbers;

namespace StepDpo.Answers.Expressions;

/// <summary>Recursive-descent parser from (normalised) LaTeX to <see cref="Expr"/>: + - * / ^,
/// \cdot \times \div, implicit multiplication ("2x", "3\sqrt2", "(x+1)(x-1)"), \frac, \sqrt[n],
/// \binom, factorials, |x|, floor/ceil, trig and logs (with bases), pi, e, i, \infty, subscripted
/// and Greek variables, mixed numbers ("2\frac{1}{2}") and repeating decimals ("0.\overline{3}").
/// Anything else is a parse failure (null), never an exception to the caller.</summary>
internal sealed class LatexParser
{
    private readonly List<Token> tokens;
    private readonly WorkBudget budget;
    private int pos;
    private int depth;
    private int absDepth;

    private LatexParser(List<Token> tokens, WorkBudget budget, int depth) { this.tokens = tokens; this.budget = budget; this.depth = depth; }

    /// <param name="depth">nesting already used by an enclosing parse (\text{...} re-parses its content).</param>
    public static Expr? TryParse(string text, WorkBudget budget, int depth = 0)
    {
        if (depth > WorkBudget.MaxDepth) return null;
        try
        {
            var parser = new LatexParser(LatexTokenizer.Tokenize(text, budget), budget, depth);
            var e = parser.ParseExpression();
            return parser.Peek.Kind == TokenKind.End ? e : null;
        }
        catch (ParseFailure) { return null; }
    }

    private sealed class ParseFailure : Exception;
    private static ParseFailure Fail() => new();

    private Token Peek => this.tokens[pos];
    private Token Next() { this.budget.Spend(); return this.tokens[pos++]; }
    private void Expect(string symbol) { if (!Peek.Is(symbol)) throw Fail(); pos++; }

    private Expr ParseExpression()
    {
        if (++this.depth > WorkBudget.MaxDepth) throw Fail();
        var left = ParseTerm();
        while (Peek.Is("+") || Peek.Is("-"))
        {
            var op = Next().Text == "+" ? BinaryOp.Add : BinaryOp.Subtract;
            left = new BinaryExpr(op, left, ParseTerm());
        }
        this.depth--;
        return left;
    }

    private Expr ParseTerm()
    {
        var left = ParseUnary();
        while (true)
        {
            var t = Peek;
            if (t.Is("*") || t.Is("\\cdot") || t.Is("\\times") || t.Is("\\ast"))
            { Next(); left = new BinaryExpr(BinaryOp.Multiply, left, ParseUnary()); }
            else if (t.Is("/") || t.Is("\\div"))
            { Next(); left = new BinaryExpr(BinaryOp.Divide, left, ParseUnary()); }
            else if (StartsPrimary(t))
            {
                bool leftIsIntegerLiteral = left is NumberExpr { Value.IsInteger: true } && this.tokens[pos - 1].Kind == TokenKind.Number;
                var right = ParsePower();
                // "2\frac{1}{2}" is the mixed number 5/2, not 2 * 1/2.
                if (leftIsIntegerLiteral && right is BinaryExpr { Op: BinaryOp.Divide, Left: NumberExpr { Value: var n }, Right: NumberExpr { Value: var d } }
                    && n.IsInteger && d.IsInteger && n.Sign > 0 && n.CompareTo(d) < 0 && lastWasFrac)
                    left = new BinaryExpr(BinaryOp.Add, left, right);
                else left = new BinaryExpr(BinaryOp.Multiply, left, right);
            }
            else return left;
        }
    }

    private bool lastWasFrac;

    private bool StartsPrimary(Token t) => t.Kind switch
    {
        TokenKind.Number or TokenKind.Letter => true,
        TokenKind.Symbol => t.Text is "(" or "[" or "{" || (t.Text == "|" && absDepth == 0),
        TokenKind.Command => t.Text is not ("\\cdot" or "\\times" or "\\div" or "\\ast" or "\\rfloor" or "\\rceil" or "\\rvert" or "\\}" or "\\pm" or "\\mp")
                             && (absDepth == 0 || t.Text is not ("\\vert" or "\\|")),
        _ => false,
    };

    private Expr ParseUnary()
    {
        if (Peek.Is("-")) { Next(); return new NegateExpr(ParseUnary()); }
        if (Peek.Is("+")) { Next(); return ParseUnary(); }
        return ParsePower();
    }

    private Expr ParsePower()
    {
        var b = ParsePostfix(ParsePrimary());
        if (Peek.Is("^"))
        {
            Next();
            if (++this.depth > WorkBudget.MaxDepth) throw Fail();
            var exponent = Peek.Is("-") ? new NegateExpr(ParseArgument()) : ParseArgument(negOk: true);
            this.depth--;
            b = new BinaryExpr(BinaryOp.Power, b, exponent);
            b = ParsePostfix(b);
        }
        return b;
    }

    private Expr ParsePostfix(Expr e)
    {
        while (Peek.Is("!")) { Next(); e = new FunctionExpr("factorial", [e]); }
        return e;
    }

    /// <summary>The argument of ^, \frac, \sqrt: a braced group, or one primary ("x^2", "\frac12").</summary>
    private Expr ParseArgument(bool negOk = false)
    {
        if (Peek.Is("-") && negOk) { Next(); return new NegateExpr(ParseArgument()); }
        if (Peek.Is("{"))
        {
            Next();
            var e = ParseExpression();
            Expect("}");
            return e;
        }
        if (Peek.Is("-")) { Next(); return new NegateExpr(ParseArgument()); }
        return ParsePrimary();
    }

    private Expr ParsePrimary()
    {
        if (++this.depth > WorkBudget.MaxDepth) throw Fail();
        lastWasFrac = false;
        var t = Next();
        Expr result = t.Kind switch
        {
            TokenKind.Number => ParseNumber(t.Text),
            TokenKind.Letter => ParseLetter(t.Text),
            TokenKind.Symbol => ParseGroup(t.Text),
            TokenKind.Command => ParseCommand(t.Text),
            _ => throw Fail(),
        };
        this.depth--;
        return result;
    }

    private Expr ParseNumber(string text)
    {
        BigRational value;
        int e = text.IndexOfAny(['e', 'E']);
        if (e >= 0)
        {
            var mantissa = BigRational.ParseDecimal(text.AsSpan(0, e)) ?? throw Fail();
            if (!int.TryParse(text.AsSpan(e + 1), out int exp) || System.Math.Abs(exp) > 4000) throw Fail();
            value = mantissa * BigRational.Pow(new BigRational(10), exp);
        }
        else value = BigRational.ParseDecimal(text) ?? throw Fail();
        // "0.\overline{3}" and "0.1\overline{6}": the group repeats forever.
        if (Peek.Is("\\overline") && text.Contains('.') && e < 0)
        {
            Next();
            var digits = ReadRawGroup();
            if (digits.Length == 0 || digits.Length > 50 || !digits.All(char.IsAsciiDigit)) throw Fail();
            int decimals = text.Length - text.IndexOf('.') - 1;
            var repeat = new BigRational(BigInteger.Parse(digits),
                (BigInteger.Pow(10, digits.Length) - 1) * BigInteger.Pow(10, decimals));
            value = text.StartsWith('-') ? value - repeat : value + repeat;
        }
        return new NumberExpr(value);
    }

    /// <summary>The raw characters of a braced group of plain tokens ("{12}" gives "12").</summary>
    private string ReadRawGroup()
    {
        Expect("{");
        var sb = new System.Text.StringBuilder();
        while (!Peek.Is("}"))
        {
            if (Peek.Kind == TokenKind.End) throw Fail();
            sb.Append(Next().Text);
        }
        Next();
        return sb.ToString();
    }

    private Expr ParseLetter(string letter)
    {
        Expr e = letter switch
        {
            "e" => new ConstantExpr(ConstantKind.E),
            "i" => new ConstantExpr(ConstantKind.I),
            _ => new VariableExpr(letter),
        };
        return WithSubscript(e, letter);
    }

    /// <summary>"x_1", "a_{n}": a subscripted variable is a variable of its own.</summary>
    private Expr WithSubscript(Expr e, string name)
    {
        if (!Peek.Is("_")) return e;
        Next();
        string sub = Peek.Is("{") ? ReadRawGroup() : Next().Text;
        return new VariableExpr(name + "_" + sub);
    }

    private Expr ParseGroup(string open)
    {
        switch (open)
        {
            case "(":
            case "[":
            {
                var e = ParseExpression();
                Expect(open == "(" ? ")" : "]");
                return e;
            }
            case "{":
            {
                var e = ParseExpression();
                Expect("}");
                return e;
            }
            case "|":
            {
                absDepth++;
                var e = ParseExpression();
                absDepth--;
                Expect("|");
                return new FunctionExpr("abs", [e]);
            }
            default: throw Fail();
        }
    }

    private static readonly HashSet<string> Functions =
    [
        "sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
        "ln", "log", "exp",
    ];

    private static readonly HashSet<string> Greek =
    [
        "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota", "kappa",
        "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega",
        "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega",
    ];

    private Expr ParseCommand(string command)
    {
        var name = command[1..];
        switch (name)
        {
            case "frac": case "dfrac": case "tfrac":
            {
                var num = ParseArgument();
                var den = ParseArgument();
                var e = new BinaryExpr(BinaryOp.Divide, num, den);
                lastWasFrac = true;
                return e;
            }
            case "sqrt":
            {
                if (Peek.Is("["))
                {
                    Next();
                    var degree = ParseExpression();
                    Expect("]");
                    return new FunctionExpr("root", [ParseArgument(), degree]);
                }
                return new FunctionExpr("sqrt", [ParseArgument()]);
            }
            case "binom": case "dbinom": case "tbinom":
                return new FunctionExpr("binom", [ParseArgument(), ParseArgument()]);
            case "pi": return new ConstantExpr(ConstantKind.Pi);
            case "infty": case "infin": return new ConstantExpr(ConstantKind.Infinity);
            case "lfloor": { var e = ParseExpression(); Expect("\\rfloor"); return new FunctionExpr("floor", [e]); }
            case "lceil": { var e = ParseExpression(); Expect("\\rceil"); return new FunctionExpr("ceil", [e]); }
            case "lvert": { var e = ParseExpression(); Expect("\\rvert"); return new FunctionExpr("abs", [e]); }
            case "vert": case "|":
            {
                absDepth++;
                var e = ParseExpression();
                absDepth--;
                Expect(command);
                return new FunctionExpr("abs", [e]);
            }
            case "{": { var e = ParseExpression(); Expect("\\}"); return e; }
            case "text": case "mathrm": case "textrm": case "mathbf": case "mathit": case "operatorname": case "rm":
            {
                // Only math inside (e.g. \mathrm{e}, \operatorname{sin}); words make the answer text, not math.
                var inner = ReadRawGroup();
                if (Functions.Contains(inner)) return ParseFunction(inner);
                var sub = TryParse(inner, this.budget, this.depth + 1) ?? throw Fail();
                return sub;
            }
            case "mathbb":
                throw Fail();
        }
        if (Functions.Contains(name)) return ParseFunction(name);
        if (Greek.Contains(name)) return WithSubscript(new VariableExpr(name), name);
        throw Fail();
    }

    /// <summary>"\sin x", "\sin(2x)", "\sin^2 x", "\log_2 8", "\ln|x|".</summary>
    private Expr ParseFunction(string name)
    {
        Expr? logBase = null;
        Expr? power = null;
        if (name == "log" && Peek.Is("_")) { Next(); logBase = ParseArgument(); }
        if (Peek.Is("^"))
        {
            Next();
            power = ParseArgument(negOk: true);
        }
        Expr arg;
        if (Peek.Is("(")) { Next(); arg = ParseExpression(); Expect(")"); }
        else arg = ParseImplicitProduct();
        Expr e;
        if (logBase is not null) e = new FunctionExpr("log", [arg, logBase]);
        else if (power is NegateExpr { Operand: NumberExpr { Value.IsInteger: true, Value.Numerator.IsOne: true } } && name is "sin" or "cos" or "tan")
            return new FunctionExpr("arc" + name, [arg]); // \sin^{-1} x is arcsin
        else e = new FunctionExpr(name, [arg]);
        return power is null ? e : new BinaryExpr(BinaryOp.Power, e, power);
    }

    /// <summary>An unparenthesised function argument: factors joined by implicit multiplication,
    /// stopping at the next function so "\sin x \cos x" is a product of two functions.</summary>
    private Expr ParseImplicitProduct()
    {
        var e = ParsePower();
        while (StartsPrimary(Peek) && !(Peek.Kind == TokenKind.Command && Functions.Contains(Peek.Text[1..])))
            e = new BinaryExpr(BinaryOp.Multiply, e, ParsePower());
        return e;
    }
}
