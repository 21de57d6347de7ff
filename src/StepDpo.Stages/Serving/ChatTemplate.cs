using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace StepDpo.Stages.Serving;

public sealed record ChatMessage(string Role, string Content);

/// <summary>
/// Turns chat messages into the prompt the model was tuned on. A model folder's chat template (tokenizer_config.json's
/// <c>chat_template</c>, or chat_template.jinja) is a Jinja program; rather than interpret Jinja, the formats the
/// supported families use are recognised in it and written out here:
///   ChatML (Qwen2, Qwen2.5): "&lt;|im_start|&gt;ROLE\nCONTENT&lt;|im_end|&gt;\n" per message, the template's default system
///     message when the first message is not a system one, then "&lt;|im_start|&gt;assistant\n";
///   Llama 3: BOS, "&lt;|start_header_id|&gt;ROLE&lt;|end_header_id|&gt;\n\nCONTENT&lt;|eot_id|&gt;" per message (content
///     trimmed), then the assistant header.
/// A model without a chat template (the byte-level tiny models) gets <see cref="Plain"/>: each message's content
/// followed by a newline, which for one user message is exactly the `plain` prompt template ("{problem}\n").
/// Any other template is refused rather than guessed.
/// </summary>
public sealed partial class ChatTemplate
{
    readonly Func<IReadOnlyList<ChatMessage>, string> render;
    public string Name { get; }

    ChatTemplate(string name, Func<IReadOnlyList<ChatMessage>, string> render)
    {
        Name = name;
        this.render = render;
    }

    public string Render(IReadOnlyList<ChatMessage> messages) => render(messages);

    public static ChatTemplate Plain { get; } = new("plain", messages =>
        string.Concat(messages.Select(m => m.Content + "\n")));

    /// <summary>The template of a model folder; <see cref="Plain"/> when it has none.</summary>
    public static ChatTemplate Load(string modelDir)
    {
        var source = Source(modelDir);
        return source is null ? Plain : FromSource(source);
    }

    public static ChatTemplate FromSource(string source)
    {
        if (source.Contains("<|im_start|>", StringComparison.Ordinal))
        {
            // The default system message is a string literal in the template ('...system\nYou are ...<|im_end|>\n').
            var match = DefaultSystem().Match(source);
            string? system = match.Success ? Unescape(match.Groups[1].Value) : null;
            return new ChatTemplate("chatml", messages =>
            {
                var text = new StringBuilder();
                if (system is not null && messages[0].Role != "system") text.Append($"<|im_start|>system\n{system}<|im_end|>\n");
                foreach (var m in messages) text.Append($"<|im_start|>{m.Role}\n{m.Content}<|im_end|>\n");
                return text.Append("<|im_start|>assistant\n").ToString();
            });
        }
        if (source.Contains("<|start_header_id|>", StringComparison.Ordinal))
            return new ChatTemplate("llama3", messages =>
            {
                var text = new StringBuilder("<|begin_of_text|>");
                foreach (var m in messages) text.Append($"<|start_header_id|>{m.Role}<|end_header_id|>\n\n{m.Content.Trim()}<|eot_id|>");
                return text.Append("<|start_header_id|>assistant<|end_header_id|>\n\n").ToString();
            });
        return new ChatTemplate("unsupported", _ => throw new NotSupportedException(
            "this model's chat template is neither ChatML nor Llama 3, the formats stepdpo serve writes; " +
            "render the prompt yourself and use /v1/completions"));
    }

    static string? Source(string modelDir)
    {
        var jinja = Path.Combine(modelDir, "chat_template.jinja");
        if (File.Exists(jinja)) return File.ReadAllText(jinja);
        var config = Path.Combine(modelDir, "tokenizer_config.json");
        if (!File.Exists(config)) return null;
        using var doc = JsonDocument.Parse(File.ReadAllText(config));
        if (!doc.RootElement.TryGetProperty("chat_template", out var t)) return null;
        return t.ValueKind switch
        {
            JsonValueKind.String => t.GetString(),
            // A list of named templates: the "default" one.
            JsonValueKind.Array => t.EnumerateArray().Where(x => x.TryGetProperty("name", out var n) && n.GetString() == "default")
                .Select(x => x.GetProperty("template").GetString()).FirstOrDefault(),
            _ => null,
        };
    }

    static string Unescape(string literal) => literal.Replace("\\n", "\n").Replace("\\'", "'");

    // "\n" as written in the Jinja literal, or the newline itself (tokenizer_config.json stores the decoded string).
    [GeneratedRegex(@"<\|im_start\|>system(?:\\n|\n)([^'""{}]+?)<\|im_end\|>")]
    private static partial Regex DefaultSystem();
}
