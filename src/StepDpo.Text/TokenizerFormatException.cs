using StepDpo.Core;

namespace StepDpo.Text;

/// <summary>A tokenizer.json or tokenizer_config.json that cannot be used: malformed, or using a feature this
/// implementation does not reproduce. The message names the file, the JSON key (and line for syntax errors).</summary>
public sealed class TokenizerFormatException(string message, Exception? inner = null) : StepDpoException(message, inner);
