using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace StepDpo.Torch.Tests.Placement;

/// <summary>
/// The half of the placement check that needs no device: a syntax-tree scan of the engine's sources. Every tensor
/// factory (torch.zeros, ones, empty, full, arange, tensor, rand, randn, eye, ...) must name its device, and every host
/// read (.data&lt;T&gt;(), .bytes) must visibly come from the host (.cpu(), or a tensor declared with device: CPU). A
/// factory without a device silently allocates on the CPU, which a CUDA run only notices as a device-mismatch error
/// (or a slow host round trip) deep inside a step; the meta-device tests catch the paths they can run, this catches
/// the rest (the model forward, generation, scoring) here, without a GPU.
/// </summary>
public static class TensorFactoryCheck
{
    /// <summary>Factories whose result lives on the default device (the CPU) unless told otherwise. The *_like
    /// factories follow their source tensor and are fine.</summary>
    public static readonly HashSet<string> Factories =
    [
        "zeros", "ones", "empty", "full", "arange", "tensor", "rand", "randn", "randint", "randperm", "eye",
        "linspace", "logspace", "from_array", "as_tensor", "scalar_tensor", "empty_strided", "normal", "tril_indices",
        "triu_indices",
    ];

    /// <summary>Files exempt as a whole, with the reason. Keep this short: every entry is a place where a CPU tensor is
    /// the point.</summary>
    public static readonly IReadOnlyDictionary<string, string> ExemptFiles = new Dictionary<string, string>
    {
        // File I/O: staging buffers and tensors read from disk are host memory by definition; Checkpoint.Load copies
        // them into the model, which was built on the run's device.
        ["Checkpoints/SafeTensors.cs"] = "safetensors file I/O stages through host memory",
        ["Checkpoints/TensorBytes.cs"] = "chunked file I/O: every span it reads or writes is a host slice (the tensor itself when it is on the host, else a host staging buffer)",
    };

    /// <summary>Single expressions exempt, as "file: expression text", with the reason.</summary>
    public static readonly IReadOnlyDictionary<string, string> ExemptExpressions = new Dictionary<string, string>
    {
        // libtorch's default generator state is a CPU byte tensor whatever device the run uses.
        ["Training/TrainingEngine.cs: rng.bytes"] = "the CPU generator's state is a host tensor",
    };

    public sealed record Finding(string File, int Line, string Expression, string Problem)
    {
        public override string ToString() => $"{File}:{Line}: `{Expression}` {Problem}";
    }

    /// <summary>Problems in one source text; <paramref name="file"/> is its path relative to the project.</summary>
    public static IReadOnlyList<Finding> Scan(string source, string file)
    {
        if (ExemptFiles.ContainsKey(file)) return [];
        var root = CSharpSyntaxTree.ParseText(source).GetRoot();
        var findings = new List<Finding>();
        int LineOf(SyntaxNode n) => n.GetLocation().GetLineSpan().StartLinePosition.Line + 1;
        bool Exempt(SyntaxNode n) => ExemptExpressions.ContainsKey($"{file}: {n}");

        foreach (var call in root.DescendantNodes().OfType<InvocationExpressionSyntax>())
        {
            if (FactoryName(call) is not { } name || Exempt(call)) continue;
            if (!call.ArgumentList.Arguments.Any(a => a.NameColon?.Name.Identifier.Text == "device"))
                findings.Add(new Finding(file, LineOf(call), Shorten(call), $"calls the tensor factory {name} without device:"));
        }
        foreach (var access in root.DescendantNodes().OfType<MemberAccessExpressionSyntax>())
        {
            string member = access.Name.Identifier.Text;
            bool read = member == "bytes" || access.Name is GenericNameSyntax { Identifier.Text: "data" };
            if (!read || Exempt(access) || ComesFromHost(access.Expression)) continue;
            findings.Add(new Finding(file, LineOf(access), Shorten(access), "reads tensor memory without a visible .cpu()"));
        }
        return findings;
    }

    /// <summary>Every source file of src/StepDpo.Torch.</summary>
    public static IReadOnlyList<Finding> ScanEngine()
    {
        string project = EngineFolder();
        return Directory.EnumerateFiles(project, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") &&
                        !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .OrderBy(f => f, StringComparer.Ordinal)
            .SelectMany(f => Scan(File.ReadAllText(f), Path.GetRelativePath(project, f).Replace('\\', '/')))
            .ToList();
    }

    public static string EngineFolder()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "src", "StepDpo.Torch");
            if (File.Exists(Path.Combine(candidate, "StepDpo.Torch.csproj"))) return candidate;
        }
        throw new DirectoryNotFoundException($"src/StepDpo.Torch not found above {AppContext.BaseDirectory}");
    }

    /// <summary>The factory a call names: zeros(...) through `using static torch`, or torch.zeros(...).</summary>
    static string? FactoryName(InvocationExpressionSyntax call) => call.Expression switch
    {
        IdentifierNameSyntax id when Factories.Contains(id.Identifier.Text) => id.Identifier.Text,
        MemberAccessExpressionSyntax { Expression: var receiver, Name: IdentifierNameSyntax id }
            when Factories.Contains(id.Identifier.Text) && receiver.ToString() is "torch" or "TorchSharp.torch" => id.Identifier.Text,
        _ => null,
    };

    /// <summary>x.cpu()..., or a local whose initialiser moved it to (or created it on) the host.</summary>
    static bool ComesFromHost(ExpressionSyntax receiver)
    {
        if (MovesToHost(receiver)) return true;
        if (receiver is not IdentifierNameSyntax id) return false;
        var method = receiver.Ancestors().FirstOrDefault(a => a is BaseMethodDeclarationSyntax or LocalFunctionStatementSyntax
            or AccessorDeclarationSyntax or PropertyDeclarationSyntax);
        return method?.DescendantNodes().OfType<VariableDeclaratorSyntax>()
            .Any(v => v.Identifier.Text == id.Identifier.Text && v.Initializer is { } init && MovesToHost(init.Value)) ?? false;
    }

    static bool MovesToHost(ExpressionSyntax e) => e.DescendantNodesAndSelf().Any(n =>
        n is InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name.Identifier.Text: "cpu" } } ||
        n is ArgumentSyntax { NameColon.Name.Identifier.Text: "device", Expression: var d } && d.ToString() == "CPU");

    static string Shorten(SyntaxNode n)
    {
        string text = string.Join(" ", n.ToString().Split((char[])['\n', '\r'], StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()));
        return text.Length <= 100 ? text : text[..97] + "...";
    }
}
