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
    public const string Host = "127.0.0.1";

    /// <summary>The launch of a managed backend (vllm, sglang) with its own flag names.</summary>
    public static ServerLaunch For(string backend, ServeSection serve, string modelDir, string servedModel, string dtype, int port) =>
        Sampling.GenerationBackend.All[backend] is Sampling.ManagedBackend managed
            ? managed.Launch(serve, modelDir, servedModel, dtype, port)
            : throw new StepDpoException($"backend '{backend}' does not start a server (vllm or sglang do)");

    public static string Text(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

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
