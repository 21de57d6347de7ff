using System.Reflection;
using StepDpo.Core;
using StepDpo.Text;

namespace StepDpo.Cli.Commands.Model;

/// <summary>
/// THE single call site into the Text engineer's tokenizer code (StepDpo.Text.Tokenizers.Load,
/// StepDpo.Text.ByteTokenizer.WriteTokenizerJson, StepDpo.Text.PromptTemplates.Render), written while that code was
/// on another branch. It binds by name at run time so this branch builds either way; after the merge the lead may
/// replace each body with the direct call shown in its comment.
/// </summary>
static class TextBridge
{
    static readonly Assembly TextAssembly = typeof(ITokenizer).Assembly;

    /// <summary>= StepDpo.Text.Tokenizers.Load(pathOrFolder)</summary>
    public static ITokenizer LoadTokenizer(string pathOrFolder) =>
        (ITokenizer)Invoke("StepDpo.Text.Tokenizers", "Load", pathOrFolder)!;

    /// <summary>= StepDpo.Text.ByteTokenizer.WriteTokenizerJson(folder)</summary>
    public static void WriteByteTokenizer(string folder) => Invoke("StepDpo.Text.ByteTokenizer", "WriteTokenizerJson", folder);

    /// <summary>= StepDpo.Text.PromptTemplates.Render(template, problem)</summary>
    public static string RenderPrompt(string template, string problem) =>
        (string)Invoke("StepDpo.Text.PromptTemplates", "Render", template, problem)!;

    static object? Invoke(string typeName, string method, params object[] args)
    {
        var m = TextAssembly.GetType(typeName)?.GetMethod(method, BindingFlags.Public | BindingFlags.Static,
            args.Select(a => a.GetType()).ToArray())
            ?? throw new StepDpoException($"{typeName}.{method} is not available in this build (StepDpo.Text has not been merged yet)");
        try { return m.Invoke(null, args); }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
    }
}
