using System.Net;
using System.Net.Sockets;
using StepDpo.Core;
using StepDpo.Core.Manifests;

namespace StepDpo.Stages.Serving;

/// <summary>The command line of a generation server: vLLM's or SGLang's own flags, every value from the manifest.
/// The program itself is configurable (serve.command), so a venv's vllm, a container wrapper, or `stepdpo serve`
/// (which takes vLLM's flags) can stand in.</summary>
public sealed record ServerLaunch(IReadOnlyList<string> Command, IReadOnlyDictionary<string, string> Environment, int Port, string ServedModel)
{
    /// <summary>Whether a backend name means "the stage starts the server".</summary>
    public static bool IsManaged(string backend) => backend is "vllm" or "sglang";

    public const string Host = "127.0.0.1";

    public static ServerLaunch For(string backend, ServeSection serve, string modelDir, string servedModel, string dtype, int port)
    {
        IReadOnlyList<string> head = serve.Command.Count > 0 ? serve.Command : DefaultCommand(backend);
        var args = backend switch
        {
            // vllm serve MODEL --served-model-name ... (vLLM's argument names)
            "vllm" => new List<string>
            {
                modelDir, "--served-model-name", servedModel, "--tensor-parallel-size", Text(serve.TensorParallelSize),
                "--host", Host, "--port", Text(port), "--dtype", dtype,
            },
            // python -m sglang.launch_server --model-path ... (SGLang's names: --tp, --context-length)
            "sglang" => new List<string>
            {
                "--model-path", modelDir, "--served-model-name", servedModel, "--tp", Text(serve.TensorParallelSize),
                "--host", Host, "--port", Text(port), "--dtype", dtype,
            },
            _ => throw new StepDpoException($"backend '{backend}' does not start a server (vllm or sglang do)"),
        };
        if (serve.MaxModelLen is int length) args.AddRange([backend == "vllm" ? "--max-model-len" : "--context-length", Text(length)]);
        args.AddRange(serve.ExtraArgs);
        return new ServerLaunch([.. head, .. args], serve.Env, port, servedModel);
    }

    static string[] DefaultCommand(string backend) => backend == "vllm" ? ["vllm", "serve"] : ["python", "-m", "sglang.launch_server"];

    static string Text(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public Uri BaseUrl => new($"http://{Host}:{Text(Port)}");

    /// <summary>A port free on the loopback interface now (the OS picks it); the server binds it a moment later.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The command as one line for the log (arguments with spaces quoted).</summary>
    public string Display() => string.Join(' ', Command.Select(a => a.Length == 0 || a.Any(char.IsWhiteSpace) ? $"'{a}'" : a));
}
