namespace StepDpo.Text;

/// <summary>A token of the `added_tokens` list of tokenizer.json: matched in the text before pre-tokenization.</summary>
/// <param name="Normalized">Matched after normalisation when true, in the raw text when false.</param>
/// <param name="LStrip">The match swallows whitespace on its left.</param>
/// <param name="RStrip">The match swallows whitespace on its right.</param>
/// <param name="SingleWord">Only matches when not inside a word.</param>
public sealed record AddedToken(int Id, string Content, bool Special, bool LStrip = false, bool RStrip = false,
    bool SingleWord = false, bool Normalized = false);
