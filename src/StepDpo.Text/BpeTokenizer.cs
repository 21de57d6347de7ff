using System.Runtime.CompilerServices;
using System.Text;
using StepDpo.Text.Unicode;

namespace StepDpo.Text;

/// <summary>Byte-level BPE as Hugging Face `tokenizers` runs it for Qwen2 and Llama-3: added tokens are cut out
/// first, the rest is NFC-normalised (when configured), split by the pre-tokenizer regexes, mapped byte by byte to
/// the GPT-2 alphabet and merged by the BPE model. Thread-safe.</summary>
public sealed class BpeTokenizer : ITokenizer
{
    readonly BpeModel model;
    readonly bool nfc;
    readonly RegexSplitter[] splitters;
    readonly AddedTokenMatcher rawAdded;        // added tokens with normalized = false: matched before normalising
    readonly AddedTokenMatcher normalizedAdded; // normalized = true: matched in the normalised text
    readonly string?[] idToToken;
    readonly bool[] isSpecial;
    readonly Dictionary<string, int> specialTokens;
    readonly Dictionary<string, int> addedByContent;

    public BpeTokenizer(TokenizerDefinition definition, int? bosId = null, IReadOnlyList<int>? eosIds = null, int? padId = null)
    {
        Definition = definition;
        this.model = new BpeModel(definition.Vocab, definition.Merges, definition.IgnoreMerges, definition.UnkToken, definition.FuseUnk, definition.MergeIds);
        nfc = definition.Nfc;
        splitters = definition.SplitPatterns.Select(p => new RegexSplitter(p)).ToArray();
        rawAdded = new AddedTokenMatcher(definition.AddedTokens.Where(t => !t.Normalized));
        normalizedAdded = new AddedTokenMatcher(definition.AddedTokens.Where(t => t.Normalized));
        int size = Math.Max(definition.Vocab.Count == 0 ? 0 : definition.Vocab.Values.Max() + 1,
            definition.AddedTokens.Count == 0 ? 0 : definition.AddedTokens.Max(t => t.Id) + 1);
        idToToken = new string?[size];
        isSpecial = new bool[size];
        foreach (var (token, id) in definition.Vocab) idToToken[id] = token;
        specialTokens = new Dictionary<string, int>(StringComparer.Ordinal);
        addedByContent = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in definition.AddedTokens)
        {
            idToToken[t.Id] = t.Content;
            addedByContent[t.Content] = t.Id;
            if (t.Special) { isSpecial[t.Id] = true; specialTokens[t.Content] = t.Id; }
        }
        foreach (int id in new[] { bosId, padId }.OfType<int>().Concat(eosIds ?? []))
            if (id < 0 || id >= size) throw new ArgumentOutOfRangeException(nameof(eosIds), $"bos/eos/pad token id {id} is outside the vocabulary (0..{size - 1})");
        BosId = bosId;
        EosIds = eosIds ?? [];
        PadId = padId;
    }

    /// <summary>Loads a tokenizer.json (or tokenizer.json.gz); no bos/eos (see <see cref="Tokenizers.Load"/> for those).</summary>
    public static BpeTokenizer FromFile(string tokenizerJsonPath) => new(TokenizerJsonReader.ReadFile(tokenizerJsonPath));

    public TokenizerDefinition Definition { get; }
    internal BpeModel Model => this.model;
    public int VocabSize => idToToken.Length;
    public int? BosId { get; }
    public IReadOnlyList<int> EosIds { get; }
    public int? PadId { get; }
    public IReadOnlyDictionary<string, int> SpecialTokens => specialTokens;

    public string? TokenToString(int id) => id >= 0 && id < idToToken.Length ? idToToken[id] : null;

    public int? TokenToId(string token) =>
        addedByContent.TryGetValue(token, out int a) ? a : this.model.Vocab.TryGetValue(token, out int v) ? v : null;

    public bool IsSpecial(int id) => id >= 0 && id < isSpecial.Length && isSpecial[id];

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        // Hugging Face receives UTF-8; a lone surrogate cannot be encoded and becomes U+FFFD, as any UTF-8 encoder does.
        text = ReplaceLoneSurrogates(text);
        var ids = new List<int>(text.Length / 3 + 4);
        var segments = new List<(int Start, int Length, AddedToken? Token)>();
        rawAdded.Split(text, 0, text.Length, segments);
        var pieces = new List<(int Start, int Length)>();
        var inner = new List<(int Start, int Length, AddedToken? Token)>();
        foreach (var (start, length, token) in segments)
        {
            if (token != null) { ids.Add(token.Id); continue; }
            // Normalise segment by segment (added tokens are never normalised); most text is already NFC.
            string normalized = text;
            int nStart = start, nLength = length;
            if (nfc && !NfcNormalizer.IsQuickStable(text.AsSpan(start, length)))
            {
                normalized = NfcNormalizer.Normalize(text.Substring(start, length));
                nStart = 0;
                nLength = normalized.Length;
            }
            inner.Clear();
            if (normalizedAdded.IsEmpty) inner.Add((nStart, nLength, null));
            else normalizedAdded.Split(normalized, nStart, nLength, inner);
            foreach (var (s, l, t) in inner)
            {
                if (t != null) { ids.Add(t.Id); continue; }
                pieces.Clear();
                PreTokenize(normalized, s, l, pieces);
                foreach (var (ps, pl) in pieces) EncodePiece(normalized.AsSpan(ps, pl), ids);
            }
        }
        return ids.ToArray();
    }

    void PreTokenize(string text, int start, int length, List<(int, int)> pieces)
    {
        if (splitters.Length == 1) { splitters[0].Split(text, start, length, pieces); return; }
        pieces.Add((start, length));
        foreach (var splitter in splitters)
        {
            var input = pieces.ToArray();
            pieces.Clear();
            foreach (var (s, l) in input) splitter.Split(text, s, l, pieces);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void EncodePiece(ReadOnlySpan<char> piece, List<int> ids)
    {
        // ByteLevel: UTF-8 bytes, each shown as its alphabet character, then BPE on that string.
        int maxBytes = Encoding.UTF8.GetMaxByteCount(piece.Length);
        Span<byte> bytes = maxBytes <= 1024 ? stackalloc byte[maxBytes] : new byte[maxBytes];
        int n = Encoding.UTF8.GetBytes(piece, bytes);
        Span<char> chars = n <= 1024 ? stackalloc char[n] : new char[n];
        for (int i = 0; i < n; i++) chars[i] = ByteLevelAlphabet.ByteToChar[bytes[i]];
        this.model.Encode(chars, ids);
    }

    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        // ByteLevel decoder: each token's characters back to bytes; a token with a character outside the alphabet
        // (an added token such as "<think>" is fine, "→" is not) contributes its own UTF-8 bytes. The bytes are then
        // decoded with U+FFFD for each maximal invalid subsequence, as Rust's String::from_utf8_lossy does.
        var bytes = new List<byte>(ids.Length * 4);
        Span<byte> utf8 = stackalloc byte[4];
        foreach (int id in ids)
        {
            if (id < 0) throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} is negative");
            // An id the tokenizer does not know is dropped, as Hugging Face does: a model's output layer is often
            // wider than its vocabulary (Qwen2: 151,936 logits for 151,669 tokens).
            if (TokenToString(id) is not string token) continue;
            if (skipSpecialTokens && isSpecial[id]) continue;
            int start = bytes.Count;
            bool mapped = true;
            foreach (char c in token)
            {
                int b = ByteLevelAlphabet.CharToByte(c);
                if (b < 0) { mapped = false; break; }
                bytes.Add((byte)b);
            }
            if (!mapped)
            {
                bytes.RemoveRange(start, bytes.Count - start);
                bytes.AddRange(Encoding.UTF8.GetBytes(token));
            }
        }
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    static string ReplaceLoneSurrogates(string text)
    {
        int i = text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF');
        if (i < 0) return text;
        var chars = text.ToCharArray();
        for (; i < chars.Length; i++)
        {
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1])) { i++; continue; }
            if (char.IsSurrogate(chars[i])) chars[i] = '\uFFFD';
        }
        return new string(chars);
    }
}
