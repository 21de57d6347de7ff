using System.Numerics;

namespace StepDpo.Answers.Numbers;

/// <summary>An exact rational number on big integers, always in lowest terms with a positive
/// denominator, so that equal values have equal representations (and equality is structural).</summary>
public readonly struct BigRational : IEquatable<BigRational>, IComparable<BigRational>
{
    public BigInteger Numerator { get; }
    public BigInteger Denominator { get; }

    public static readonly BigRational Zero = new(BigInteger.Zero);
    public static readonly BigRational One = new(BigInteger.One);

    public BigRational(BigInteger integer) { Numerator = integer; Denominator = BigInteger.One; }

    public BigRational(BigInteger numerator, BigInteger denominator)
    {
        if (denominator.IsZero) throw new DivideByZeroException();
        if (denominator.Sign < 0) { numerator = -numerator; denominator = -denominator; }
        var g = BigInteger.GreatestCommonDivisor(numerator, denominator);
        if (!g.IsOne && !g.IsZero) { numerator /= g; denominator /= g; }
        Numerator = numerator;
        Denominator = numerator.IsZero ? BigInteger.One : denominator;
    }

    public bool IsInteger => Denominator.IsOne;
    public bool IsZero => Numerator.IsZero;
    public int Sign => Numerator.Sign;
    /// <summary>Bits needed to write the value; the evaluator uses it to refuse runaway growth.</summary>
    public long BitSize => (long)Numerator.GetBitLength() + (long)Denominator.GetBitLength();

    public static BigRational operator +(BigRational a, BigRational b) =>
        a.Denominator == b.Denominator
            ? new(a.Numerator + b.Numerator, a.Denominator)
            : new(a.Numerator * b.Denominator + b.Numerator * a.Denominator, a.Denominator * b.Denominator);
    public static BigRational operator -(BigRational a, BigRational b) => a + (-b);
    public static BigRational operator -(BigRational a) => new(-a.Numerator, a.Denominator);
    public static BigRational operator *(BigRational a, BigRational b) =>
        new(a.Numerator * b.Numerator, a.Denominator * b.Denominator);
    public static BigRational operator /(BigRational a, BigRational b) =>
        new(a.Numerator * b.Denominator, a.Denominator * b.Numerator);
    public static bool operator ==(BigRational a, BigRational b) => a.Equals(b);
    public static bool operator !=(BigRational a, BigRational b) => !a.Equals(b);

    public static BigRational Pow(BigRational b, int exponent)
    {
        if (exponent >= 0) return new(BigInteger.Pow(b.Numerator, exponent), BigInteger.Pow(b.Denominator, exponent));
        return new(BigInteger.Pow(b.Denominator, -exponent), BigInteger.Pow(b.Numerator, -exponent));
    }

    /// <summary>Exact k-th root when the value is a perfect k-th power (of numerator and
    /// denominator), else null. Negative values have odd roots only.</summary>
    public static BigRational? Root(BigRational value, int k)
    {
        if (k <= 0) return null;
        if (k == 1) return value;
        if (value.Sign < 0)
        {
            if (k % 2 == 0) return null;
            var r = Root(-value, k);
            return r is null ? null : -r.Value;
        }
        var n = IntegerRoot(value.Numerator, k);
        var d = IntegerRoot(value.Denominator, k);
        return n is null || d is null ? null : new BigRational(n.Value, d.Value);
    }

    /// <summary>Exact integer k-th root of a non-negative integer, by Newton's method; null when
    /// the integer is not a perfect power.</summary>
    public static BigInteger? IntegerRoot(BigInteger x, int k)
    {
        if (x.Sign < 0) return null;
        if (x < 2) return x;
        long bits = (long)x.GetBitLength();
        var guess = BigInteger.One << (int)((bits + k - 1) / k); // >= the true root
        while (true)
        {
            var next = ((k - 1) * guess + x / BigInteger.Pow(guess, k - 1)) / k;
            if (next >= guess) break;
            guess = next;
        }
        return BigInteger.Pow(guess, k) == x ? guess : null;
    }

    public double ToDouble()
    {
        double n = (double)Numerator, d = (double)Denominator;
        if (!double.IsInfinity(n) && !double.IsInfinity(d)) return n / d;
        // Huge parts: go through logarithms so that e.g. 10^400 / 10^399 is still 10.
        if (Numerator.IsZero) return 0;
        double log = BigInteger.Log(BigInteger.Abs(Numerator)) - BigInteger.Log(Denominator);
        return Numerator.Sign * System.Math.Exp(log);
    }

    public bool Equals(BigRational other) => Numerator == other.Numerator && Denominator == other.Denominator;
    public override bool Equals(object? obj) => obj is BigRational r && Equals(r);
    public override int GetHashCode() => HashCode.Combine(Numerator, Denominator);
    public int CompareTo(BigRational other) => (Numerator * other.Denominator).CompareTo(other.Numerator * Denominator);
    public override string ToString() => IsInteger ? Numerator.ToString() : $"{Numerator}/{Denominator}";

    /// <summary>Parses a plain decimal literal such as "12", "-0.25", ".5", "3." exactly; null otherwise.</summary>
    public static BigRational? ParseDecimal(ReadOnlySpan<char> s)
    {
        if (s.IsEmpty) return null;
        bool negative = false;
        if (s[0] is '-' or '+') { negative = s[0] == '-'; s = s[1..]; }
        int dot = s.IndexOf('.');
        var intPart = dot < 0 ? s : s[..dot];
        var fracPart = dot < 0 ? ReadOnlySpan<char>.Empty : s[(dot + 1)..];
        if (intPart.IsEmpty && fracPart.IsEmpty) return null;
        foreach (var c in intPart) if (!char.IsAsciiDigit(c)) return null;
        foreach (var c in fracPart) if (!char.IsAsciiDigit(c)) return null;
        var digits = string.Concat(intPart, fracPart);
        if (digits.Length == 0) return null;
        var value = new BigRational(BigInteger.Parse(digits), BigInteger.Pow(10, fracPart.Length));
        return negative ? -value : value;
    }
}
