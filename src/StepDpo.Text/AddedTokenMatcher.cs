using System.Buffers;

namespace StepDpo.Text;

/// <summary>Finds added tokens (e.g. &lt;|im_start|&gt;) in text the way Hugging Face's AddedVocabulary does:
/// leftmost-longest matches, scanning left to right, then single_word / lstrip / rstrip applied per match.</summary>
public sealed class AddedTokenMatcher
{
    readonly Dictionary<char, AddedToken[]> byFirstChar; // candidates per first char, longest first
    readonly SearchValues<char> firstChars;

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        byFirstChar = tokens.GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
        firstChars = SearchValues.Create(byFirstChar.Keys.ToArray());
    }

    public bool IsEmpty => byFirstChar.Count == 0;

    /// <summary>Splits text[start..start+length] into segments; Token is null for ordinary text.</summary>
    public void Split(string text, int start, int length, List<(int Start, int Length, AddedToken? Token)> segments)
    {
        int end = start + length;
        int emitted = start; // text before this offset is already in segments
        int pos = start;
        while (pos < end)
        {
            int rel = text.AsSpan(pos, end - pos).IndexOfAny(firstChars);
            if (rel < 0) break;
            pos += rel;
            var token = LongestAt(text, pos, end);
            if (token == null) { pos++; continue; }
            int matchStart = pos, matchEnd = pos + token.Content.Length;
            if (token.SingleWord && (IsWordBefore(text, matchStart, start) || IsWordAfter(text, matchEnd, end)))
            {
                pos++;
                continue;
            }
            if (token.LStrip)
                while (matchStart > emitted && char.IsWhiteSpace(text[matchStart - 1])) matchStart--;
            if (token.RStrip)
                while (matchEnd < end && char.IsWhiteSpace(text[matchEnd])) matchEnd++;
            if (matchStart > emitted) segments.Add((emitted, matchStart - emitted, null));
            segments.Add((matchStart, matchEnd - matchStart, token));
            emitted = pos = matchEnd;
        }
        if (emitted < end) segments.Add((emitted, end - emitted, null));
    }

    AddedToken? LongestAt(string text, int pos, int end)
    {
        foreach (var candidate in byFirstChar[text[pos]])
            if (candidate.Content.Length <= end - pos && text.AsSpan(pos, candidate.Content.Length).SequenceEqual(candidate.Content))
                return candidate;
        return null;
    }

    static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';
    static bool IsWordBefore(string text, int at, int start) => at > start && IsWordChar(text[at - 1]);
    static bool IsWordAfter(string text, int at, int end) => at < end && IsWordChar(text[at]);
}
