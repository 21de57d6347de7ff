using System.Globalization;
using System.Text.RegularExpressions;

namespace StepDpo.Text;

/// <summary>The Split pre-tokenizer with behaviour Isolated: every regex match is a piece, and so is every gap
/// between matches. Hugging Face runs the pattern with Oniguruma over code points; .NET's Regex works on UTF-16
/// units, where a character outside the BMP (𝑥, 𝟙, emoji, CJK extension B) is two surrogates of category Cs and
/// would not match \p{L} or \p{N}. So text with surrogate pairs is matched on a proxy string holding, for every
/// code point, one BMP character of the same Unicode general category; match offsets are mapped back.</summary>
public sealed class RegexSplitter
{
    readonly Regex regex;

    public RegexSplitter(string pattern)
    {
        this.regex = new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
    }

    /// <summary>Throws a TokenizerFormatException when .NET cannot compile the pattern.</summary>
    public static void Validate(string pattern, string source)
    {
        try { _ = new Regex(pattern, RegexOptions.CultureInvariant); }
        catch (ArgumentException e)
        {
            throw new TokenizerFormatException($"{source}: pre_tokenizer: Split regex /{pattern}/ is not supported: {e.Message}", e);
        }
    }

    /// <summary>Appends the pieces of text[start..start+length] as (start, length) pairs in text.</summary>
    public void Split(string text, int start, int length, List<(int Start, int Length)> pieces)
    {
        if (length == 0) return;
        var span = text.AsSpan(start, length);
        if (span.IndexOfAnyInRange('\uD800', '\uDFFF') < 0)
        {
            int last = 0;
            foreach (var m in this.regex.EnumerateMatches(span))
            {
                if (m.Length == 0) continue;
                if (m.Index > last) pieces.Add((start + last, m.Index - last));
                pieces.Add((start + m.Index, m.Length));
                last = m.Index + m.Length;
            }
            if (last < length) pieces.Add((start + last, length - last));
            return;
        }
        SplitViaProxy(span, start, pieces);
    }

    void SplitViaProxy(ReadOnlySpan<char> span, int start, List<(int, int)> pieces)
    {
        // proxy[k] stands for the code point starting at offsets[k]; offsets[proxy.Length] = span.Length.
        var proxy = new char[span.Length];
        var offsets = new int[span.Length + 1];
        int n = 0;
        for (int i = 0; i < span.Length;)
        {
            offsets[n] = i;
            if (char.IsHighSurrogate(span[i]) && i + 1 < span.Length && char.IsLowSurrogate(span[i + 1]))
            {
                proxy[n++] = StandIn(CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(span[i], span[i + 1])));
                i += 2;
            }
            else proxy[n++] = span[i++];
        }
        offsets[n] = span.Length;
        int last = 0;
        foreach (var m in this.regex.EnumerateMatches(proxy.AsSpan(0, n)))
        {
            if (m.Length == 0) continue;
            int from = offsets[m.Index], to = offsets[m.Index + m.Length];
            if (from > last) pieces.Add((start + last, from - last));
            pieces.Add((start + from, to - from));
            last = to;
        }
        if (last < span.Length) pieces.Add((start + last, span.Length - last));
    }

    /// <summary>A BMP character of the given category that is not whitespace, not ASCII and folds to no ASCII letter,
    /// so it behaves like the astral character for \p{..}, \s and the case-insensitive contractions.</summary>
    static char StandIn(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter => '\u0100',
        UnicodeCategory.LowercaseLetter => '\u0101',
        UnicodeCategory.TitlecaseLetter => '\u01C5',
        UnicodeCategory.ModifierLetter => '\u02B0',
        UnicodeCategory.OtherLetter => '\u4E00',
        UnicodeCategory.NonSpacingMark => '\u0300',
        UnicodeCategory.SpacingCombiningMark => '\u0903',
        UnicodeCategory.EnclosingMark => '\u20DD',
        UnicodeCategory.DecimalDigitNumber => '\u0660',
        UnicodeCategory.LetterNumber => '\u2160',
        UnicodeCategory.OtherNumber => '\u00B2',
        UnicodeCategory.ConnectorPunctuation => '\u203F',
        UnicodeCategory.DashPunctuation => '\u2010',
        UnicodeCategory.OpenPunctuation => '\u2045',
        UnicodeCategory.ClosePunctuation => '\u2046',
        UnicodeCategory.InitialQuotePunctuation => '\u00AB',
        UnicodeCategory.FinalQuotePunctuation => '\u00BB',
        UnicodeCategory.OtherPunctuation => '\u00A1',
        UnicodeCategory.MathSymbol => '\u00AC',
        UnicodeCategory.CurrencySymbol => '\u00A2',
        UnicodeCategory.ModifierSymbol => '\u00B4',
        UnicodeCategory.Format => '\u00AD',
        UnicodeCategory.PrivateUse => '\uE000',
        UnicodeCategory.OtherNotAssigned => '\u0378',
        _ => '\u00A6', // OtherSymbol (emoji) and anything else
    };
}
