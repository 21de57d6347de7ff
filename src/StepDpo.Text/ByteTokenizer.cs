using System.Text.Encodings.Web;
using System.Text.Json;

namespace StepDpo.Text;

/// <summary>A tokenizer with one token per byte (ids 0-255 = byte values) and four special tokens, for the tiny test
/// models and the synthetic experiment. It is written as an ordinary Hugging Face tokenizer.json (BPE with no merges,
/// ByteLevel pre-tokenizer and decoder, no normaliser) so that `tokenizers` loads it too, and it is read back
/// through the same loader as Qwen's.</summary>
public static class ByteTokenizer
{
    public const int EndOfText = 256, ImStart = 257, ImEnd = 258, Pad = 259;
    public const int Size = 260;
    public static readonly IReadOnlyList<string> SpecialTokenNames = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"];

    /// <summary>Writes tokenizer.json and tokenizer_config.json into <paramref name="dir"/> (created if missing).</summary>
    public static void WriteTokenizerJson(string dir)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, "tokenizer.json"), TokenizerJsonBytes());
        File.WriteAllBytes(Path.Combine(dir, "tokenizer_config.json"), TokenizerConfigBytes());
    }

    /// <summary>The byte tokenizer with eos &lt;|endoftext|&gt; (+ &lt;|im_end|&gt;) and pad &lt;|pad|&gt;, built from
    /// the same tokenizer.json that <see cref="WriteTokenizerJson"/> writes.</summary>
    public static BpeTokenizer Create()
    {
        using var stream = new MemoryStream(TokenizerJsonBytes());
        var definition = TokenizerJsonReader.Read(stream, "ByteTokenizer");
        return new BpeTokenizer(definition, bosId: null, eosIds: [EndOfText, ImEnd], padId: Pad);
    }

    static readonly JsonWriterOptions WriterOptions = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    static byte[] TokenizerJsonBytes()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            w.WriteStartArray("added_tokens");
            for (int i = 0; i < SpecialTokenNames.Count; i++)
            {
                w.WriteStartObject();
                w.WriteNumber("id", EndOfText + i);
                w.WriteString("content", SpecialTokenNames[i]);
                w.WriteBoolean("single_word", false);
                w.WriteBoolean("lstrip", false);
                w.WriteBoolean("rstrip", false);
                w.WriteBoolean("normalized", false);
                w.WriteBoolean("special", true);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNull("normalizer");
            WriteByteLevel(w, "pre_tokenizer");
            w.WriteNull("post_processor");
            WriteByteLevel(w, "decoder");
            w.WriteStartObject("model");
            w.WriteString("type", "BPE");
            w.WriteNull("dropout");
            w.WriteNull("unk_token");
            w.WriteNull("continuing_subword_prefix");
            w.WriteNull("end_of_word_suffix");
            w.WriteBoolean("fuse_unk", false);
            w.WriteBoolean("byte_fallback", false);
            w.WriteBoolean("ignore_merges", false);
            w.WriteStartObject("vocab");
            for (int b = 0; b < 256; b++) w.WriteNumber(ByteLevelAlphabet.ByteToChar[b].ToString(), b);
            w.WriteEndObject();
            w.WriteStartArray("merges");
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    static void WriteByteLevel(Utf8JsonWriter w, string name)
    {
        // use_regex false: with no merges the split points cannot change the ids, and one piece per segment is fastest.
        w.WriteStartObject(name);
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", false);
        w.WriteBoolean("trim_offsets", false);
        w.WriteBoolean("use_regex", false);
        w.WriteEndObject();
    }

    static byte[] TokenizerConfigBytes()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            w.WriteBoolean("add_bos_token", false);
            w.WriteNull("bos_token");
            w.WriteString("eos_token", "<|endoftext|>");
            w.WriteString("pad_token", "<|pad|>");
            w.WriteNull("unk_token");
            w.WriteBoolean("clean_up_tokenization_spaces", false);
            w.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }
}
